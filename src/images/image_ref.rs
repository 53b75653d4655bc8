//! Glance image references as Nova holds them: a bare id (`"3"`), a full href
//! (`http://glance:9292/v1/images/3`), or empty (boot from volume). Essex wants UUIDs; the href
//! keeps its form with the UUID in place of the id.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageRef<'a> {
    /// `''` or NULL: no image.
    Empty,
    /// An old integer id, bare or as the last element of an href (`prefix` + id + `suffix`).
    Legacy { id: i64, prefix: &'a str, suffix: &'a str },
    /// Already a UUID (bare or href): nothing to do.
    Uuid,
    /// Anything else: kept, and reported.
    Unknown,
}

pub fn parse(value: &str) -> ImageRef<'_> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return ImageRef::Empty;
    }
    // The id is the last path element of an href (a trailing slash allowed), or the whole value.
    let body = value.trim_end_matches('/');
    let start = body.rfind('/').map_or(0, |i| i + 1);
    let last = &body[start..];
    if uuid::Uuid::parse_str(last).is_ok() {
        return ImageRef::Uuid;
    }
    if start > 0 && !body[..start].contains("://") {
        return ImageRef::Unknown;
    }
    match last.parse::<i64>() {
        Ok(id) if !last.starts_with('+') && !last.starts_with('-') => {
            ImageRef::Legacy { id, prefix: &value[..start], suffix: &value[start + last.len()..] }
        }
        _ => ImageRef::Unknown,
    }
}

/// The reference with the UUID in place of the old id, in the same form.
pub fn rewrite(prefix: &str, uuid: &str, suffix: &str) -> String {
    format!("{prefix}{uuid}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_nova_holds() {
        assert_eq!(parse(""), ImageRef::Empty);
        assert_eq!(parse("3"), ImageRef::Legacy { id: 3, prefix: "", suffix: "" });
        let href = "http://glance.example:9292/v1/images/42";
        assert_eq!(parse(href), ImageRef::Legacy { id: 42, prefix: "http://glance.example:9292/v1/images/", suffix: "" });
        assert_eq!(parse("http://g:9292/v1/images/42/"), ImageRef::Legacy { id: 42, prefix: "http://g:9292/v1/images/", suffix: "/" });
        assert_eq!(parse("2b8f1a4e-3c6d-4a4b-9f0e-0c1d2e3f4a5b"), ImageRef::Uuid);
        assert_eq!(parse("http://g/v1/images/2b8f1a4e-3c6d-4a4b-9f0e-0c1d2e3f4a5b"), ImageRef::Uuid);
        assert_eq!(parse("ami-00000003"), ImageRef::Unknown);
        assert_eq!(parse("-3"), ImageRef::Unknown);
        assert_eq!(parse("some/path/3"), ImageRef::Unknown);
    }

    #[test]
    fn rewriting_keeps_the_form() {
        let ImageRef::Legacy { prefix, suffix, .. } = parse("http://g:9292/v1/images/7") else { panic!() };
        assert_eq!(rewrite(prefix, "u-u-i-d", suffix), "http://g:9292/v1/images/u-u-i-d");
    }
}
