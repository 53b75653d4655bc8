//! The whole controller in one workflow: `check` (what is there, what blocks), `plan` (the ordered
//! steps, changing nothing), `migrate` (runs them, journaled in a state directory, locked, resumable
//! after a crash at any point), `verify` (the result against the source), `rollback` (the Diablo
//! configs back; the old databases were never touched).

pub mod discover;
mod journal;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::nova::{self as nova_conf, ConvertOptions};
use crate::config::report::ConfigReport;
use crate::config::upgrade::{self, Service, UpgradeOptions};
use crate::config::write::{self, Ownership};
use crate::db::{Access, Backend, Db, DbUrl, Value};
use crate::error::{Error, Result};
use crate::migrate::{NoProgress, Report};
use crate::rootfs;
use crate::services::glance::{self, GlanceOptions, source::DiabloGlance};
use crate::services::keystone::{self, KeystoneOptions, legacy::Legacy};
use crate::services::nova::{self, MapSource, NovaOptions};
pub use discover::{Cloud, ServiceDb, discover};
pub use journal::{Journal, Lock};

/// How serious a finding of `check` is: blockers stop `migrate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Info,
    Warning,
    Blocker,
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub level: Level,
    pub code: String,
    pub message: String,
    /// What to do about it.
    pub fix: String,
}

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

