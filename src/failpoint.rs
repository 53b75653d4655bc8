//! Crash points for testing the promise that a run killed anywhere finishes on the next run:
//! with `OSMIGRATE_FAILPOINT=NAME` set, the process aborts (as a kill -9 would stop it) when it
//! reaches the point called NAME. Unset, a point costs one environment lookup.

/// Aborts the process if `OSMIGRATE_FAILPOINT` names this point.
pub fn hit(name: &str) {
    if std::env::var_os("OSMIGRATE_FAILPOINT").is_some_and(|v| v == name) {
        eprintln!("osmigrate: failpoint {name} reached, aborting");
        std::process::abort();
    }
}
