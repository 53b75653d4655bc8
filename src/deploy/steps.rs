//! `migrate`: the plan's steps, journaled in the state directory, locked, resumable after a crash
//! at any point.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Check;
use super::discover::{self, Cloud, ServiceDb, discover};
use super::journal::{self, Journal, Lock};
use crate::config::FlagfileAt;
use crate::config::nova::{self as nova_conf, ConvertOptions};
use crate::config::paste::AuthStrategy;
use crate::config::report::ConfigReport;
use crate::config::upgrade::{self, UpgradeOptions};
use crate::config::write::{self, Ownership};
use crate::db::{Access, Backend, DbUrl};
use crate::error::{Error, Result};
use crate::images::map::MapSource;
use crate::migrate::{Progress, Report};
use crate::rootfs;
use crate::schema::Service;
use crate::services::glance::{self, GlanceOptions};
use crate::services::keystone::{self, KeystoneOptions};
use crate::services::nova::{self, NovaOptions};
use crate::services::nova_auth::{self, NovaAuthOptions};

/// The templated catalog keystone.conf names (a host path).
const CATALOG: &str = "/etc/keystone/default_catalog.templates";

#[derive(Debug, Clone, Serialize)]
pub struct StepOutcome {
    pub name: String,
    /// `done`, `already done` (journaled by an earlier run), or `skipped`.
    pub status: String,
    pub detail: String,
}

/// What `migrate` did: refused up front with `check`'s blockers (nothing changed; the CLI renders
/// them as every finding), or ran.
#[must_use]
#[derive(Debug)]
pub enum Migrated {
    Refused(Vec<Check>),
    Done(MigrateReport),
}

#[derive(Debug, Clone, Serialize)]
pub struct MigrateReport {
    pub root: String,
    pub steps: Vec<StepOutcome>,
    pub databases: Vec<Report>,
    pub configs: Vec<ConfigReport>,
}

