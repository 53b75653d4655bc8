//! `check`: what is there and what stands in the way, changing nothing.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::Check;
use super::discover::{self, Cloud, discover};
use super::rehearsal::{self, Rehearsal};
use super::steps::Step;
use crate::config::paste::AuthStrategy;
use crate::config::paste::PasteFile;
use crate::config::upgrade;
use crate::config::write::{self, Ownership};
use crate::db::{Access, Backend, Db, DbUrl};
use crate::error::{Error, Result};
use crate::migrate::Severity;
use crate::reason::Reason;
use crate::rootfs;
use crate::services::glance::source::DiabloGlance;
use crate::services::keystone::legacy::Legacy;

#[derive(Debug, Clone, Serialize)]
pub struct DatabaseState {
    pub service: String,
    pub config: String,
    pub source: String,
    pub release: String,
    pub target: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub root: String,
    pub databases: Vec<DatabaseState>,
    pub findings: Vec<Check>,
    /// Other hosts of the cloud (Nova's `services` table) and what each needs.
    pub hosts: Vec<String>,
}

impl CheckReport {
    fn add(&mut self, severity: Severity, code: Reason, message: impl Into<String>, fix: impl Into<String>) {
        self.findings.push(Check::new(severity, code, message, fix));
    }

    /// Why `migrate` refuses to start, if it does: every blocker (the CLI renders them with the
    /// other findings).
    pub fn blockers(&self) -> Vec<Check> {
        self.findings.iter().filter(|f| f.severity == Severity::Blocker).cloned().collect()
    }
}

fn release_of(service: &str, db: &mut Db) -> Result<String> {
    Ok(match service {
        "keystone" => Legacy::detect(db)?.release(),
        "glance" => DiabloGlance::detect(db)?.release(),
        _ => {
            // Checked first: every later read (the rehearsal, the hosts) needs it.
            if !db.table_names()?.iter().any(|t| t == "instances") {
                return Err(Error::Refused("no `instances` table: not a whole Diablo Nova database".into()));
            }
            let v = db.query_scalar("SELECT version FROM migrate_version WHERE repository_id = 'nova'", &[])?.as_i64();
            match v {
                Some(46) => "Diablo Nova (migrate version 46)".to_string(),
                Some(v) => return Err(Error::Refused(format!("Nova is at migrate version {v}, not Diablo's 46"))),
                None => return Err(Error::Refused("not a versioned Nova database".into())),
            }
        }
    })
}

/// What is there and what stands in the way, changing nothing: [`preconditions`] for a `migrate`
/// without `--create-service-users`.
pub fn check(root: &Path, state_dir: &Path) -> Result<CheckReport> {
    let cloud = discover(root)?;
    preconditions(&cloud, state_dir, false)
}

/// Everything `check` reports; `migrate` runs it first and refuses while a blocker stands. Besides
/// the sources, targets, directories, disk space and auth, the migration itself is rehearsed
/// ([`rehearsal`]): what it would refuse or fail on is a blocker, and what it would report is
/// reported here, with the same codes and counts.
pub(super) fn preconditions(cloud: &Cloud, state_dir: &Path, create_service_users: bool) -> Result<CheckReport> {
    let root = &cloud.root;
    let mut report = CheckReport { root: root.display().to_string(), databases: Vec::new(), findings: Vec::new(), hosts: Vec::new() };
    let mut unusable = Vec::new();
    for s in cloud.services() {
        if let Some(note) = &s.note {
            report.add(Severity::Info, Reason::RelativeSqlitePath, note.clone(), "nothing to do");
        }
        let release = match Db::connect(&s.source, Access::ReadOnly).and_then(|mut db| release_of(s.service, &mut db)) {
            Ok(r) => r,
            Err(e) => {
                report.add(
                    Severity::Blocker,
                    Reason::SourceUnusable,
                    format!("{} database {}: {e}", s.service, s.source),
                    "fix the database or its URL in the config",
                );
                unusable.push(s.service);
                "unknown".to_string()
            }
        };
        if release.contains("unversioned") || release.contains("though stamped") {
            report.add(
                Severity::Warning,
                Reason::GlanceUnversioned,
                format!("{}: {release}", s.source),
                "nothing: osmigrate recognises Glance by its tables",
            );
        }
        report.databases.push(DatabaseState {
            service: s.service.into(),
            config: s.config.display().to_string(),
            source: s.source.to_string(),
            release,
            target: s.target.to_string(),
        });
    }
    for (service, target) in targets(cloud) {
        check_target(&mut report, service, target);
    }
    check_auth(&mut report, cloud)?;
    check_nova(&mut report, cloud)?;
    check_directories(&mut report, cloud, state_dir)?;
    check_disk(&mut report, cloud)?;
    check_ownership(&mut report, root);
    if rustix::process::geteuid().is_root() {
        report.add(
            Severity::Info,
            Reason::RunningAsRoot,
            "running as root",
            "files are written as the service users (nova, glance, keystone)",
        );
    }
    tracing::info!("check: rehearsing the migration's steps into a scratch directory (every source row is read)");
    let rehearsal = rehearsal::rehearse(cloud, state_dir, create_service_users, &unusable)?;
    tracing::info!(failed = rehearsal.failed.len(), "check: rehearsal done");
    add_rehearsal(&mut report, &rehearsal);
    Ok(report)
}

