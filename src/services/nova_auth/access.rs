//! EC2 access strings as Diablo's clients send them, and the identity rule for names the target
//! already holds.
//!
//! Diablo (`nova/auth/manager.py`, `authenticate`) split the access string at its first `:` into
//! the user's access key and a project id; with no project it used the project whose id is the
//! user's name (a user's name is its id). Essex looks the whole string up verbatim in
//! `ec2_credential.access`, so each string a client may send becomes one credential.

use crate::redact::secret as redact_secret;

/// One EC2 credential to write: the access string a client sends and the tenant it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessString {
    pub access: String,
    pub tenant: String,
}

/// The access strings of a user with access key `key`, member of `projects` (live ones, by id):
/// `KEY:project` for each, and `KEY` alone when one of them has the user's id.
pub fn access_strings(user_id: &str, key: &str, projects: &[String]) -> Vec<AccessString> {
    let mut out: Vec<AccessString> = projects.iter().map(|p| AccessString { access: format!("{key}:{p}"), tenant: p.clone() }).collect();
    if projects.iter().any(|p| p == user_id) {
        out.push(AccessString { access: key.to_string(), tenant: user_id.to_string() });
    }
    out
}

/// An access string for messages: the key part redacted, the project kept.
pub fn shown(access: &str) -> String {
    match access.split_once(':') {
        Some((key, project)) => format!("{}:{project}", redact_secret(key)),
        None => redact_secret(access),
    }
}

/// Whether an existing credential carries Nova access key `key`: alone, as `KEY:project` (the
/// form Diablo clients send), or as `prefix:KEY` (upstream's import).
pub fn carries_key(existing_access: &str, key: &str) -> bool {
    existing_access == key
        || existing_access.strip_prefix(key).is_some_and(|rest| rest.starts_with(':'))
        || existing_access.strip_suffix(key).is_some_and(|rest| rest.ends_with(':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_string_per_project_and_the_bare_key_for_the_users_own_project() {
        let got = access_strings("alice", "AK", &["alice".into(), "ops".into()]);
        let access: Vec<&str> = got.iter().map(|a| a.access.as_str()).collect();
        assert_eq!(access, ["AK:alice", "AK:ops", "AK"]);
        assert_eq!(got[2].tenant, "alice");
        assert!(access_strings("bob", "BK", &["ops".into()]).iter().all(|a| a.access != "BK"));
        assert!(access_strings("bob", "BK", &[]).is_empty());
    }

    #[test]
    fn shown_strings_hide_the_key_and_keep_the_project() {
        assert_eq!(shown("0123456789abcdef:demo"), "****cdef:demo");
        assert_eq!(shown("0123456789abcdef"), "****cdef");
    }

    #[test]
    fn existing_credentials_carry_a_key_alone_or_beside_a_colon() {
        assert!(carries_key("AK", "AK"));
        assert!(carries_key("AK:demo", "AK"));
        assert!(carries_key("0f1e2d:AK", "AK"));
        assert!(!carries_key("AKX", "AK"));
        assert!(!carries_key("XAK", "AK"));
        assert!(!carries_key("AKX:demo", "AK"));
    }
}