/// Where osmigrate keeps its journal, lock, config backup, image map and generated admin token.
pub fn default_state_dir(root: &Path) -> Result<PathBuf> {
    rootfs::under_root(root, Path::new("/var/lib/osmigrate"))
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

/// One step of the plan.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedStep {
    pub name: String,
    pub description: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlanReport {
    pub root: String,
    pub state_dir: String,
    pub steps: Vec<PlannedStep>,
    /// Files migrate writes (besides backups).
    pub files: Vec<String>,
    pub grants: Vec<String>,
}

/// The ordered steps, with target databases and files, changing nothing.
pub fn plan(root: &Path, state_dir: &Path, services: bool, service_users: bool) -> Result<PlanReport> {
    let cloud = discover(root)?;
    let step = |name: &str, d: String| PlannedStep { name: name.into(), description: d };
    let svc_note = if !rootfs::is_host(root) {
        " (not on a rehearsal tree: only on the live host, --root /)"
    } else if services {
        ""
    } else {
        " (skipped: --no-services)"
    };
    let mut steps = vec![
        step("stop-services", format!("stop nova-*, glance-api, glance-registry, keystone{svc_note}")),
        step("install-packages", "install the Essex packages (the operator does this; osmigrate does not touch packages)".into()),
        step("backup-configs", format!("save etc/keystone, etc/glance, etc/nova to {}", state_dir.join("diablo-etc.tar").display())),
    ];
    let mut grants = Vec::new();
    if cloud.auth == discover::Auth::Nova {
        steps.push(step(
            "nova-auth-db",
            format!(
                "import Nova's own users, projects, roles and EC2 keys from {} into the Essex Keystone {}",
                cloud.nova.source, cloud.keystone_target
            ),
        ));
    }
    for s in cloud.services() {
        steps.push(step(&format!("{}-db", s.service), format!("build {} from {} (the source is only read)", s.target, s.source)));
        if s.target.backend != Backend::Sqlite {
            let user = s.source_host.user.clone().unwrap_or_else(|| s.service.to_string());
            let db = s.target.database.clone().unwrap_or_default();
            grants.push(match s.target.backend {
                Backend::Mysql => format!("GRANT ALL PRIVILEGES ON `{db}`.* TO '{user}'@'%';"),
                _ => format!("GRANT ALL PRIVILEGES ON DATABASE \"{db}\" TO \"{user}\";"),
            });
        }
    }
    if service_users {
        steps.push(step(
            "service-users",
            "create the Essex `service` tenant and the nova and glance users (Admin there), passwords kept in the state directory".into(),
        ));
    }
    steps.push(step(
        "keystone-config",
        "render keystone.conf (sql identity, token and ec2 backends, the new database, the catalog file)".into(),
    ));
    steps.push(step("glance-config", "render glance-api.conf, glance-registry.conf and their -paste.ini files".into()));
    steps.push(step(
        "nova-config",
        "convert nova.conf to Essex INI (new database, image ids through the map) and render api-paste.ini".into(),
    ));
    steps.push(step("start-services", format!("start keystone, glance, nova in that order{svc_note}")));
    let files = [
        "/etc/keystone/keystone.conf",
        "/etc/keystone/default_catalog.templates",
        "/etc/glance/glance-api.conf",
        "/etc/glance/glance-registry.conf",
        "/etc/glance/glance-api-paste.ini",
        "/etc/glance/glance-registry-paste.ini",
        "/etc/nova/nova.conf",
        "/etc/nova/api-paste.ini",
    ]
    .iter()
    .map(|rel| Ok(rootfs::under_root(root, Path::new(rel))?.display().to_string()))
    .collect::<Result<Vec<_>>>()?;
    Ok(PlanReport { root: root.display().to_string(), state_dir: state_dir.display().to_string(), steps, files, grants })
}

#[derive(Debug, Clone, Serialize)]
pub struct StepOutcome {
    pub name: String,
    /// `done`, `already done` (journaled by an earlier run), or `skipped`.
    pub status: String,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct MigrateReport {
    pub root: String,
    pub steps: Vec<StepOutcome>,
    pub databases: Vec<Report>,
    pub configs: Vec<ConfigReport>,
}

impl MigrateReport {
    pub fn exit_status(&self) -> i32 {
        let warned = self.databases.iter().any(super::migrate::report::Report::has_warnings)
            || self.configs.iter().any(super::config::report::ConfigReport::has_warnings);
        i32::from(warned)
    }
}

#[derive(Debug, Clone)]
pub struct MigrateOptions {
    pub root: PathBuf,
    pub state_dir: PathBuf,
    /// Stop and start the services (systemctl or service) when they exist.
    pub services: bool,
    /// Create Essex's `service` tenant and the `nova` and `glance` users its auth middleware can
    /// use instead of the admin token.
    pub create_service_users: bool,
}

/// The users Essex's services authenticate as, in the `service` tenant.
const SERVICE_USERS: &[&str] = &["nova", "glance"];

/// Creates the `service` tenant and the service users Keystone does not have yet, with the admin
/// role there. Passwords of the users to create are chosen first and kept in
/// `STATE/service-users` (0600), so that a run stopped half-way creates the rest with the same ones;
/// users that were already there keep theirs.
fn create_service_users(keystone: &DbUrl, state_dir: &Path) -> Result<String> {
    use crate::keystone_client::{Client, NewTenant, Secret, db::DbTransport};
    let mut client = Client::new(Box::new(DbTransport::open(keystone, Access::ReadWrite, None)?));
    let file = state_dir.join("service-users");
    let mut passwords: BTreeMap<String, String> = match std::fs::read_to_string(&file) {
        Ok(text) => text.lines().filter_map(|l| l.split_once(':')).map(|(u, p)| (u.to_string(), p.to_string())).collect(),
        Err(_) => BTreeMap::new(),
    };
    let existing: Vec<String> = client.users()?.into_iter().map(|u| u.name).collect();
    let to_create: Vec<&str> =
        SERVICE_USERS.iter().copied().filter(|u| passwords.contains_key(*u) || !existing.iter().any(|e| e == u)).collect();
    if to_create.iter().any(|u| !passwords.contains_key(*u)) {
        for u in &to_create {
            passwords.entry(u.to_string()).or_insert_with(|| crate::secret::random_hex(16));
        }
        let text: String = passwords.iter().map(|(u, p)| format!("{u}:{p}\n")).collect();
        write::write_private(&file, text.as_bytes())?;
    }
    let mut done = Vec::new();
    if !client.tenants()?.iter().any(|t| t.name == "service") {
        client.create_tenant(&NewTenant {
            name: "service".into(),
            description: Some("Essex service users (osmigrate)".into()),
            enabled: true,
        })?;
        done.push("created tenant service".to_string());
    }
    let admin = match client.roles()?.into_iter().find(|r| r.name.eq_ignore_ascii_case("admin")) {
        Some(r) => r.name,
        None => client.create_role("Admin")?.name,
    };
    for u in SERVICE_USERS {
        if !existing.iter().any(|e| e == u) {
            client.create_user(u, Some(Secret::new(passwords[*u].clone())), None, Some("service"), true)?;
            done.push(format!("created user {u} (password in {})", file.display()));
        } else if !to_create.contains(u) {
            done.push(format!("user {u} was already there (its password is unchanged)"));
        }
        if !client.grants(Some(u), Some("service"))?.iter().any(|g| g.role.name == admin) {
            client.grant(u, "service", &admin)?;
            done.push(format!("granted {admin} on service to {u}"));
        }
    }
    Ok(if done.is_empty() { "the service tenant and users were already there".into() } else { done.join("; ") })
}

const SERVICES: &[&str] =
    &["nova-api", "nova-compute", "nova-network", "nova-scheduler", "nova-volume", "glance-api", "glance-registry", "keystone"];

/// Stops (or starts) the controller's services, on the live host only: a rehearsal tree (`--root`
/// other than `/`) never touches the host's services, whatever the options. On the host,
/// `--no-services` skips it; a service that exists and fails to stop (and is still running) is an
/// error, so the migration stops before anything is written.
fn services(action: &str, opts: &MigrateOptions) -> Result<String> {
    if !rootfs::is_host(&opts.root) {
        return Ok(format!(
            "not on a rehearsal tree ({}): services are stopped and started only on the live host (--root /)",
            opts.root.display()
        ));
    }
    if !opts.services {
        return Ok("skipped (--no-services)".into());
    }
    match ServiceManager::find() {
        Some(manager) => manager.control(action),
        None => Ok("no systemctl or service on this host: skipped".into()),
    }
}

/// The host's service manager: systemctl, else SysV/upstart `service`.
struct ServiceManager {
    tool: PathBuf,
    systemd: bool,
}

impl ServiceManager {
    fn find() -> Option<ServiceManager> {
        let path = std::env::var_os("PATH")?;
        ["systemctl", "service"].into_iter().find_map(|name| {
            let tool = std::env::split_paths(&path).map(|d| d.join(name)).find(|t| t.is_file())?;
            Some(ServiceManager { tool, systemd: name == "systemctl" })
        })
    }

    /// Runs the tool; its exit status and output (stdout, then stderr).
    fn run(&self, args: &[&str]) -> Result<(bool, String)> {
        let out = std::process::Command::new(&self.tool)
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| Error::io(&self.tool, e))?;
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        Ok((out.status.success(), text))
    }

    fn exists(&self, svc: &str) -> Result<bool> {
        if self.systemd {
            let (_, out) = self.run(&["show", "--property=LoadState", &format!("{svc}.service")])?;
            Ok(out.lines().any(|l| l.trim() == "LoadState=loaded"))
        } else {
            Ok(Path::new("/etc/init.d").join(svc).exists() || Path::new("/etc/init").join(format!("{svc}.conf")).exists())
        }
    }

    fn running(&self, svc: &str) -> Result<bool> {
        if self.systemd {
            Ok(self.run(&["is-active", "--quiet", svc])?.0)
        } else {
            let (ok, out) = self.run(&[svc, "status"])?;
            Ok(ok && !out.contains("stop/waiting"))
        }
    }

    /// `stop`: in the listed order; `start`: in the reverse one. Services that do not exist are
    /// passed over.
    fn control(&self, action: &str) -> Result<String> {
        let mut order: Vec<&str> = SERVICES.to_vec();
        if action == "start" {
            order.reverse();
        }
        let mut done = Vec::new();
        for svc in order {
            if !self.exists(svc)? {
                continue;
            }
            let args = if self.systemd { [action, svc] } else { [svc, action] };
            let (ok, out) = self.run(&args)?;
            if ok || (action == "stop" && !self.running(svc)?) {
                done.push(svc);
                continue;
            }
            let why = out.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("no message");
            let next = if action == "stop" {
                "the migration stops here, before anything is written: stop it yourself (or give --no-services when the services are already down), then run migrate again"
            } else {
                "the migration itself is complete: start it yourself, or run migrate again to retry"
            };
            return Err(Error::Refused(format!("`{} {}` failed ({why}); {next}", self.tool.display(), args.join(" "))));
        }
        let tool = self.tool.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        Ok(format!("{tool} {action}: {}", if done.is_empty() { "none of them is installed".to_string() } else { done.join(", ") }))
    }
}

/// Runs the plan: every step not yet journaled, in order. A run killed at any point continues
/// with the next one; a finished migration run again does nothing.
pub fn migrate(opts: &MigrateOptions) -> Result<MigrateReport> {
    let cloud = discover(&opts.root)?;
    let _lock = Lock::acquire(&opts.state_dir)?;
    let mut journal = Journal::open(&opts.state_dir)?;
    let owners = Ownership::new(&opts.root)?;
    let map = opts.state_dir.join("glance-image-map.csv");
    let etc = |rel: &str| rootfs::under_root(&opts.root, Path::new(rel));
    let mut report = MigrateReport { root: opts.root.display().to_string(), steps: Vec::new(), databases: Vec::new(), configs: Vec::new() };
    let upgrade_opts = UpgradeOptions {
        root: opts.root.clone(),
        out_dir: None,
        // Configs name the databases as the services will see them (host paths, not under --root).
        keystone_db: Some(cloud.keystone_target_host.clone()),
        keystone_db_local: Some(cloud.keystone_target.clone()),
        glance_db: Some(cloud.glance.target_host.clone()),
        admin_role: None,
        new_keystone: cloud.keystone.is_none(),
        token_file: opts.state_dir.join(upgrade::ADMIN_TOKEN_FILE),
    };
    let steps: [&str; 11] = [
        "stop-services",
        "backup-configs",
        "keystone-db",
        "nova-auth-db",
        "service-users",
        "glance-db",
        "nova-db",
        "keystone-config",
        "glance-config",
        "nova-config",
        "start-services",
    ];
    for name in steps {
        if journal.is_done(name) {
            report.steps.push(StepOutcome { name: name.into(), status: "already done".into(), detail: journal.detail(name) });
            continue;
        }
        crate::failpoint::hit(&format!("deploy:{name}"));
        let detail = match name {
            "stop-services" => services("stop", opts)?,
            "start-services" => services("start", opts)?,
            "backup-configs" => journal::backup_configs(&opts.root, &opts.state_dir)?,
            "keystone-db" => {
                let paste =
                    vec![etc("/etc/nova/api-paste.ini")?, etc("/etc/glance/glance-api.conf")?, etc("/etc/glance/glance-registry.conf")?];
                let paste_files = paste.into_iter().map(|p| write::original_of(&p).unwrap_or(p)).filter(|p| p.is_file()).collect();
                let o = KeystoneOptions {
                    catalog_out: Some(etc("/etc/keystone/default_catalog.templates")?),
                    paste_files,
                    ..Default::default()
                };
                match &cloud.keystone {
                    Some(k) => database_step(&mut report, keystone::migrate(&k.source, &k.target, &o, &NoProgress)?),
                    None => "no Diablo Keystone: the cloud ran Nova's own auth (next step)".into(),
                }
            }
            "nova-auth-db" if cloud.auth == discover::Auth::Nova => {
                let o = crate::services::nova_auth::NovaAuthOptions {
                    password_file: None,
                    global_roles_tenant: "systenant".into(),
                    batch_size: 1000,
                };
                database_step(
                    &mut report,
                    crate::services::nova_auth::migrate(&cloud.nova.source, &cloud.keystone_target, &o, &NoProgress)?,
                )
            }
            "nova-auth-db" => "Nova did not run its own auth: nothing to import".into(),
            "service-users" if opts.create_service_users => create_service_users(&cloud.keystone_target, &opts.state_dir)?,
            "service-users" => "not asked for (--create-service-users); the services authenticate with the admin token".into(),
            "glance-db" => {
                let o = GlanceOptions { map_out: Some(map.clone()), ..Default::default() };
                database_step(&mut report, glance::migrate(&cloud.glance.source, &cloud.glance.target, &o, &NoProgress)?)
            }
            "nova-db" => {
                let conf = crate::config::FlagfileAt {
                    path: discover::diablo_host_file(&opts.root, Path::new(discover::NOVA_CONF))?,
                    cwd: PathBuf::from(discover::NOVA_CWD),
                    root: opts.root.clone(),
                };
                let o = NovaOptions { image_map: MapSource::Csv(map.clone()), nova_conf: Some(conf), set: Vec::new(), batch_size: 1000 };
                database_step(&mut report, nova::migrate(&cloud.nova.source, &cloud.nova.target, &o, &NoProgress)?)
            }
            "keystone-config" => config_step(&mut report, upgrade::upgrade(Service::Keystone, &upgrade_opts, &owners)?),
            "glance-config" => config_step(&mut report, upgrade::upgrade(Service::Glance, &upgrade_opts, &owners)?),
            "nova-config" => {
                // The Diablo flagfile: nova.conf itself, or (once replaced) its byte-identical backup;
                // host paths, read under the root (includes too).
                let input = discover::diablo_host_file(&opts.root, Path::new(discover::NOVA_CONF))?;
                let converted = nova_conf::convert(&ConvertOptions {
                    inputs: vec![input.clone()],
                    cwd: PathBuf::from(discover::NOVA_CWD),
                    root: opts.root.clone(),
                    paste: Some(discover::diablo_host_file(&opts.root, Path::new("/etc/nova/api-paste.ini"))?),
                    image_map: Some(MapSource::Csv(map.clone())),
                    sql_connection: Some(cloud.nova.target_host.expose_secret()),
                    carry_after_stop: false,
                    auth_strategy: (cloud.auth == discover::Auth::Nova).then_some(crate::config::paste::AuthStrategy::Keystone),
                    target: cloud.nova_conf.display().to_string(),
                })?;
                let mut conf_report = converted.report;
                // Name the flagfile as nova.conf whichever copy was read, so every run writes the same file.
                let text =
                    converted.text.replace(&etc(&input.to_string_lossy())?.display().to_string(), &cloud.nova_conf.display().to_string());
                write::write_config(&cloud.nova_conf, text.as_bytes(), "nova", &owners, &mut conf_report)?;
                conf_report.merge(upgrade::upgrade(Service::NovaPaste, &upgrade_opts, &owners)?);
                config_step(&mut report, conf_report)
            }
            _ => unreachable!("every step is matched"),
        };
        journal.done(name, &detail)?;
        report.steps.push(StepOutcome { name: name.into(), status: "done".into(), detail });
    }
    Ok(report)
}

fn database_step(report: &mut MigrateReport, r: Report) -> String {
    let detail = format!("{} → {} ({:?})", r.source, r.target, r.outcome);
    report.databases.push(r);
    detail
}

fn config_step(report: &mut MigrateReport, r: ConfigReport) -> String {
    let detail = format!("{} change(s)", r.changes.len());
    report.configs.push(r);
    detail
}

#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub root: String,
    pub checks: Vec<Check>,
}

