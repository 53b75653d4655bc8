//! `check`'s rehearsal of the migration: the steps that build the Essex databases and files, run
//! by the code `migrate` runs ([`Run::step`]), reading the controller's sources and configs but
//! writing into a private scratch directory (0700, in `$TMPDIR`, removed afterwards): SQLite
//! databases standing in for the targets (names compared as the real targets' backends compare
//! them), the configs, the catalog and the image map. What the migration would refuse, fail on or
//! report is found there first, so `check`'s findings and `migrate`'s report cannot disagree.
//! Failpoints are off while it runs. A scratch directory a killed check left behind is removed by
//! the next check.

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use super::Check;
use super::discover::Cloud;
use super::steps::{Dest, MigrateOptions, MigrateReport, Run, Step};
use crate::config::write::{self, Ownership};
use crate::db::{Backend, DbUrl};
use crate::error::{Error, Result};
use crate::migrate::NoProgress;
use crate::rootfs;

/// What the rehearsal found.
pub(super) struct Rehearsal {
    /// What the steps that ran reported, as the migration's report.
    pub report: MigrateReport,
    /// The steps that failed, with the error `migrate` would stop at.
    pub failed: Vec<(Step, Error)>,
    /// Steps not rehearsed, and why.
    pub skipped: Vec<(Step, String)>,
    /// What `verify` would find about the directories the rendered configs name.
    pub directories: Vec<Check>,
    /// Scratch paths → the controller's paths, for messages.
    renames: Vec<(String, String)>,
}

impl Rehearsal {
    /// `text` naming the controller's files rather than their scratch stand-ins.
    pub fn real(&self, text: &str) -> String {
        self.renames.iter().fold(text.to_string(), |t, (from, to)| t.replace(from, to))
    }
}

/// The scratch directory, removed when dropped.
struct Scratch(PathBuf);

const SCRATCH_PREFIX: &str = "osmigrate-check-";

impl Scratch {
    /// A new scratch directory; the ones a killed check left (their process gone) are removed first.
    fn new() -> Result<Scratch> {
        let tmp = std::env::temp_dir();
        if let Ok(entries) = std::fs::read_dir(&tmp) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let Some(pid) = name.strip_prefix(SCRATCH_PREFIX).and_then(|r| r.split('-').next()).and_then(|p| p.parse::<i32>().ok())
                else {
                    continue;
                };
                let gone = rustix::process::Pid::from_raw(pid)
                    .is_some_and(|p| rustix::process::test_kill_process(p) == Err(rustix::io::Errno::SRCH));
                if gone && e.metadata().is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == rustix::process::geteuid().as_raw()) {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        let dir = tmp.join(format!("{SCRATCH_PREFIX}{}-{}", std::process::id(), crate::secret::random_hex(6)));
        std::fs::DirBuilder::new().mode(0o700).create(&dir).map_err(|e| Error::io(&dir, e))?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The scratch stand-in of a target: a SQLite target at the same path under the scratch copy of
/// the root, any other one as a SQLite file of its own.
fn stand_in(cloud: &Cloud, real: &DbUrl, scratch: &Path, service: &str) -> Result<DbUrl> {
    let under_root = real.path.as_deref().filter(|_| real.backend == Backend::Sqlite).and_then(|p| p.strip_prefix(&cloud.root).ok());
    let path = match under_root {
        Some(rel) => scratch.join("root").join(rel),
        None => scratch.join("db").join(format!("{service}.sqlite")),
    };
    let dir = path.parent().unwrap_or(scratch);
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    Ok(DbUrl::sqlite(&path))
}

/// Rehearses every step that builds something, except those of `unusable` sources (they are
/// blockers of their own) and those needing a step that failed.
pub(super) fn rehearse(cloud: &Cloud, state_dir: &Path, create_service_users: bool, unusable: &[&str]) -> Result<Rehearsal> {
    let scratch = Scratch::new()?;
    let base = scratch.0.join("root");
    let scratch_state = scratch.0.join("state");
    // The scratch copy of the root has the config directories the root has (the steps write
    // into them as they find them).
    let config_dirs = write::SERVICES
        .iter()
        .map(|s| format!("etc/{s}"))
        .filter(|d| rootfs::under_root(&cloud.root, &Path::new("/").join(d)).is_ok_and(|p| p.is_dir()))
        .map(|d| base.join(d));
    for d in config_dirs.chain([base.clone(), scratch_state.clone()]) {
        std::fs::create_dir_all(&d).map_err(|e| Error::io(&d, e))?;
    }
    let dest = Dest {
        base: base.clone(),
        state_dir: scratch_state.clone(),
        keystone: stand_in(cloud, &cloud.keystone_target, &scratch.0, "keystone")?,
        glance: stand_in(cloud, &cloud.glance.target, &scratch.0, "glance")?,
        nova: stand_in(cloud, &cloud.nova.target, &scratch.0, "nova")?,
    };
    let root = cloud.root.display().to_string();
    let renames = vec![
        (base.display().to_string(), root.trim_end_matches('/').to_string()),
        (scratch_state.display().to_string(), state_dir.display().to_string()),
    ];
    let owners = Ownership::new(&cloud.root)?;
    // The services are not the rehearsal's (its steps that touch them are not run).
    let opts = MigrateOptions { root: cloud.root.clone(), state_dir: scratch_state.clone(), services: false, create_service_users };
    let run = Run { cloud, opts: &opts, dest: &dest, owners: &owners, progress: &NoProgress };
    let mut report = MigrateReport::new(root);
    let mut failed: Vec<(Step, Error)> = Vec::new();
    let mut skipped: Vec<(Step, String)> = Vec::new();
    crate::failpoint::paused(|| {
        for step in Step::ALL.into_iter().filter(|s| s.builds()) {
            let source = match step {
                Step::KeystoneDb => Some("keystone"),
                Step::GlanceDb => Some("glance"),
                Step::NovaDb | Step::NovaAuthDb => Some("nova"),
                _ => None,
            };
            let blocked = step.needs().iter().find(|n| failed.iter().any(|(f, _)| f == *n) || skipped.iter().any(|(s, _)| s == *n));
            if let Some(need) = blocked {
                skipped.push((step, format!("{} could not be rehearsed", need.name())));
            } else if let Some(service) = source.filter(|s| unusable.contains(s)) {
                skipped.push((step, format!("the {service} database is unusable")));
            } else if let Err(e) = run.step(step, &mut report) {
                failed.push((step, e));
            }
        }
    });
    let mut directories = Vec::new();
    super::startable::foresee_directories(&cloud.root, &base, &mut directories)?;
    Ok(Rehearsal { report, failed, skipped, directories, renames })
}
