//! `migrate`: the plan's steps, journaled in the state directory, locked, resumable after a crash
//! at any point.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::discover::{self, discover};
use super::journal::{self, Journal, Lock};
use crate::config::nova::{self as nova_conf, ConvertOptions};
use crate::config::report::ConfigReport;
use crate::config::upgrade::{self, Service, UpgradeOptions};
use crate::config::write::{self, Ownership};
use crate::db::{Access, DbUrl};
use crate::error::{Error, Result};
use crate::migrate::{NoProgress, Report};
use crate::rootfs;
use crate::services::glance::{self, GlanceOptions};
use crate::services::keystone::{self, KeystoneOptions};
use crate::services::nova::{self, MapSource, NovaOptions};

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
        let warned = self.databases.iter().any(Report::has_warnings) || self.configs.iter().any(ConfigReport::has_warnings);
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
