//! Passwords the way Essex stores and checks them: sha512_crypt with 40000 rounds
//! (`keystone.common.utils.hash_password`, `crypt_strength`).

use rayon::prelude::*;

pub const ROUNDS: usize = 40_000;

/// True when the stored value is already a sha512_crypt hash (kept verbatim: never hashed twice).
pub fn is_sha512_crypt(stored: &str) -> bool {
    stored.starts_with("$6$")
}

pub fn hash(plaintext: &str) -> String {
    let params = sha_crypt::Sha512Params::new(ROUNDS).expect("40000 rounds is in range");
    sha_crypt::sha512_simple(plaintext, &params).expect("hashing with a random salt cannot fail")
}

pub fn verify(plaintext: &str, hashed: &str) -> bool {
    sha_crypt::sha512_check(plaintext, hashed).is_ok()
}

/// Hashes many passwords on every core, at the lowest priority; `None` stays `None`, hashes stay
/// as they are.
pub fn essex_form_all(stored: Vec<Option<String>>) -> Vec<Option<String>> {
    let all = || stored.into_par_iter().map(|p| p.map(|p| if is_sha512_crypt(&p) { p } else { hash(&p) })).collect();
    match hashing_threads() {
        Some(pool) => pool.install(all),
        None => all(),
    }
}

/// One thread per core, each at the lowest scheduling priority: hashing is the work Essex asks
/// for, and it yields to the database work it runs beside (Glance's and Nova's migrations, a
/// server on the same host) rather than slowing it; alone, it has every core. `None` when the
/// threads cannot be started (rayon's own then do the work).
fn hashing_threads() -> Option<&'static rayon::ThreadPool> {
    static THREADS: std::sync::OnceLock<Option<rayon::ThreadPool>> = std::sync::OnceLock::new();
    THREADS
        .get_or_init(|| {
            rayon::ThreadPoolBuilder::new()
                .thread_name(|i| format!("hashing-{i}"))
                // On Linux the nice value is a thread's own.
                .start_handler(|_| {
                    let _ = rustix::process::setpriority_process(None, 19);
                })
                .build()
                .ok()
        })
        .as_ref()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashing_threads_run_at_the_lowest_priority() {
        let pool = hashing_threads().expect("threads start");
        assert_eq!(pool.install(|| rustix::process::getpriority_process(None).unwrap()), 19);
    }

    #[test]
    fn hashes_verify_and_are_never_hashed_twice() {
        let h = hash("secrete");
        assert!(h.starts_with("$6$rounds=40000$"), "{h}");
        assert!(verify("secrete", &h));
        assert!(!verify("wrong", &h));
        let out = essex_form_all(vec![Some(h.clone()), Some("plain".into()), None]);
        assert_eq!(out[0].as_deref(), Some(h.as_str()));
        assert!(verify("plain", out[1].as_deref().unwrap()));
        assert_eq!(out[2], None);
    }

    #[test]
    fn verifies_hashes_made_by_passlib() {
        // From the upstream essex-3 fixture: admin / secrete.
        let stored =
            "$6$rounds=40000$hFXlgBSMi599197d$tmGKBpoGHNRsLB3ruK9f1wPvvtfWWuMEUzdqUAynsmmYXBK6eekyNHTzzhwXTM3mWpnaMHCI4mHPOycqmPJJc0";
        assert!(verify("secrete", stored));
    }
}
