//! `check`: what is there and what stands in the way, changing nothing.

use std::path::Path;

use serde::Serialize;

use super::discover::{self, Cloud, ServiceDb, discover};
use super::{Check, Level};
use crate::config::write::Ownership;
use crate::db::{Access, Backend, Db};
use crate::error::{Error, Result};
use crate::rootfs;
use crate::services::glance::source::DiabloGlance;
use crate::services::keystone::{self, KeystoneOptions, legacy::Legacy};
use crate::services::nova;

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
    /// 0 clean, 1 warnings, 2 blockers.
    pub fn exit_status(&self) -> i32 {
        match self.findings.iter().map(|f| f.level).max() {
            Some(Level::Blocker) => 2,
            Some(Level::Warning) => 1,
            _ => 0,
        }
    }

    fn add(&mut self, level: Level, code: &str, message: impl Into<String>, fix: impl Into<String>) {
        self.findings.push(Check { level, code: code.into(), message: message.into(), fix: fix.into() });
    }
}

fn release_of(service: &str, db: &mut Db) -> Result<String> {
    Ok(match service {
        "keystone" => Legacy::detect(db)?.release(),
        "glance" => DiabloGlance::detect(db)?.release(),
        _ => {
            let v = db.query_scalar("SELECT version FROM migrate_version WHERE repository_id = 'nova'", &[])?.as_i64();
            match v {
                Some(46) => "Diablo Nova (migrate version 46)".to_string(),
                Some(v) => return Err(Error::Refused(format!("Nova is at migrate version {v}, not Diablo's 46"))),
                None => return Err(Error::Refused("not a versioned Nova database".into())),
            }
        }
    })
}