impl VerifyReport {
    /// 0 when everything matched, 2 on a mismatch.
    pub fn exit_status(&self) -> i32 {
        if self.checks.iter().any(|c| c.level == Level::Blocker) { 2 } else { 0 }
    }
}

/// The result against the source: every source row accounted for, references resolving, the
/// Essex schemas and stamps in place, the configs naming the new databases.
pub fn verify(root: &Path, state_dir: &Path) -> Result<VerifyReport> {
    // Not while a migration or rollback runs (and none starts until this is done); a state
    // directory that does not exist saw no migration, and verify does not make it.
    let _lock = if state_dir.is_dir() { Some(Lock::acquire(state_dir)?) } else { None };
    let cloud = discover(root)?;
    let journal = Journal::open(state_dir)?;
    let mut checks = Vec::new();
    let mut schema_checks = Vec::new();
    let mut check = |ok: bool, code: &str, message: String| {
        checks.push(Check {
            level: if ok { Level::Info } else { Level::Blocker },
            code: code.into(),
            message,
            fix: if ok { String::new() } else { "run `osmigrate migrate` again, or `osmigrate rollback`".into() },
        });
    };
    check(
        journal.is_done("nova-config"),
        "migration_finished",
        format!("the journal in {} records a finished migration", state_dir.display()),
    );
    for (service, target_url, source_url, schema) in [
        (
            "keystone",
            &cloud.keystone_target,
            cloud.keystone.as_ref().map(|k| &k.source),
            crate::schema::essex::keystone as fn(Backend) -> crate::schema::Schema,
        ),
        ("glance", &cloud.glance.target, Some(&cloud.glance.source), crate::schema::essex::glance),
        ("nova", &cloud.nova.target, Some(&cloud.nova.source), crate::schema::essex::nova),
    ] {
        let mut target = Db::connect(target_url, Access::ReadOnly)?;
        let schema = schema(target_url.backend);
        // The whole schema against osmigrate's schema data, with the comparison a resumed run makes.
        let differences = crate::db::diff::schema_diff(&mut target, &schema)?;
        if differences.is_empty() {
            check(
                true,
                "essex_schema",
                format!("{target_url}: every Essex table, column, index, unique key and foreign key as osmigrate makes them"),
            );
        }
        schema_checks.extend(differences.iter().map(|d| Check {
            level: Level::Blocker,
            code: "essex_schema".into(),
            message: format!("{target_url}: {d}"),
            fix: match source_url {
                Some(_) => format!(
                    "`osmigrate db migrate {service}` run again with the same source and target creates what is missing; \
                     anything else needs a new target (`osmigrate rollback`, drop it, `osmigrate migrate`)"
                ),
                None => "a new target: `osmigrate rollback`, drop it, `osmigrate migrate`".into(),
            },
        }));
        let stamp = schema.stamp.as_ref().expect("Essex schemas are stamped");
        let version = target
            .query_scalar("SELECT version FROM migrate_version WHERE repository_id = ?", &[stamp.repository_id.clone().into()])?
            .as_i64();
        check(
            version == Some(stamp.version),
            "stamp",
            format!("{}: stamped {} {} (found {:?})", target_url, stamp.repository_id, stamp.version, version),
        );
        // Every source row read: the journal's report against the source's counts now.
        let report: Option<Report> = target
            .query_scalar("SELECT detail FROM osmigrate_journal WHERE step = 'finished'", &[])?
            .as_str()
            .and_then(|d| serde_json::from_str(d).ok());
        let Some(source_url) = source_url else { continue };
        let mut source = Db::connect(source_url, Access::ReadOnly)?;
        let source_tables = source.table_names()?;
        for t in report.iter().flat_map(|r| r.tables.iter()).filter(|t| source_tables.contains(&t.source_table)) {
            let n = source.query_scalar(&format!("SELECT COUNT(*) FROM {}", source.quote(&t.source_table)), &[])?.as_i64().unwrap_or(-1);
            check(
                n as u64 == t.read,
                "rows_accounted",
                format!("{} {}: {} source rows, {} read ({} skipped, each reported)", service, t.source_table, n, t.read, t.skipped),
            );
        }
    }
    // References resolve across the new databases.
    let mut nova_db = Db::connect(&cloud.nova.target, Access::ReadOnly)?;
    let mut glance_db = Db::connect(&cloud.glance.target, Access::ReadOnly)?;
    let images: std::collections::HashSet<String> =
        glance_db.query("SELECT id FROM images", &[])?.iter().filter_map(|r| r.get("id").key_string()).collect();
    let mut dangling = 0u64;
    nova_db.stream("SELECT image_ref FROM instances", &[], 5000, |batch| {
        for r in batch {
            let v = r.get("image_ref").key_string().unwrap_or_default();
            if nova::image_ref::parse(&v) == nova::image_ref::ImageRef::Uuid {
                let id = v.trim_end_matches('/').rsplit('/').next().unwrap_or("").to_string();
                if !images.contains(&id) {
                    dangling += 1;
                }
            }
        }
        Ok(())
    })?;
    check(dangling == 0, "image_refs_resolve", format!("instance image UUIDs that name no image in the new Glance: {dangling}"));
    let mut ks = Db::connect(&cloud.keystone_target, Access::ReadOnly)?;
    let user_table = ks.quote("user");
    if cloud.auth == discover::Auth::Nova {
        // Every live Nova user arrived, and each user with a key and a project has EC2 credentials.
        let mut nova = Db::connect(&cloud.nova.source, Access::ReadOnly)?;
        let mut missing_users = 0u64;
        let mut missing_keys = 0u64;
        let live = [Value::Int(0)];
        for u in nova.query("SELECT id, access_key FROM users WHERE deleted = ?", &live)? {
            let id = u.get("id").key_string().unwrap_or_default();
            let found =
                ks.query_scalar(&format!("SELECT COUNT(*) FROM {user_table} WHERE id = ?"), &[id.clone().into()])?.as_i64().unwrap_or(0);
            missing_users += u64::from(found == 0);
            let in_project = nova
                .query_scalar(
                    "SELECT COUNT(*) FROM user_project_association WHERE user_id = ? AND deleted = ?",
                    &[id.clone().into(), Value::Int(0)],
                )?
                .as_i64()
                .unwrap_or(0);
            // A key several users share arrives once, for the user Diablo authenticated with it (the
            // others are reported by the import): that user must hold it.
            let key = u.get("access_key").key_string().filter(|k| in_project > 0 && !k.is_empty());
            let holder = match &key {
                Some(k) => crate::services::nova_auth::diablo_key_holder(&mut nova, k)?,
                None => None,
            };
            if let Some(key) = key.filter(|_| holder.as_ref() == Some(&id)) {
                let keys = ks
                    .query_scalar(
                        "SELECT COUNT(*) FROM ec2_credential WHERE user_id = ? AND (access = ? OR access LIKE ?)",
                        &[id.clone().into(), key.clone().into(), format!("{key}:%").into()],
                    )?
                    .as_i64()
                    .unwrap_or(0);
                missing_keys += u64::from(keys == 0);
            }
        }
        check(missing_users == 0, "nova_users_arrived", format!("live Nova users missing from Keystone: {missing_users}"));
        check(
            missing_keys == 0,
            "nova_keys_arrived",
            format!("access keys of Nova users in a project that have no EC2 credential in Keystone: {missing_keys}"),
        );
    }
    let orphans = ks
        .query_scalar(&format!("SELECT COUNT(*) FROM ec2_credential c LEFT JOIN {user_table} u ON u.id = c.user_id LEFT JOIN tenant t ON t.id = c.tenant_id WHERE u.id IS NULL OR t.id IS NULL"), &[])?
        .as_i64()
        .unwrap_or(-1);
    check(orphans == 0, "ec2_owners_resolve", format!("EC2 credentials whose user or tenant is missing: {orphans}"));
    let orphans = ks
        .query_scalar(&format!("SELECT COUNT(*) FROM metadata m LEFT JOIN {user_table} u ON u.id = m.user_id LEFT JOIN tenant t ON t.id = m.tenant_id WHERE u.id IS NULL OR t.id IS NULL"), &[])?
        .as_i64()
        .unwrap_or(-1);
    check(orphans == 0, "grants_resolve", format!("role grants whose user or tenant is missing: {orphans}"));
    // Configs, read back as Essex reads them, name the new databases.
    let ini = |path: &Path, section: &str, key: &str| -> Option<String> {
        std::fs::read(path).ok().and_then(|b| crate::config::ini::IniDoc::parse(&b).get(section, key))
    };
    let etc = |rel: &str| rootfs::under_root(root, Path::new(rel));
    for (path, section, key, want) in [
        (etc("/etc/keystone/keystone.conf")?, "sql", "connection", &cloud.keystone_target_host),
        (etc("/etc/glance/glance-registry.conf")?, "DEFAULT", "sql_connection", &cloud.glance.target_host),
        (etc("/etc/nova/nova.conf")?, "DEFAULT", "sql_connection", &cloud.nova.target_host),
    ] {
        let got = ini(&path, section, key).and_then(|u| DbUrl::parse(&u).ok());
        check(
            got.as_ref().is_some_and(|g| g.same_database(want)),
            "config_names_new_database",
            format!("{} [{section}] {key} names {want}", path.display()),
        );
    }
    checks.extend(schema_checks);
    Ok(VerifyReport { root: root.display().to_string(), checks })
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A systemctl that has nova-api and glance-api, records every call, fails to stop glance-api,
    /// and says glance-api is active or not as `active` says.
    fn fake_systemctl(dir: &Path, active: bool) -> ServiceManager {
        let tool = dir.join("systemctl");
        let calls = dir.join("calls");
        let script = format!(
            "#!/bin/sh\necho \"$*\" >> '{}'\ncase \"$1\" in\n  show) case \"$3\" in nova-api.service|glance-api.service) echo LoadState=loaded;; *) echo LoadState=not-found;; esac;;\n  stop) [ \"$2\" = glance-api ] && {{ echo 'Failed to stop glance-api.service: Access denied' >&2; exit 1; }}; exit 0;;\n  is-active) exit {};;\nesac\nexit 0\n",
            calls.display(),
            if active { 0 } else { 3 }
        );
        std::fs::write(&tool, script).unwrap();
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
        ServiceManager { tool, systemd: true }
    }

    #[test]
    fn a_service_that_fails_to_stop_stops_the_migration() {
        let dir = tempfile::tempdir().unwrap();
        let manager = fake_systemctl(dir.path(), true);
        let e = manager.control("stop").unwrap_err().to_string();
        assert!(e.contains("stop glance-api` failed (Failed to stop glance-api.service: Access denied)"), "{e}");
        assert!(e.contains("before anything is written"), "{e}");
        let calls = std::fs::read_to_string(dir.path().join("calls")).unwrap();
        assert!(calls.contains("stop nova-api\n") && !calls.contains("stop nova-compute"), "only services that exist: {calls}");
        assert!(!calls.contains("stop keystone"), "nothing after the failure: {calls}");

        // Already stopped: the failed stop changed nothing, and the run goes on.
        let dir = tempfile::tempdir().unwrap();
        let manager = fake_systemctl(dir.path(), false);
        assert_eq!(manager.control("stop").unwrap(), "systemctl stop: nova-api, glance-api");
        assert_eq!(manager.control("start").unwrap(), "systemctl start: glance-api, nova-api");
    }

    #[test]
    fn a_rehearsal_tree_never_touches_services() {
        let dir = tempfile::tempdir().unwrap();
        let opts =
            MigrateOptions { root: dir.path().to_path_buf(), state_dir: dir.path().join("s"), services: true, create_service_users: false };
        let said = services("stop", &opts).unwrap();
        assert!(said.starts_with("not on a rehearsal tree"), "{said}");
    }
}
