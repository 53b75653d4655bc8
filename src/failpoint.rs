//! Crash points for testing the promise that a run killed anywhere finishes on the next run:
//! with `OSMIGRATE_FAILPOINT=NAME` set, the process aborts (as a kill -9 would stop it) when it
//! reaches the point called NAME. Unset, a point costs one environment lookup.

use std::sync::atomic::{AtomicBool, Ordering};

/// Set while `check` rehearses the migration: its points are not the migration's.
static PAUSED: AtomicBool = AtomicBool::new(false);

/// Aborts the process if `OSMIGRATE_FAILPOINT` names this point.
pub fn hit(name: &str) {
    if !PAUSED.load(Ordering::SeqCst) && std::env::var_os("OSMIGRATE_FAILPOINT").is_some_and(|v| v == name) {
        eprintln!("osmigrate: failpoint {name} reached, aborting");
        std::process::abort();
    }
}

/// Runs `f` with every point off (a rehearsal into scratch databases passes the same points).
pub fn paused<T>(f: impl FnOnce() -> T) -> T {
    let was = PAUSED.swap(true, Ordering::SeqCst);
    let out = f();
    PAUSED.store(was, Ordering::SeqCst);
    out
}
