//! The whole controller in one workflow: `check` (what is there, what blocks), `plan` (the ordered
//! steps, changing nothing), `migrate` (runs them, journaled in a state directory, locked, resumable
//! after a crash at any point), `verify` (the result against the source), `rollback` (the Diablo
//! configs back; the old databases were never touched).

mod catalog;
mod check;
pub mod discover;
mod journal;
mod plan;
mod rehearsal;
mod startable;
mod steps;
mod verify;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::Result;
use crate::reason::Reason;
use crate::rootfs;
pub use check::{CheckReport, DatabaseState, check};
pub use discover::{Cloud, ServiceDb, discover};
pub use journal::{Journal, Lock};
pub use plan::{PlanReport, PlannedStep, plan};
pub use steps::{MigrateOptions, MigrateReport, Migrated, StepOutcome, migrate};
pub use verify::{VerifyReport, verify};

pub use crate::reason::Severity;

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// How serious it is (as in a migration's findings): blockers stop `migrate`.
    pub severity: Severity,
    pub code: Reason,
    pub message: String,
    /// What to do about it.
    pub fix: String,
    /// For what the migration will report (found by `check`'s rehearsal): the part of the
    /// migration's report it is in (`keystone-db`, `config upgrade glance`, …, the step for a
    /// failure), how many rows or files, and up to ten of them by name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reported_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rows: Vec<String>,
}

impl Check {
    pub fn new(severity: Severity, code: Reason, message: impl Into<String>, fix: impl Into<String>) -> Check {
        debug_assert!(code.allows(severity), "{code} is not reported as {severity} (src/reason.rs)");
        Check { severity, code, message: message.into(), fix: fix.into(), reported_by: None, count: None, rows: Vec::new() }
    }
}

/// Where osmigrate keeps its journal, lock, config backup, image map and generated admin token.
pub fn default_state_dir(root: &Path) -> Result<PathBuf> {
    rootfs::under_root(root, Path::new("/var/lib/osmigrate"))
}

/// Puts the Diablo configs back from the backup, each file atomically (never deleted first, never
/// seen partial); the Diablo databases were never changed, so the services run as before. The
/// journal is cleared first, so that a later migrate starts over.
pub fn rollback(root: &Path, state_dir: &Path) -> Result<Vec<String>> {
    let _lock = Lock::acquire(state_dir)?;
    // The journal first: a rollback cut short leaves no journal that calls the migration finished,
    // so `migrate` redoes the config steps and `verify` reports it; `rollback` again finishes it.
    let mut journal = Journal::open(state_dir)?;
    journal::require_backup(state_dir)?;
    journal.clear()?;
    journal::restore_configs(root, state_dir)
}
