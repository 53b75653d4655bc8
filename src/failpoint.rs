//! Crash points for testing the promise that a run killed anywhere finishes on the next run:
//! with `OSMIGRATE_FAILPOINT=NAME` set, the process aborts (as a kill -9 would stop it) when it
//! reaches the point called NAME. With `OSMIGRATE_FAILPOINT_PAUSE` also set, it says so on stderr
//! and waits there instead, so that a test can kill it with a real SIGKILL at exactly that point
//! (it aborts after a minute if nobody does). Unset, a point costs one environment lookup.

use std::sync::atomic::{AtomicBool, Ordering};

/// The line a paused process writes to stderr (followed by the point's name).
pub const PAUSED: &str = "osmigrate: paused at failpoint ";

/// Set while `check` rehearses the migration: its points are not the migration's.
static OFF: AtomicBool = AtomicBool::new(false);

/// Aborts (or pauses) the process if `OSMIGRATE_FAILPOINT` names this point.
pub fn hit(name: &str) {
    if !OFF.load(Ordering::SeqCst) && std::env::var_os("OSMIGRATE_FAILPOINT").is_some_and(|v| v == name) {
        if std::env::var_os("OSMIGRATE_FAILPOINT_PAUSE").is_some() {
            eprintln!("{PAUSED}{name}");
            std::thread::sleep(std::time::Duration::from_secs(60));
        }
        eprintln!("osmigrate: failpoint {name} reached, aborting");
        std::process::abort();
    }
}

/// Runs `f` with every point off (a rehearsal into scratch databases passes the same points).
pub fn paused<T>(f: impl FnOnce() -> T) -> T {
    let was = OFF.swap(true, Ordering::SeqCst);
    let out = f();
    OFF.store(was, Ordering::SeqCst);
    out
}