impl MigrateReport {
    pub(super) fn new(root: String) -> Self {
        MigrateReport { root, steps: Vec::new(), databases: Vec::new(), configs: Vec::new() }
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

/// The journal's detail of a `service-users` step run without `--create-service-users`: a later
/// run with the flag runs the step then (it only adds users to Keystone; no config depends on them).
const SERVICE_USERS_NOT_ASKED: &str = "not asked for (--create-service-users); the services authenticate with the admin token";

/// The users Essex's services authenticate as, in the `service` tenant.
const SERVICE_USERS: &[&str] = &["nova", "glance"];

/// The passwords an earlier run chose (`user:password` lines); none when it chose none. Any other
/// failure to read them is an error: choosing new ones would give a user created by that run a
/// password nobody knows.
fn read_service_passwords(file: &Path) -> Result<BTreeMap<String, String>> {
    match std::fs::read_to_string(file) {
        Ok(text) => Ok(text.lines().filter_map(|l| l.split_once(':')).map(|(u, p)| (u.to_string(), p.to_string())).collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(Error::io(file, e)),
    }
}

/// Creates the `service` tenant and the service users Keystone does not have yet, with the admin
/// role there. Passwords of the users to create are chosen first and kept in
/// `STATE/service-users` (0600), so that a run stopped half-way creates the rest with the same ones;
/// users that were already there keep theirs.
fn create_service_users(keystone: &DbUrl, state_dir: &Path) -> Result<String> {
    use crate::keystone_client::{Client, NewTenant, Secret, db::DbTransport};
    let mut client = Client::new(Box::new(DbTransport::open(keystone, Access::ReadWrite, None)?));
    let file = state_dir.join("service-users");
    let mut passwords = read_service_passwords(&file)?;
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

/// The workflow's steps, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    StopServices,
    BackupConfigs,
    KeystoneDb,
    NovaAuthDb,
    ServiceUsers,
    GlanceDb,
    NovaDb,
    KeystoneConfig,
    GlanceConfig,
    NovaConfig,
    StartServices,
}

impl Step {
    pub(super) const ALL: [Step; 11] = [
        Step::StopServices,
        Step::BackupConfigs,
        Step::KeystoneDb,
        Step::GlanceDb,
        Step::NovaDb,
        Step::NovaAuthDb,
        Step::ServiceUsers,
        Step::KeystoneConfig,
        Step::GlanceConfig,
        Step::NovaConfig,
        Step::StartServices,
    ];

    /// The name the journal, the report and the failpoints (`deploy:NAME`) use.
    pub(super) fn name(self) -> &'static str {
        match self {
            Step::StopServices => "stop-services",
            Step::BackupConfigs => "backup-configs",
            Step::KeystoneDb => "keystone-db",
            Step::NovaAuthDb => "nova-auth-db",
            Step::ServiceUsers => "service-users",
            Step::GlanceDb => "glance-db",
            Step::NovaDb => "nova-db",
            Step::KeystoneConfig => "keystone-config",
            Step::GlanceConfig => "glance-config",
            Step::NovaConfig => "nova-config",
            Step::StartServices => "start-services",
        }
    }

    /// The steps that build the Essex databases and files: the ones `check` rehearses.
    pub(super) fn builds(self) -> bool {
        !matches!(self, Step::StopServices | Step::BackupConfigs | Step::StartServices)
    }

    /// Where the step is in [`Step::ALL`].
    fn index(self) -> usize {
        Step::ALL.iter().position(|s| *s == self).expect("every step is in ALL")
    }

    /// Keystone's database runs on a thread of its own — its time is hashing passwords, on every
    /// core at the lowest priority — while Glance's and Nova's, mostly waiting on their servers,
    /// go on: they read nothing it writes. Any other step waits for it.
    fn runs_beside(self) -> bool {
        self == Step::KeystoneDb
    }

    /// Whether this step may run while a step that [runs beside](Step::runs_beside) is under way.
    fn overlaps_beside(self) -> bool {
        matches!(self, Step::GlanceDb | Step::NovaDb)
    }

    /// The earlier steps whose output this one reads.
    pub(super) fn needs(self) -> &'static [Step] {
        match self {
            Step::NovaAuthDb => &[Step::KeystoneDb],
            Step::ServiceUsers | Step::KeystoneConfig | Step::GlanceConfig => &[Step::KeystoneDb, Step::NovaAuthDb],
            Step::NovaDb | Step::NovaConfig => &[Step::GlanceDb],
            _ => &[],
        }
    }

    /// The files under the root the step writes (host paths; databases and the state directory
    /// apart): what `plan` lists. The integration test `plan_lists_what_migrate_runs_and_writes`
    /// holds it to what the step reports written.
    pub(super) fn files(self, cloud: &Cloud) -> Vec<&'static str> {
        match self {
            Step::KeystoneDb if cloud.keystone.is_some() => vec![CATALOG],
            Step::NovaAuthDb if cloud.auth == AuthStrategy::Deprecated => vec![CATALOG],
            Step::KeystoneConfig => vec!["/etc/keystone/keystone.conf", "/etc/keystone/policy.json"],
            Step::GlanceConfig => vec![
                "/etc/glance/glance-api.conf",
                "/etc/glance/glance-registry.conf",
                "/etc/glance/glance-api-paste.ini",
                "/etc/glance/glance-registry-paste.ini",
                "/etc/glance/policy.json",
            ],
            Step::NovaConfig => vec!["/etc/nova/nova.conf", "/etc/nova/api-paste.ini", "/etc/nova/policy.json"],
            _ => Vec::new(),
        }
    }

    /// What the step will do with this cloud and these options, or why it will do nothing: what
    /// `plan` says of it.
    pub(super) fn describe(self, cloud: &Cloud, opts: &MigrateOptions) -> String {
        let services = if !rootfs::is_host(&opts.root) {
            " (not on a rehearsal tree: only on the live host, --root /)"
        } else if opts.services {
            ""
        } else {
            " (skipped: --no-services)"
        };
        let db = |s: &ServiceDb| format!("build {} from {} (the source is only read)", s.target, s.source);
        match self {
            Step::StopServices => format!(
                "stop nova-*, glance-api, glance-registry, keystone{services}; then the operator installs the Essex packages \
                 (osmigrate does not touch packages)"
            ),
            Step::BackupConfigs => {
                format!("save etc/keystone, etc/glance, etc/nova to {}", opts.state_dir.join(journal::BACKUP).display())
            }
            Step::KeystoneDb => match &cloud.keystone {
                Some(k) => db(k),
                None => "nothing: the cloud has no Diablo Keystone (it ran Nova's own auth)".into(),
            },
            Step::NovaAuthDb if cloud.auth == AuthStrategy::Deprecated => format!(
                "import Nova's own users, projects, roles and EC2 keys from {} into the Essex Keystone {}, and write the \
                 templated catalog from Nova's endpoints",
                cloud.nova.source, cloud.keystone_target
            ),
            Step::NovaAuthDb => "nothing: Nova's API did not use its own auth".into(),
            Step::ServiceUsers if opts.create_service_users => {
                "create the Essex `service` tenant and the nova and glance users (Admin there), passwords kept in the state \
                 directory"
                    .into()
            }
            Step::ServiceUsers => SERVICE_USERS_NOT_ASKED.into(),
            Step::GlanceDb => db(&cloud.glance),
            Step::NovaDb => db(&cloud.nova),
            Step::KeystoneConfig => {
                "render keystone.conf (sql identity, token and ec2 backends, the new database, the catalog file) and policy.json".into()
            }
            Step::GlanceConfig => "render glance-api.conf, glance-registry.conf, their -paste.ini files and policy.json".into(),
            Step::NovaConfig => {
                "convert nova.conf to Essex INI (new database, image ids through the map), render api-paste.ini and policy.json".into()
            }
            Step::StartServices => format!("start keystone, glance, nova in that order{services}"),
        }
    }
}

