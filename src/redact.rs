//! How a secret is hidden wherever it could reach output (reports, errors, logs, `Debug`): the one
//! module that knows the mask and the forms secrets take in text. Which values are secrets is
//! decided by their owners (`DbUrl`'s password, a config setting, an HTTP client's token).

/// What stands in for a secret.
pub const MASK: &str = "****";

/// A secret shown as [`MASK`] and at most its last four characters (none when it is short), so
/// that an operator can tell tokens and keys apart without reading them.
pub fn secret(secret: &str) -> String {
    let n = secret.chars().count();
    if n <= 8 { MASK.to_string() } else { format!("{MASK}{}", secret.chars().skip(n - 4).collect::<String>()) }
}

/// The password of a URL that could not be parsed hidden, for error messages: whatever follows
/// the user's `:` up to the last `@`, with or without a scheme before it (`root:pw@db/nova`,
/// `mysql//nova:pw@db`); a user alone before `@` may be masked with it, never a password shown.
pub fn url_text(raw: &str) -> String {
    let Some(at) = raw.rfind('@') else { return raw.to_string() };
    let head = &raw[..at];
    // Past `scheme://`, or past `scheme:` when a `:` still follows (`mysql:nova:pw@db`).
    let start = match head.find("://") {
        Some(i) => i + 3,
        None => match head.find(':') {
            Some(i) if head[i + 1..].contains(':') => i + 1,
            _ => 0,
        },
    };
    match head[start..].find(':') {
        Some(colon) => format!("{}:{MASK}{}", &raw[..start + colon], &raw[at..]),
        None => raw.to_string(),
    }
}

/// Text from elsewhere (an HTTP answer) with every known secret of at least three characters and
/// every sha512_crypt hash (`$6$…`) masked.
pub fn in_text<'a>(text: &str, secrets: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = text.to_string();
    for s in secrets {
        if s.len() >= 3 {
            out = out.replace(s, MASK);
        }
    }
    let mut masked = String::with_capacity(out.len());
    let mut rest = out.as_str();
    while let Some(i) = rest.find("$6$") {
        masked.push_str(&rest[..i]);
        masked.push_str(MASK);
        let after = &rest[i..];
        let end = after.find(|c: char| !(c.is_ascii_alphanumeric() || "./$=".contains(c))).unwrap_or(after.len());
        rest = &after[end..];
    }
    masked.push_str(rest);
    masked
}

/// A server's message with every value it quotes masked: the text between single or double
/// quotes (an unclosed quote: to the end) unless `keep` says it is a name (a table, column or
/// key), and the values PostgreSQL shows in parentheses (`Key (id)=(…) already exists`, `Failing
/// row contains (…)`). What it cannot tell from a name is masked, so that a message form never
/// seen before still shows no value.
pub fn quoted_values(text: &str, keep: impl Fn(&str) -> bool) -> String {
    const ROW_VALUES: [&str; 2] = ["=(", "contains ("];
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let quote = rest.find(['\'', '"']);
        let values = ROW_VALUES.iter().filter_map(|m| rest.find(m).map(|i| (i, m.len()))).min();
        match (quote, values) {
            (_, Some((i, len))) if quote.is_none_or(|q| i < q) => {
                out.push_str(&rest[..i + len]);
                out.push_str(MASK);
                let inside = &rest[i + len..];
                let line = &inside[..inside.find('\n').unwrap_or(inside.len())];
                let end = [") already exists", ") is not present", ") conflicts"]
                    .iter()
                    .filter_map(|s| line.find(s))
                    .min()
                    .or_else(|| line.rfind(')'))
                    .unwrap_or(line.len());
                rest = &inside[end..];
            }
            (Some(i), _) => {
                let mark = rest[i..].chars().next().expect("found above");
                out.push_str(&rest[..=i]);
                let inner = &rest[i + 1..];
                let (quoted, after, closed) = match inner.find(mark) {
                    Some(end) => (&inner[..end], &inner[end + 1..], true),
                    None => (inner, "", false),
                };
                out.push_str(if keep(quoted) { quoted } else { MASK });
                if closed {
                    out.push(mark);
                }
                rest = after;
            }
            (None, _) => break,
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_keep_at_most_four_characters() {
        assert_eq!(secret("999888777666"), "****7666");
        assert_eq!(secret("secrete"), "****");
    }

    #[test]
    fn unparsable_urls_lose_their_password() {
        assert_eq!(url_text("mysql://nova:s3cret@db/nova?x"), "mysql://nova:****@db/nova?x");
        assert_eq!(url_text("mysql:nova:p@ss@host"), "mysql:nova:****@host");
        assert_eq!(url_text("no url at all"), "no url at all");
        assert_eq!(url_text("root:s3cret@db/nova"), "root:****@db/nova");
        assert_eq!(url_text("mysql//nova:s3cret@db/nova"), "mysql//nova:****@db/nova");
        assert_eq!(url_text("mysql:root:pw@db/glance"), "mysql:root:****@db/glance");
        assert_eq!(url_text("mysql://nova@db/nova"), "mysql://nova@db/nova");
    }

    #[test]
    fn known_secrets_and_hashes_are_masked_in_text() {
        let t = in_text("pw pa55word hash $6$rounds=40000$abc$xyz/. end ab", ["pa55word", "ab"]);
        assert_eq!(t, "pw **** hash **** end ab");
    }

    #[test]
    fn quoted_values_are_masked_and_names_kept() {
        let keep = |s: &str| ["PRIMARY", "token_pkey"].contains(&s);
        assert_eq!(
            quoted_values("Warning 1062: Duplicate entry 'live00ab' for key 'PRIMARY'", keep),
            "Warning 1062: Duplicate entry '****' for key 'PRIMARY'"
        );
        assert_eq!(
            quoted_values("ERROR: duplicate key value violates unique constraint \"token_pkey\" (Key (id)=(a)b) already exists.)", keep),
            "ERROR: duplicate key value violates unique constraint \"token_pkey\" (Key (id)=(****) already exists.)"
        );
        assert_eq!(
            quoted_values("Incorrect string value: '\\xF0\\x9F' for column 'id' at row 1", keep),
            "Incorrect string value: '****' for column '****' at row 1"
        );
        assert_eq!(quoted_values("unclosed 'secret to the end", keep), "unclosed '****");
        assert_eq!(quoted_values("a = b, nothing quoted", keep), "a = b, nothing quoted");
        assert_eq!(
            quoted_values(
                "ERROR: null value in column \"expires\" violates not-null constraint (Failing row contains (tok, null).)",
                |s| s == "expires"
            ),
            "ERROR: null value in column \"expires\" violates not-null constraint (Failing row contains (****)"
        );
    }
}