/// The Essex databases migrate builds: each service's, and for a cloud that ran Nova's own auth, the new Keystone.
fn targets(cloud: &Cloud) -> Vec<(&'static str, &DbUrl)> {
    let keystone = match &cloud.keystone {
        Some(k) => Some(&k.target),
        None => (cloud.auth == AuthStrategy::Deprecated).then_some(&cloud.keystone_target),
    };
    keystone.map(|k| ("keystone", k)).into_iter().chain([("glance", &cloud.glance.target), ("nova", &cloud.nova.target)]).collect()
}

/// Keystone or Nova's own auth: a Nova-auth cloud's users, projects and keys go into a new Keystone.
fn check_auth(report: &mut CheckReport, cloud: &Cloud) -> Result<()> {
    match cloud.auth {
        AuthStrategy::Deprecated => {
            // An unusable Nova database is already a blocker of its own; the report still prints.
            let Ok(mut nova) = Db::connect(&cloud.nova.source, Access::ReadOnly) else { return Ok(()) };
            let mut count = |t: &str| -> Result<i64> {
                Ok(nova.query_scalar(&format!("SELECT COUNT(*) FROM {t} WHERE deleted = ?"), &[false.into()])?.as_i64().unwrap_or(0))
            };
            let (users, projects) = (count("users")?, count("projects")?);
            report.add(
                Severity::Info,
                Reason::AuthNova,
                format!("Nova ran its own auth (api-paste pipelines `auth`/`authenticate`): {users} user(s), {projects} project(s)"),
                format!("migrate imports them into the Essex Keystone {} and switches auth_strategy to keystone", cloud.keystone_target),
            );
        }
        AuthStrategy::Keystone => {
            report.add(Severity::Info, Reason::AuthKeystone, "Nova's API authenticated with Keystone", "nothing to do");
        }
        AuthStrategy::NoAuth => report.add(
            Severity::Warning,
            Reason::AuthNone,
            "Nova's API ran without auth",
            "Essex keeps auth_strategy = noauth: put Keystone in front before opening the API",
        ),
    }
    if cloud.keystone.is_none() && cloud.auth != AuthStrategy::Deprecated {
        let conf = rootfs::under_root(&cloud.root, Path::new("/etc/keystone/keystone.conf"))?;
        let diablo = rootfs::under_root(&cloud.root, &discover::diablo_host_file(&cloud.root, Path::new("/etc/keystone/keystone.conf"))?)?;
        if diablo.is_file() && upgrade::is_diablo_keystone(&PasteFile::read(&diablo)?) {
            report.add(
                Severity::Blocker,
                Reason::KeystoneConfWithoutDatabase,
                format!("{} is Diablo's keystone.conf but names no database ([keystone.backends.sqlalchemy] sql_connection)", diablo.display()),
                "set sql_connection there to the Diablo Keystone database (Diablo's own default: sqlite:///keystone.db, in /var/lib/keystone)",
            );
        } else {
            report.add(
                Severity::Blocker,
                Reason::NoKeystone,
                format!("no Diablo keystone.conf ({} is missing), and Nova did not run its own auth", conf.display()),
                "give the tree's etc/keystone/keystone.conf",
            );
        }
    }
    Ok(())
}

