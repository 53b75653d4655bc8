//! Fresh secrets (tokens, service passwords) from the operating system's random source.

/// `bytes` random bytes as lowercase hex (`2 * bytes` characters).
///
/// # Panics
/// When the operating system has no random source to read, which no supported host lacks.
#[must_use]
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("the operating system's random source");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// Tokens published in OpenStack's shipped files and documentation of the Diablo and Essex era:
/// Diablo keystone's sample data and example paste files (`999888777666`, also in every shipped
/// Diablo glance and nova authtoken section, `887665443383838`, `111222333444`), Essex's
/// keystone.conf and its documentation (`ADMIN`, `secrete`, `secrete_token`,
/// `Super999Sekret888Password777`), the Diablo install guides (`012345SECRET99TOKEN012345`).
pub const SAMPLE_TOKENS: &[&str] = &[
    "999888777666",
    "887665443383838",
    "111222333444",
    "ADMIN",
    "secrete",
    "secrete_token",
    "Super999Sekret888Password777",
    "012345SECRET99TOKEN012345",
];

/// Whether `token` is a published sample value (in any case) or a shipped placeholder such as
/// `%SERVICE_TOKEN%`: anyone can guess it, so it must never be a live admin token.
pub fn is_sample_token(token: &str) -> bool {
    let t = token.trim();
    SAMPLE_TOKENS.iter().any(|s| s.eq_ignore_ascii_case(t)) || (t.len() > 2 && t.starts_with('%') && t.ends_with('%'))
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_of_the_asked_length_and_fresh_each_time() {
        let a = super::random_hex(16);
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(a, super::random_hex(16));
    }

    #[test]
    fn sample_tokens_are_known_in_any_case() {
        for t in ["999888777666", "admin", " ADMIN ", "012345SECRET99TOKEN012345", "%SERVICE_TOKEN%"] {
            assert!(super::is_sample_token(t), "{t}");
        }
        for t in ["ServiceToken-8f3a1c", "99988877766", "", &super::random_hex(20)] {
            assert!(!super::is_sample_token(t), "{t}");
        }
    }
}
