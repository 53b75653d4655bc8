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

#[cfg(test)]
mod tests {
    #[test]
    fn hex_of_the_asked_length_and_fresh_each_time() {
        let a = super::random_hex(16);
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(a, super::random_hex(16));
    }
}