/// A target that exists must be empty or osmigrate's own (migrate refuses anything else, after it
/// has stopped the services); a database server target must be one the user can create, unless
/// the operator did.
fn check_target(report: &mut CheckReport, service: &str, target: &DbUrl) {
    if crate::db::sqlite_file_header(target).is_some_and(|h| !h.is_empty() && !h.starts_with(b"SQLite format 3\0")) {
        report.add(
            Severity::Blocker,
            Reason::TargetNotOurs,
            format!("{target}: the new {service} database's file exists and is no SQLite database"),
            Reason::TargetNotOurs.fix(),
        );
        return;
    }
    // A database that exists needs no CREATE right; one that cannot be read here (a killed run's
    // SQLite file with its hot journal) is migrate's to judge.
    if let Ok(tables) = Db::connect(target, Access::ReadOnly).and_then(|mut db| db.table_names()) {
        if let Some(why) = crate::migrate::not_ours(&target.to_string(), &tables) {
            report.add(Severity::Blocker, Reason::TargetNotOurs, why, Reason::TargetNotOurs.fix());
        }
        return;
    }
    // SQLite targets: their directory and disk space are checked with the others'.
    if target.backend == Backend::Sqlite {
        return;
    }
    let probe = target.with_database(&format!("osmigrate_probe_{}", std::process::id()));
    if let Err(e) = Db::create_database_if_missing(&probe).and_then(|_| Db::drop_database_if_exists(&probe)) {
        let name = target.database.as_deref().unwrap_or_default();
        report.add(
            Severity::Blocker,
            Reason::CannotCreateDatabase,
            format!("{}: the database user cannot create the new {service} database {name} ({e})", target.with_database("")),
            format!("create the empty database {name} yourself and grant this user all privileges on it"),
        );
    }
}

/// Every directory migrate writes into: present (a missing `var/lib/SERVICE` means the Essex
/// package is not installed) and writable by this process; the state directory a directory.
fn check_directories(report: &mut CheckReport, cloud: &Cloud, state_dir: &Path) -> Result<()> {
    let root = &cloud.root;
    for (service, target) in targets(cloud) {
        let Some(dir) = target.path.as_deref().filter(|_| target.backend == Backend::Sqlite).and_then(Path::parent) else { continue };
        if dir.is_dir() {
            writable(report, dir, &format!("the new {service} database goes there"));
        } else {
            report.add(
                Severity::Blocker,
                Reason::DirectoryMissing,
                format!("{}: the directory of the new {service} database does not exist", dir.display()),
                format!("install the Essex {service} package first (it makes /var/lib/{service}, owned by {service})"),
            );
        }
    }
    for service in write::SERVICES {
        let dir = rootfs::under_root(root, Path::new(&format!("/etc/{service}")))?;
        writable(report, &dir, &format!("the Essex {service} configs go there"));
    }
    if state_dir.exists() && !state_dir.is_dir() {
        report.add(
            Severity::Blocker,
            Reason::StateDirUnusable,
            format!("{} is not a directory: osmigrate keeps its journal, lock, config backup and image map there", state_dir.display()),
            "move it out of the way, or give --state-dir",
        );
    } else {
        writable(report, state_dir, "osmigrate keeps its journal, lock, config backup and image map there");
    }
    Ok(())
}

/// `dir` (or, when it is still to be made, its nearest existing parent) lets this process create files.
fn writable(report: &mut CheckReport, dir: &Path, why: &str) {
    let existing = dir.ancestors().find(|d| d.exists()).unwrap_or(Path::new("/"));
    let verdict = if existing.is_dir() {
        rustix::fs::access(existing, rustix::fs::Access::WRITE_OK | rustix::fs::Access::EXEC_OK).err().map(|e| e.to_string())
    } else {
        Some("not a directory".to_string())
    };
    if let Some(e) = verdict {
        let shown = if existing == dir { dir.display().to_string() } else { format!("{} (to make {})", existing.display(), dir.display()) };
        report.add(
            Severity::Blocker,
            Reason::NotWritable,
            format!("{shown}: osmigrate cannot write there ({e}); {why}"),
            "make it writable: remount it read-write, clear an immutable flag (chattr -i), or run as a user that may write there",
        );
    }
}