/// Where the steps write: the controller itself (`migrate`), or a scratch copy of it (`check`'s
/// rehearsal). What they read is always the controller's.
pub(super) struct Dest {
    /// Files go under this directory, at their host paths.
    pub base: PathBuf,
    /// The image map, the service users' passwords, a generated admin token.
    pub state_dir: PathBuf,
    /// The Essex databases, as osmigrate reaches them.
    pub keystone: DbUrl,
    pub glance: DbUrl,
    pub nova: DbUrl,
}

impl Dest {
    /// The controller's own places.
    pub(super) fn real(cloud: &Cloud, state_dir: &Path) -> Dest {
        Dest {
            base: cloud.root.clone(),
            state_dir: state_dir.to_path_buf(),
            keystone: cloud.keystone_target.clone(),
            glance: cloud.glance.target.clone(),
            nova: cloud.nova.target.clone(),
        }
    }

    /// A file of the tree (a host path), where this run writes it: under the root (or its scratch
    /// copy), confined there.
    fn file(&self, host_path: &str) -> Result<PathBuf> {
        rootfs::under_root(&self.base, Path::new(host_path))
    }

    fn map(&self) -> PathBuf {
        self.state_dir.join("glance-image-map.csv")
    }
}

/// One run of the workflow: the cloud, its options, where it writes, and as whom.
#[derive(Clone, Copy)]
pub(super) struct Run<'a> {
    pub cloud: &'a Cloud,
    pub opts: &'a MigrateOptions,
    pub dest: &'a Dest,
    pub owners: &'a Ownership,
    /// Told each step, then each table and its rows (the CLI's bars; nothing in the library).
    pub progress: &'a (dyn Progress + Sync),
}