/// What is there and what stands in the way, changing nothing.
pub fn check(root: &Path) -> Result<CheckReport> {
    let cloud = discover(root)?;
    let mut report = CheckReport { root: root.display().to_string(), databases: Vec::new(), findings: Vec::new(), hosts: Vec::new() };
    for s in cloud.services() {
        if let Some(note) = &s.note {
            report.add(Level::Info, "relative_sqlite_path", note.clone(), "nothing to do");
        }
        let release = match Db::connect(&s.source, Access::ReadOnly).and_then(|mut db| release_of(s.service, &mut db)) {
            Ok(r) => r,
            Err(e) => {
                report.add(
                    Level::Blocker,
                    "source_unusable",
                    format!("{} database {}: {e}", s.service, s.source),
                    "fix the database or its URL in the config",
                );
                "unknown".to_string()
            }
        };
        if release.contains("unversioned") || release.contains("though stamped") {
            report.add(
                Level::Warning,
                "glance_unversioned",
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
        check_target(&mut report, s)?;
    }
    // What the Keystone import would refuse (values too long for Essex, names that collide there).
    if let Some(k) = &cloud.keystone {
        let usable = report.databases.first().is_some_and(|d| d.release != "unknown");
        if usable {
            if let Err(e) = keystone::check(&k.source, k.target.backend, &KeystoneOptions::default()) {
                report.add(Level::Blocker, "keystone_import_refused", e.to_string(), "fix the named rows in the Diablo Keystone database");
            }
        }
    }
    check_auth(&mut report, &cloud)?;
    check_nova(&mut report, &cloud)?;
    check_ownership(&mut report, root);
    // SAFETY: geteuid has no preconditions.
    if rustix::process::geteuid().is_root() {
        report.add(Level::Info, "running_as_root", "running as root", "files are written as the service users (nova, glance, keystone)");
    }
    Ok(report)
}

/// Keystone or Nova's own auth: a Nova-auth cloud's users, projects and keys go into a new Keystone.
fn check_auth(report: &mut CheckReport, cloud: &Cloud) -> Result<()> {
    match cloud.auth {
        discover::Auth::Nova => {
            // An unusable Nova database is already a blocker of its own; the report still prints.
            let Ok(mut nova) = Db::connect(&cloud.nova.source, Access::ReadOnly) else { return Ok(()) };
            let mut count = |t: &str| -> Result<i64> {
                Ok(nova.query_scalar(&format!("SELECT COUNT(*) FROM {t} WHERE deleted = ?"), &[false.into()])?.as_i64().unwrap_or(0))
            };
            let (users, projects) = (count("users")?, count("projects")?);
            report.add(
                Level::Info,
                "auth_nova",
                format!("Nova ran its own auth (api-paste pipelines `auth`/`authenticate`): {users} user(s), {projects} project(s)"),
                format!("migrate imports them into the Essex Keystone {} and switches auth_strategy to keystone", cloud.keystone_target),
            );
        }
        discover::Auth::Keystone => report.add(Level::Info, "auth_keystone", "Nova's API authenticated with Keystone", "nothing to do"),
        discover::Auth::None => report.add(
            Level::Warning,
            "auth_none",
            "Nova's API ran without auth",
            "Essex keeps auth_strategy = noauth: put Keystone in front before opening the API",
        ),
    }
    if cloud.keystone.is_none() && cloud.auth != discover::Auth::Nova {
        report.add(
            Level::Blocker,
            "no_keystone",
            "no Diablo keystone.conf, and Nova did not run its own auth",
            "give the tree's etc/keystone/keystone.conf",
        );
    }
    Ok(())
}

fn check_target(report: &mut CheckReport, s: &ServiceDb) -> Result<()> {
    if s.target.backend == Backend::Sqlite {
        let path = s.target.path.clone().unwrap_or_default();
        let dir = path.parent().unwrap_or(Path::new("/")).to_path_buf();
        let need = s.source.path.as_ref().and_then(|p| std::fs::metadata(p).ok()).map_or(0, |m| m.len());
        if let Some(free) = free_bytes(&dir) {
            if free < need.saturating_mul(2) {
                report.add(
                    Level::Blocker,
                    "disk_space",
                    format!(
                        "{}: {} MB free, the side-by-side {} database needs about {} MB",
                        dir.display(),
                        free / 1_000_000,
                        s.service,
                        need * 2 / 1_000_000
                    ),
                    "free disk space there",
                );
            }
        }
    } else {
        // A database the operator created beforehand needs no CREATE right.
        if Db::connect(&s.target, Access::ReadWrite).is_ok() {
            return Ok(());
        }
        let probe = s.target.with_database(&format!("osmigrate_probe_{}", std::process::id()));
        if let Err(e) = Db::create_database_if_missing(&probe).and_then(|_| Db::drop_database_if_exists(&probe)) {
            let name = s.target.database.as_deref().unwrap_or_default();
            report.add(
                Level::Blocker,
                "cannot_create_database",
                format!("{}: the database user cannot create the new {} database {name} ({e})", s.target.with_database(""), s.service),
                format!("create the empty database {name} yourself and grant this user all privileges on it"),
            );
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
    // Instances whose image is not in Glance lose nothing, but cannot be rebuilt or resized.
    if let Ok(mut glance) = Db::connect(&cloud.glance.source, Access::ReadOnly) {
        let images: std::collections::HashSet<String> =
            glance.query("SELECT id FROM images", &[])?.iter().filter_map(|r| r.get("id").key_string()).collect();
        let mut missing = 0;
        nova.stream("SELECT image_ref FROM instances WHERE deleted = ?", &[false.into()], 5000, |batch| {
            for r in batch {
                let v = r.get("image_ref").key_string().unwrap_or_default();
                if let nova::image_ref::ImageRef::Legacy { id, .. } = nova::image_ref::parse(&v) {
                    if !images.contains(&id.to_string()) {
                        missing += 1;
                    }
                }
            }
            Ok(())
        })?;
        if missing > 0 {
            report.add(
                Level::Warning,
                "instances_with_missing_images",
                format!("{missing} live instance(s) reference images Glance does not have"),
                "nothing blocks the migration; those instances cannot be rebuilt or resized until given an existing image",
            );
        }
    }
    Ok(())
}

fn check_ownership(report: &mut CheckReport, root: &Path) {
    use std::os::unix::fs::MetadataExt;
    for svc in ["nova", "glance", "keystone"] {
        let Ok(dir) = rootfs::under_root(root, Path::new(&format!("/var/log/{svc}"))) else { continue };
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        let root_owned: Vec<String> =
            entries.flatten().filter(|e| e.metadata().is_ok_and(|m| m.uid() == 0)).map(|e| e.path().display().to_string()).collect();
        if !root_owned.is_empty() && !rustix::process::geteuid().is_root() {
            continue; // only root can have made them root's, and only root can repair them
        }
        if !root_owned.is_empty() && Ownership::new(root).ok().and_then(|o| o.account(svc).ok().flatten()).is_some() {
            report.add(
                Level::Warning,
                "root_owned_logs",
                format!("{} file(s) in {} belong to root: {svc} cannot write its logs", root_owned.len(), dir.display()),
                "osmigrate config fix-ownership (migrate does it too)",
            );
        }
    }
}