/// A size in the unit that shows it: `240 kB`, `3.4 MB`, `1.2 GB`.
pub(super) fn human_size(bytes: u64) -> String {
    let b = bytes as f64;
    if bytes < 1_000_000 {
        format!("{} kB", bytes.div_ceil(1000))
    } else if bytes < 1_000_000_000 {
        format!("{:.1} MB", b / 1e6)
    } else {
        format!("{:.1} GB", b / 1e9)
    }
}

/// Disk space, from the sources' real sizes: each new SQLite database (twice its source: the
/// Essex copy and its indexes, less what an interrupted run already wrote) and `check`'s scratch
/// copy in `$TMPDIR`, summed per filesystem.
fn check_disk(report: &mut CheckReport, cloud: &Cloud) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    // Filesystem → (a directory on it, bytes needed, what needs them).
    let mut filesystems: Vec<(u64, PathBuf, u64, Vec<String>)> = Vec::new();
    let mut need = |dir: &Path, bytes: u64, what: String| {
        let Some(existing) = dir.ancestors().find(|d| d.is_dir()) else { return };
        let Ok(dev) = std::fs::metadata(existing).map(|m| m.dev()) else { return };
        match filesystems.iter_mut().find(|f| f.0 == dev) {
            Some(f) => {
                f.2 += bytes;
                f.3.push(what);
            }
            None => filesystems.push((dev, existing.to_path_buf(), bytes, vec![what])),
        }
    };
    let scratch = std::env::temp_dir();
    for s in cloud.services() {
        let Ok(size) = crate::db::database_size(&s.source) else { continue }; // an unusable source is a blocker of its own
        let size = size.saturating_mul(2);
        need(&scratch, size, format!("check's scratch {} database {}", s.service, human_size(size)));
        if let Some(path) = s.target.path.as_deref().filter(|_| s.target.backend == Backend::Sqlite) {
            let written = std::fs::metadata(path).map_or(0, |m| m.len());
            let size = size.saturating_sub(written);
            need(path.parent().unwrap_or(Path::new("/")), size, format!("the new {} database {}", s.service, human_size(size)));
        }
    }
    for (_, dir, bytes, what) in filesystems {
        let Some(free) = free_bytes(&dir) else { continue };
        let message = format!("{}: needs about {}, {} free ({})", dir.display(), human_size(bytes), human_size(free), what.join(", "));
        if free < bytes {
            report.add(Severity::Blocker, Reason::DiskSpace, message, "free disk space there (check's scratch copy follows $TMPDIR)");
        } else {
            report.add(Severity::Info, Reason::DiskSpace, message, "nothing to do");
        }
    }
    Ok(())
}

fn free_bytes(dir: &Path) -> Option<u64> {
    let st = rustix::fs::statvfs(dir).ok()?;
    Some(st.f_bavail * st.f_frsize)
}

fn check_nova(report: &mut CheckReport, cloud: &Cloud) -> Result<()> {
    let Ok(mut nova) = Db::connect(&cloud.nova.source, Access::ReadOnly) else { return Ok(()) };
    if !nova.table_names()?.iter().any(|t| t == "services") {
        return Ok(());
    }
    let binary = nova.quote("binary");
    for r in nova.query(&format!("SELECT DISTINCT host, {binary} FROM services WHERE deleted = ? ORDER BY host"), &[false.into()])? {
        let host = r.get("host").key_string().unwrap_or_default();
        let binary = r.get("binary").key_string().unwrap_or_default();
        let needs = match binary.as_str() {
            "nova-compute" => "Essex nova-compute, the converted nova.conf, api-paste.ini and policy.json",
            "nova-network" | "nova-volume" => "the Essex package and the converted nova.conf",
            _ => "the Essex package and the converted nova.conf (on the controller: done by osmigrate)",
        };
        report.hosts.push(format!("{host}: {binary} — needs {needs}"));
    }
    Ok(())
}