impl Run<'_> {
    /// A Diablo file of the tree (read, never written).
    fn etc(&self, host_path: &str) -> Result<PathBuf> {
        rootfs::under_root(&self.cloud.root, Path::new(host_path))
    }

    /// The Diablo flagfile as a host path (its backup once replaced), read under the root.
    fn nova_flagfile(&self) -> Result<PathBuf> {
        discover::diablo_host_file(&self.cloud.root, Path::new(discover::NOVA_CONF))
    }

    fn upgrade_options(&self) -> UpgradeOptions {
        UpgradeOptions {
            root: self.cloud.root.clone(),
            out_dir: (self.dest.base != self.cloud.root).then(|| self.dest.base.clone()),
            // Configs name the databases as the services will see them (host paths, not under --root).
            keystone_db: Some(self.cloud.keystone_target_host.clone()),
            keystone_db_local: Some(self.dest.keystone.clone()),
            glance_db: Some(self.cloud.glance.target_host.clone()),
            admin_role: None,
            new_keystone: self.cloud.keystone.is_none(),
            token_file: self.dest.state_dir.join(upgrade::ADMIN_TOKEN_FILE),
        }
    }

    /// A step on its own: what it says it did, the part of the report it made, how long it took.
    fn step_part(&self, step: Step) -> Result<Ran> {
        let started = std::time::Instant::now();
        let mut report = MigrateReport::new(String::new());
        let detail = self.step(step, &mut report)?;
        let part = StepPart { databases: report.databases, configs: report.configs };
        Ok(Ran { detail, part, seconds: started.elapsed().as_secs_f64() })
    }

    /// Runs one step, adding what it did to `report`; returns the detail the journal keeps.
    pub(super) fn step(&self, step: Step, report: &mut MigrateReport) -> Result<String> {
        let cloud = self.cloud;
        let dest = self.dest;
        Ok(match step {
            Step::StopServices => services("stop", self.opts)?,
            Step::StartServices => services("start", self.opts)?,
            Step::BackupConfigs => journal::backup_configs(&cloud.root, &dest.state_dir)?,
            Step::KeystoneDb => {
                let Some(k) = &cloud.keystone else {
                    return Ok("no Diablo Keystone: the cloud ran Nova's own auth (next step)".into());
                };
                let paste = [
                    self.etc("/etc/nova/api-paste.ini")?,
                    self.etc("/etc/glance/glance-api.conf")?,
                    self.etc("/etc/glance/glance-registry.conf")?,
                ];
                let paste_files = paste.into_iter().map(|p| write::original_of(&p).unwrap_or(p)).filter(|p| p.is_file()).collect();
                let catalog = dest.file(CATALOG)?;
                let o = KeystoneOptions {
                    catalog_out: Some(catalog.clone()),
                    paste_files,
                    names_as: Some(k.target.backend),
                    ..Default::default()
                };
                let detail = database_step(report, keystone::migrate(&k.source, &dest.keystone, &o, self.progress)?);
                self.own_files(step, "keystone", &k.target, &dest.keystone, &[catalog], report)?;
                detail
            }
            Step::NovaAuthDb if cloud.auth == AuthStrategy::Deprecated => {
                let o = NovaAuthOptions { names_as: Some(cloud.keystone_target.backend), ..Default::default() };
                let detail = database_step(report, nova_auth::migrate(&cloud.nova.source, &dest.keystone, &o, self.progress)?);
                if cloud.keystone.is_none() {
                    // keystone.conf selects the templated catalog: write the one this cloud's endpoints make.
                    let (text, mut written) = super::catalog::render(cloud)?;
                    write::write_config(&dest.file(CATALOG)?, text.as_bytes(), "keystone", self.owners, &mut written)?;
                    config_step(report, written);
                }
                self.own_files(step, "keystone", &cloud.keystone_target, &dest.keystone, &[], report)?;
                detail
            }
            Step::NovaAuthDb => "Nova did not run its own auth: nothing to import".into(),
            Step::ServiceUsers if self.opts.create_service_users => create_service_users(&dest.keystone, &dest.state_dir)?,
            Step::ServiceUsers => SERVICE_USERS_NOT_ASKED.into(),
            Step::GlanceDb => {
                let o = GlanceOptions { map_out: Some(dest.map()), names_as: Some(cloud.glance.target.backend), ..Default::default() };
                let detail = database_step(report, glance::migrate(&cloud.glance.source, &dest.glance, &o, self.progress)?);
                self.own_files(step, "glance", &cloud.glance.target, &dest.glance, &[], report)?;
                detail
            }
            Step::NovaDb => {
                let conf = FlagfileAt { path: self.nova_flagfile()?, cwd: PathBuf::from(discover::NOVA_CWD), root: cloud.root.clone() };
                let o = NovaOptions { image_map: MapSource::Csv(dest.map()), nova_conf: Some(conf), set: Vec::new(), batch_size: 1000 };
                let detail = database_step(report, nova::migrate(&cloud.nova.source, &dest.nova, &o, self.progress)?);
                self.own_files(step, "nova", &cloud.nova.target, &dest.nova, &[], report)?;
                detail
            }
            Step::KeystoneConfig => config_step(report, upgrade::upgrade(Service::Keystone, &self.upgrade_options(), self.owners)?),
            Step::GlanceConfig => config_step(report, upgrade::upgrade(Service::Glance, &self.upgrade_options(), self.owners)?),
            Step::NovaConfig => {
                // The Diablo flagfile: nova.conf itself, or (once replaced) its byte-identical backup;
                // host paths, read under the root (includes too).
                let input = self.nova_flagfile()?;
                let converted = nova_conf::convert(&ConvertOptions {
                    inputs: vec![input.clone()],
                    cwd: PathBuf::from(discover::NOVA_CWD),
                    root: cloud.root.clone(),
                    paste: Some(discover::diablo_host_file(&cloud.root, Path::new("/etc/nova/api-paste.ini"))?),
                    image_map: Some(MapSource::Csv(dest.map())),
                    sql_connection: Some(cloud.nova.target_host.expose_secret()),
                    carry_after_stop: false,
                    auth_strategy: (cloud.auth == AuthStrategy::Deprecated).then_some(AuthStrategy::Keystone),
                    target: cloud.nova_conf.display().to_string(),
                })?;
                let mut conf_report = converted.report;
                // Name the flagfile as nova.conf whichever copy was read, so every run writes the same file.
                let text = converted
                    .text
                    .replace(&self.etc(&input.to_string_lossy())?.display().to_string(), &cloud.nova_conf.display().to_string());
                write::write_config(&dest.file(discover::NOVA_CONF)?, text.as_bytes(), "nova", self.owners, &mut conf_report)?;
                conf_report.merge(upgrade::upgrade(Service::Nova, &self.upgrade_options(), self.owners)?);
                config_step(report, conf_report)
            }
        })
    }

    /// The new SQLite database of a service (`real`: where the migration puts it; `written`: where
    /// this run wrote it) and the other files a database step wrote, given to the service user as
    /// its configs are.
    fn own_files(
        &self,
        step: Step,
        service: &str,
        real: &DbUrl,
        written: &DbUrl,
        files: &[PathBuf],
        report: &mut MigrateReport,
    ) -> Result<()> {
        let mut owned = ConfigReport::new(&format!("{} files", step.name()));
        let database = written.path.clone().filter(|_| real.backend == Backend::Sqlite);
        for path in database.iter().chain(files) {
            write::settle_for_service(path, service, self.owners, &mut owned)?;
        }
        if !owned.files.is_empty() {
            report.configs.push(owned);
        }
        Ok(())
    }
}

