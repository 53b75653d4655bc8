//! What an image's `location` says, for the report. Locations are never changed: Diablo's file
//! and swift stores named the data after the integer id, and Essex reads through `location`.

/// Stores Essex Glance can read (glance/store/*.py@2012.1).
const KNOWN_SCHEMES: &[&str] = &["file", "http", "https", "swift", "swift+http", "swift+https", "s3", "s3+http", "s3+https", "rbd"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// No location (a queued or killed image).
    None,
    /// A known store, and the last path element is the old integer id.
    NamesOldId(String),
    /// A known store, named otherwise.
    Other(String),
    /// No `scheme://` at all.
    NoScheme,
    UnknownStore(String),
}

/// Classifies a location. Only the scheme is ever returned: swift locations carry credentials.
pub fn classify(location: Option<&str>, old_id: i64) -> Location {
    let Some(loc) = location.map(str::trim).filter(|l| !l.is_empty()) else {
        return Location::None;
    };
    let Some((scheme, rest)) = loc.split_once("://") else {
        return Location::NoScheme;
    };
    let scheme = scheme.to_ascii_lowercase();
    if !KNOWN_SCHEMES.contains(&scheme.as_str()) {
        return Location::UnknownStore(scheme);
    }
    let last = rest.trim_end_matches('/').rsplit('/').next().unwrap_or("");
    if last == old_id.to_string() { Location::NamesOldId(scheme) } else { Location::Other(scheme) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_stores_without_exposing_credentials() {
        assert_eq!(classify(Some("file:///var/lib/glance/images/7"), 7), Location::NamesOldId("file".into()));
        assert_eq!(classify(Some("swift+http://acct:s3cret@auth/v1.0/glance/7"), 7), Location::NamesOldId("swift+http".into()));
        assert_eq!(classify(Some("http://example.com/cirros.img"), 7), Location::Other("http".into()));
        assert_eq!(classify(Some("/var/lib/glance/images/7"), 7), Location::NoScheme);
        assert_eq!(classify(Some("ftp://host/7"), 7), Location::UnknownStore("ftp".into()));
        assert_eq!(classify(None, 7), Location::None);
        assert_eq!(classify(Some("  "), 7), Location::None);
    }
}