fn check_ownership(report: &mut CheckReport, root: &Path) {
    use std::os::unix::fs::MetadataExt;
    for svc in ["nova", "glance", "keystone"] {
        let Ok(dir) = rootfs::under_root(root, Path::new(&format!("/var/log/{svc}"))) else { continue };
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        let mut root_owned: Vec<String> =
            entries.flatten().filter(|e| e.metadata().is_ok_and(|m| m.uid() == 0)).map(|e| e.path().display().to_string()).collect();
        root_owned.sort();
        if !root_owned.is_empty() && !rustix::process::geteuid().is_root() {
            continue; // only root can have made them root's, and only root can repair them
        }
        if !root_owned.is_empty() && Ownership::new(root).ok().and_then(|o| o.account(svc).ok().flatten()).is_some() {
            let mut c = Check::new(
                Severity::Warning,
                Reason::RootOwnedLogs,
                format!("{} file(s) in {} belong to root: {svc} cannot write its logs", root_owned.len(), dir.display()),
                "run `osmigrate config fix-ownership`",
            );
            c.count = Some(root_owned.len() as u64);
            c.rows = root_owned.into_iter().take(10).collect();
            report.findings.push(c);
        }
    }
}

/// The rehearsal's findings: each failed step a blocker, each finding of the databases' reports
/// and each warning of the configs' as the migration will report it.
fn add_rehearsal(report: &mut CheckReport, r: &Rehearsal) {
    for (step, e) in &r.failed {
        let mut c =
            Check::new(Severity::Blocker, failure_reason(*step), format!("{}: {}", step.name(), r.real(&e.to_string())), fix_for_error(e));
        c.reported_by = Some(step.name().into());
        report.findings.push(c);
    }
    report.findings.extend(r.directories.iter().cloned());
    for (step, why) in &r.skipped {
        report.add(
            Severity::Info,
            Reason::NotRehearsed,
            format!("{}: not rehearsed, {why}", step.name()),
            "fix that first, then check again",
        );
    }
    for db in &r.report.databases {
        let step = format!("{}-db", db.service);
        for f in &db.findings {
            let severity = if f.severity == Severity::Warning { Severity::Warning } else { Severity::Info };
            let mut c = Check::new(severity, f.code, format!("{} {}: {}", db.service, f.table, r.real(&f.message)), f.code.fix());
            c.reported_by = Some(step.clone());
            c.count = Some(f.count);
            c.rows = f.rows.iter().map(|row| r.real(row)).collect();
            report.findings.push(c);
        }
    }
    for config in &r.report.configs {
        for change in config.changes.iter().filter(|c| c.severity == Severity::Warning) {
            let setting = if change.setting.is_empty() { String::new() } else { format!(" {}", change.setting) };
            let mut c = Check::new(
                Severity::Warning,
                change.code,
                format!("{}{setting}: {}", r.real(&change.file), r.real(&change.message)),
                change.code.fix(),
            );
            c.reported_by = Some(config.command.clone());
            c.count = Some(1);
            report.findings.push(c);
        }
    }
}

/// The reason code of a rehearsed step's failure.
fn failure_reason(step: Step) -> Reason {
    match step {
        Step::KeystoneDb => Reason::KeystoneDbFails,
        Step::NovaAuthDb => Reason::NovaAuthDbFails,
        Step::ServiceUsers => Reason::ServiceUsersFails,
        Step::GlanceDb => Reason::GlanceDbFails,
        Step::NovaDb => Reason::NovaDbFails,
        Step::KeystoneConfig => Reason::KeystoneConfigFails,
        Step::GlanceConfig => Reason::GlanceConfigFails,
        Step::NovaConfig | Step::StopServices | Step::BackupConfigs | Step::StartServices => Reason::NovaConfigFails,
    }
}

/// What to do about a rehearsed step's failure.
fn fix_for_error(e: &Error) -> String {
    match e {
        Error::BadData { .. } => "repair the named row in the Diablo database (osmigrate never changes a source), then check again".into(),
        Error::Database { .. } | Error::Connect { .. } => {
            "repair the database (a SQLite file: `sqlite3 FILE .recover`, or restore it from a backup), then check again".into()
        }
        Error::Io { .. } => "fix the named file or directory, then check again".into(),
        _ => "fix what the message names, then check again".into(),
    }
}