/// Runs the plan: the preconditions (`check`'s, the rehearsal included) while anything is left to
/// do, refused with every blocker named and nothing changed; then every step not yet journaled,
/// in order — except that a step that [runs beside](Step::runs_beside) the others goes on a thread
/// of its own until a step that needs it. A run killed at any point continues with the next
/// step not journaled; a finished migration run again does nothing.
pub fn migrate(opts: &MigrateOptions, progress: &(dyn Progress + Sync)) -> Result<Migrated> {
    let cloud = discover(&opts.root)?;
    let finished = opts.state_dir.is_dir() && Journal::open(&opts.state_dir)?.is_done(Step::StartServices.name());
    if !finished {
        let pre = super::check::preconditions(&cloud, &opts.state_dir, opts.create_service_users)?;
        let blockers = pre.blockers();
        if !blockers.is_empty() {
            return Ok(Migrated::Refused(blockers));
        }
    }
    let _lock = Lock::acquire(&opts.state_dir)?;
    let mut journal = Journal::resume(&opts.state_dir, &plan_checksum(&cloud, opts), finished)?;
    let owners = Ownership::new(&opts.root)?;
    let dest = Dest::real(&cloud, &opts.state_dir);
    let run = Run { cloud: &cloud, opts, dest: &dest, owners: &owners, progress };
    // Each step's outcome and part of the report, in plan order whatever order they end in.
    let mut ended: BTreeMap<usize, (StepOutcome, StepPart)> = BTreeMap::new();
    let end = |journal: &mut Journal, step: Step, ran: Result<Ran>, ended: &mut BTreeMap<usize, (StepOutcome, StepPart)>| -> Result<()> {
        let Ran { detail, part, seconds } = ran?;
        // Saved before the journal marks the step done: a kill in between redoes the step, which
        // writes its part again.
        part.save(&opts.state_dir, step.name())?;
        journal.done(step.name(), &detail)?;
        tracing::info!(step = step.name(), seconds, "workflow step done: {detail}");
        ended.insert(step.index(), (StepOutcome { name: step.name().into(), status: "done".into(), detail }, part));
        Ok(())
    };
    std::thread::scope(|scope| -> Result<()> {
        let mut beside: Option<(Step, std::thread::ScopedJoinHandle<'_, Result<Ran>>)> = None;
        let join = |(step, thread): (Step, std::thread::ScopedJoinHandle<'_, Result<Ran>>)| {
            (step, thread.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
        };
        for step in Step::ALL {
            if beside.is_some() && !step.overlaps_beside() {
                let (running, ran) = join(beside.take().expect("checked"));
                end(&mut journal, running, ran, &mut ended)?;
            }
            let name = step.name();
            let asked_now = step == Step::ServiceUsers && opts.create_service_users && journal.detail(name) == SERVICE_USERS_NOT_ASKED;
            if journal.is_done(name) && !asked_now {
                tracing::info!(step = name, "workflow step already done");
                // What the step reported when it ran: a run again reports (and exits) as the first.
                let part = StepPart::load(&opts.state_dir, name)?.unwrap_or_default();
                let outcome = StepOutcome { name: name.into(), status: "already done".into(), detail: journal.detail(name) };
                ended.insert(step.index(), (outcome, part));
                continue;
            }
            crate::failpoint::hit(&format!("deploy:{name}"));
            tracing::info!(step = name, "workflow step starts");
            progress.step(name);
            if step.runs_beside() {
                let run = &run;
                beside = Some((
                    step,
                    scope.spawn(move || {
                        let lane = progress.beside(name);
                        Run { progress: &*lane, ..*run }.step_part(step)
                    }),
                ));
                continue;
            }
            let ran = run.step_part(step);
            if ran.is_err() {
                // What runs beside is finished and journaled first: a run again need not redo it.
                match beside.take().map(join) {
                    Some((running, Ok(done))) => end(&mut journal, running, Ok(done), &mut ended)?,
                    // The step's own error is the one returned; this one is logged, not lost.
                    Some((running, Err(e))) => tracing::error!(step = running.name(), "workflow step failed: {e}"),
                    None => {}
                }
            }
            end(&mut journal, step, ran, &mut ended)?;
        }
        if let Some((running, ran)) = beside.take().map(join) {
            end(&mut journal, running, ran, &mut ended)?;
        }
        Ok(())
    })?;
    let mut report = MigrateReport::new(opts.root.display().to_string());
    for (outcome, part) in ended.into_values() {
        report.steps.push(outcome);
        report.databases.extend(part.databases);
        report.configs.extend(part.configs);
    }
    Ok(Migrated::Done(report))
}

/// The checksum of what a migration of `cloud` with `opts` runs: its steps in order, and what
/// changes how they run (Nova's auth, services controlled, service users asked for).
pub(super) fn plan_checksum(cloud: &Cloud, opts: &MigrateOptions) -> String {
    use sha1::Digest;
    let mut text: String = Step::ALL.iter().map(|s| format!("{}\n", s.name())).collect();
    text.push_str(&format!("auth {:?}\nservices {}\nservice-users {}\n", cloud.auth, opts.services, opts.create_service_users));
    sha1::Sha1::digest(text.as_bytes()).iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// A step that ran: its detail for the journal, its part of the report, its seconds.
struct Ran {
    detail: String,
    part: StepPart,
    seconds: f64,
}

/// The part of the migration's report one step made, kept in `STATE/report-STEP.json` (0600).
#[derive(Default, Serialize, Deserialize)]
struct StepPart {
    databases: Vec<Report>,
    configs: Vec<ConfigReport>,
}

impl StepPart {
    fn path(state_dir: &Path, step: &str) -> PathBuf {
        state_dir.join(format!("report-{step}.json"))
    }

    fn save(&self, state_dir: &Path, step: &str) -> Result<()> {
        write::write_private(&Self::path(state_dir, step), serde_json::to_string(self).expect("serializes").as_bytes())
    }

    /// The saved part; none from a state directory an older osmigrate journaled.
    fn load(state_dir: &Path, step: &str) -> Result<Option<StepPart>> {
        let path = Self::path(state_dir, step);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| Error::Refused(format!("{}: not a report osmigrate saved ({e})", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(&path, e)),
        }
    }
}

fn database_step(report: &mut MigrateReport, r: Report) -> String {
    let detail = format!("{} → {} ({})", r.source, r.target, r.outcome);
    report.databases.push(r);
    detail
}

fn config_step(report: &mut MigrateReport, r: ConfigReport) -> String {
    let detail = format!("{} change(s)", r.changes.len());
    report.configs.push(r);
    detail
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn service_passwords_that_cannot_be_read_fail_instead_of_being_chosen_again() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("service-users");
        assert!(read_service_passwords(&file).unwrap().is_empty());
        std::fs::write(&file, "nova:n0va\nglance:gl4nce\n").unwrap();
        assert_eq!(read_service_passwords(&file).unwrap()["glance"], "gl4nce");
        std::fs::remove_file(&file).unwrap();
        std::fs::create_dir(&file).unwrap();
        let e = read_service_passwords(&file).unwrap_err().to_string();
        assert!(e.contains("service-users"), "{e}");
    }

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
