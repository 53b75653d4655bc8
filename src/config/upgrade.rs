//! `config upgrade keystone|glance|nova-paste`: the Essex files rendered from the shipped Essex
//! ones (embedded in `essex/`) with what the Diablo files under `ROOT/etc` said carried over.
//!
//! Diablo's keystone and glance `.conf` files and nova's `api-paste.ini` were Paste Deploy files
//! and are read as such ([`PasteFile`]); the Essex files are edited losslessly ([`IniDoc`]), so the
//! shipped comments and layout stay. A Diablo file already replaced by an Essex one is read from
//! the backup osmigrate kept. Anything that cannot be carried is in the report.

use std::path::{Path, PathBuf};

use super::ini::IniDoc;
use super::paste::{self, PasteFile, nova_pipelines};
use super::report::ConfigReport;
use super::write::{Ownership, original_of, write_config};
use crate::db::{Access, Db, DbUrl};
use crate::error::{Error, Result};
use crate::migrate::Severity;
use crate::reason::Reason;
use crate::rootfs::under_root;
use crate::schema::Service;

pub(crate) const ESSEX_KEYSTONE: &str = include_str!("essex/keystone.conf");
pub(crate) const ESSEX_GLANCE_API: &str = include_str!("essex/glance-api.conf");
pub(crate) const ESSEX_GLANCE_REGISTRY: &str = include_str!("essex/glance-registry.conf");
pub(crate) const ESSEX_GLANCE_API_PASTE: &str = include_str!("essex/glance-api-paste.ini");
pub(crate) const ESSEX_GLANCE_REGISTRY_PASTE: &str = include_str!("essex/glance-registry-paste.ini");
pub(crate) const ESSEX_NOVA_API_PASTE: &str = include_str!("essex/nova-api-paste.ini");
const ESSEX_NOVA_POLICY: &str = include_str!("essex/nova-policy.json");
const ESSEX_GLANCE_POLICY: &str = include_str!("essex/glance-policy.json");
const ESSEX_KEYSTONE_POLICY: &str = include_str!("essex/keystone-policy.json");

pub const KEYSTONE_CONF: &str = "etc/keystone/keystone.conf";
pub const CATALOG_TEMPLATES: &str = "etc/keystone/default_catalog.templates";
pub const GLANCE_API_CONF: &str = "etc/glance/glance-api.conf";
pub const GLANCE_REGISTRY_CONF: &str = "etc/glance/glance-registry.conf";
pub const GLANCE_API_PASTE: &str = "etc/glance/glance-api-paste.ini";
pub const GLANCE_REGISTRY_PASTE: &str = "etc/glance/glance-registry-paste.ini";
pub const NOVA_API_PASTE: &str = "etc/nova/api-paste.ini";

/// What `config upgrade` calls a service's files: Nova's are its paste file (nova.conf has
/// `config convert nova`).
pub fn upgrade_name(service: Service) -> &'static str {
    match service {
        Service::Keystone => "keystone",
        Service::Glance => "glance",
        Service::Nova => "nova-paste",
    }
}

#[derive(Debug, Clone)]
pub struct UpgradeOptions {
    /// The tree whose `etc/` holds the Diablo files (`/` on a real host).
    pub root: PathBuf,
    /// Write under this directory (same relative paths) instead of in place.
    pub out_dir: Option<PathBuf>,
    /// The Essex Keystone database (`db migrate keystone --to`): keystone's `[sql]` and the roles
    /// glance's `admin_role` is checked against.
    pub keystone_db: Option<DbUrl>,
    /// Where osmigrate reaches that database when it is not where the config says (a SQLite file
    /// of a tree under `--root`); `keystone_db` otherwise.
    pub keystone_db_local: Option<DbUrl>,
    /// The Essex Glance database (`db migrate glance --to`).
    pub glance_db: Option<DbUrl>,
    /// Glance's admin role name, instead of Diablo's `keystone-admin-role`.
    pub admin_role: Option<String>,
    /// The cloud had no Keystone (it ran Nova's own auth): keystone.conf comes from the shipped
    /// Essex file alone.
    pub new_keystone: bool,
    /// Where a generated admin_token is kept (0600) for the later upgrades and runs:
    /// `STATE/admin-token` ([`ADMIN_TOKEN_FILE`] in the state directory).
    pub token_file: PathBuf,
}

/// The name of the generated admin_token's file in the state directory.
pub const ADMIN_TOKEN_FILE: &str = "admin-token";

/// One rendered file: where it goes (relative to the root), whose it is, what it holds.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub path: &'static str,
    pub owner: &'static str,
    pub text: Vec<u8>,
}

/// Renders the service's Essex files and writes them (in place with backups, or under the output
/// directory), 0640 and owned by the service user.
pub fn upgrade(service: Service, opts: &UpgradeOptions, owners: &Ownership) -> Result<ConfigReport> {
    let (files, mut report) = render(service, opts)?;
    let base = opts.out_dir.as_deref().unwrap_or(&opts.root);
    for f in files {
        write_config(&under_root(base, Path::new(f.path))?, &f.text, f.owner, owners, &mut report)?;
    }
    Ok(report)
}

pub fn render(service: Service, opts: &UpgradeOptions) -> Result<(Vec<Rendered>, ConfigReport)> {
    let mut report = ConfigReport::new(&format!("config upgrade {}", upgrade_name(service)));
    let mut files = match service {
        Service::Keystone => keystone(opts, &mut report)?,
        Service::Glance => glance(opts, &mut report)?,
        Service::Nova => nova_paste(opts, &mut report)?,
    };
    let policy = policy(service);
    if !under_root(&opts.root, Path::new(policy.path))?.exists() {
        report.info(
            Reason::PolicyAdded,
            policy.path,
            "",
            "Essex refuses to start without a policy file: the shipped one is added (Diablo had none)",
        );
        files.push(policy);
    }
    Ok((files, report))
}

/// The service's shipped Essex `policy.json` (nova's for `NovaPaste`).
pub fn policy(service: Service) -> Rendered {
    let (path, text, owner) = match service {
        Service::Keystone => ("etc/keystone/policy.json", ESSEX_KEYSTONE_POLICY, "keystone"),
        Service::Glance => ("etc/glance/policy.json", ESSEX_GLANCE_POLICY, "glance"),
        Service::Nova => ("etc/nova/policy.json", ESSEX_NOVA_POLICY, "nova"),
    };
    Rendered { path, owner, text: text.as_bytes().to_vec() }
}

/// Tells a Diablo file from the Essex one that may have replaced it.
type IsDiablo = fn(&PasteFile) -> bool;

/// The Diablo file at `ROOT/rel`: the file itself when `is_diablo` says so, else the backup
/// osmigrate kept before replacing it.
fn diablo_source(opts: &UpgradeOptions, rel: &str, is_diablo: IsDiablo, report: &mut ConfigReport) -> Result<Option<PasteFile>> {
    let path = under_root(&opts.root, Path::new(rel))?;
    if !path.exists() {
        return Ok(None);
    }
    let file = PasteFile::read(&path)?;
    if is_diablo(&file) {
        report.source(&path);
        unparsable(&file, rel, report);
        return Ok(Some(file));
    }
    if let Some(backup) = original_of(&path) {
        let file = PasteFile::read(&backup)?;
        if is_diablo(&file) {
            report.source(&backup);
            unparsable(&file, rel, report);
            return Ok(Some(file));
        }
    }
    Err(Error::Refused(format!(
        "{} is not a Diablo file, and no Diablo original of it was kept ({} is missing)",
        path.display(),
        super::write::backup_name(&path, 0).display()
    )))
}

/// Every line of `file` Python's ConfigParser refuses, each a warning naming it (never its
/// value): Diablo's service raised on the whole file and could not start with it, so what such
/// a line says never took effect, and it is not carried.
fn unparsable(file: &PasteFile, rel: &str, report: &mut ConfigReport) {
    // The subject names `rel`; a kept Diablo original is named too.
    let of = if file.path.ends_with(rel) { String::new() } else { format!(" of {}", file.path.display()) };
    for bad in &file.bad_lines {
        let (setting, message) = match &bad.key {
            Some(key) => (
                key.as_str(),
                format!(
                    "line {}{of}: `{key}` comes before any section header; Diablo's ConfigParser refused the file (MissingSectionHeaderError), so the service could not start with it",
                    bad.line
                ),
            ),
            None => (
                "",
                format!(
                    "line {}{of}: neither `key = value` nor a section header; Diablo's ConfigParser refused the file (ParsingError)",
                    bad.line
                ),
            ),
        };
        report.warn(Reason::UnparsableLine, rel, setting, message);
    }
}

fn required(file: Option<PasteFile>, opts: &UpgradeOptions, rel: &str) -> Result<PasteFile> {
    file.ok_or_else(|| Error::Refused(format!("no {} under {}: nothing to upgrade", rel, opts.root.display())))
}

pub(crate) fn is_diablo_keystone(f: &PasteFile) -> bool {
    f.has_section("keystone.backends.sqlalchemy")
        || f.raw("DEFAULT", "keystone-admin-role").is_some()
        || f.raw("DEFAULT", "backends").is_some()
}

fn is_diablo_glance_api(f: &PasteFile) -> bool {
    f.has_section("pipeline:glance-api")
}

fn is_diablo_glance_registry(f: &PasteFile) -> bool {
    f.has_section("pipeline:glance-registry")
}

fn is_diablo_nova_paste(f: &PasteFile) -> bool {
    f.has_section("composite:osapi") || f.section_names().any(|s| s.starts_with("pipeline:openstackapi"))
}

/// A value the Diablo service read, or (when Python could not interpolate it) the raw text with a
/// warning.
fn value(file: &PasteFile, section: &str, key: &str, target: &str, report: &mut ConfigReport) -> Option<String> {
    match file.get(section, key)? {
        Ok(v) => Some(v),
        Err(why) => {
            report.warn(Reason::NotInterpolated, target, key, format!("{}: {why}; carried as written", file.path.display()));
            file.raw(section, key).map(str::to_string)
        }
    }
}

fn setting(section: &str, key: &str) -> String {
    if section == "DEFAULT" { key.to_string() } else { format!("[{section}] {key}") }
}

/// Sets a value in a paste file, escaped so that ConfigParser reads it back as it is.
pub(crate) fn set_paste(doc: &mut IniDoc, section: &str, key: &str, v: &str, target: &str, report: &mut ConfigReport) {
    let escaped = paste::escape(v);
    if escaped != v {
        report.info(
            Reason::PercentEscaped,
            target,
            &setting(section, key),
            "the value holds `%(`, which ConfigParser would interpolate: every `%` written `%%` so that it reads back as it is",
        );
    }
    doc.set(section, key, &escaped);
}

/// The token the services authenticate to Keystone with.
struct ServiceToken {
    value: String,
    /// Where it came from, for the report (never the value).
    note: String,
}

/// The pipelines the Diablo service of `rel` ran (nova: those its `ec2` and `osapi` composites
/// route to).
fn pipelines_run(rel: &str, file: &PasteFile) -> Vec<String> {
    match rel {
        NOVA_API_PASTE => nova_pipelines(file).into_iter().map(|p| p.pipeline).collect(),
        GLANCE_API_CONF => vec!["glance-api".into()],
        _ => vec!["glance-registry".into()],
    }
}

/// The `admin_token` Essex Keystone accepts (and every authtoken filter sends): full admin rights
/// on the new Keystone, so never a value anyone can look up.
///
/// 1. Diablo's service token: the `admin_token` of a Keystone auth_token filter in a pipeline
///    the Diablo service really ran, when it is no published sample value ([`is_sample_token`]).
///    A sample, or a token in a filter section no pipeline uses, is reported and not carried.
/// 2. The token kept in `opts.token_file` by an earlier upgrade (0600).
/// 3. The one an earlier upgrade wrote into the Essex files (osmigrate before the token file).
/// 4. A new random secret, kept in `opts.token_file` (0600) before any file names it.
fn service_token(opts: &UpgradeOptions, report: &mut ConfigReport) -> Result<ServiceToken> {
    let mut found: Vec<(String, String)> = Vec::new();
    let sources: [(&str, IsDiablo); 3] = [
        (NOVA_API_PASTE, is_diablo_nova_paste),
        (GLANCE_API_CONF, is_diablo_glance_api),
        (GLANCE_REGISTRY_CONF, is_diablo_glance_registry),
    ];
    for (rel, is_diablo) in sources {
        let mut scratch = ConfigReport::default();
        let Ok(Some(file)) = diablo_source(opts, rel, is_diablo, &mut scratch) else { continue };
        let shown = file.path.display().to_string();
        let mut used: Vec<String> = Vec::new();
        for pipeline in pipelines_run(rel, &file) {
            for element in file.pipeline(&pipeline).unwrap_or_default() {
                let auth = element == "authtoken" || file.filter_factory(&element).is_some_and(|f| f.contains("auth_token"));
                let section = format!("filter:{element}");
                if auth && !used.contains(&section) {
                    used.push(section);
                }
            }
        }
        let with_token: Vec<String> =
            file.section_names().filter(|s| file.raw(s, "admin_token").is_some_and(|t| !t.is_empty())).map(str::to_string).collect();
        for section in with_token {
            let Some(Ok(token)) = file.get(&section, "admin_token") else { continue };
            if !used.contains(&section) {
                report.info(
                    Reason::AdminTokenNotCarried,
                    "",
                    &setting(&section, "admin_token"),
                    format!("{shown}: no pipeline Diablo ran uses [{section}], so its admin_token was never in use: not carried"),
                );
            } else if crate::secret::is_sample_token(&token) {
                report.warn(
                    Reason::AdminTokenSample,
                    "",
                    &setting(&section, "admin_token"),
                    format!(
                        "{shown}: the service token is a value published in OpenStack's sample files and documentation; as Essex's admin_token it would give anyone full admin rights on Keystone: not carried, a new random one is used"
                    ),
                );
            } else if !found.iter().any(|(t, _)| *t == token) {
                found.push((token, format!("{shown} [{section}]")));
            }
        }
    }
    if let Some((value, origin)) = found.first().cloned() {
        for (_, from) in &found[1..] {
            report.warn(
                Reason::AdminToken,
                "",
                "admin_token",
                format!("{from} used another service token: Essex Keystone accepts one admin_token, the one of {origin}"),
            );
        }
        let note = format!("carried: the service token Diablo really used, in {origin} (no published sample value)");
        return Ok(ServiceToken { value, note });
    }
    let usable = |t: &str| !t.is_empty() && !crate::secret::is_sample_token(t);
    match std::fs::read_to_string(&opts.token_file) {
        Ok(text) if usable(text.trim()) => {
            return Ok(ServiceToken { value: text.trim().to_string(), note: generated_note(&opts.token_file) });
        }
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(Error::io(&opts.token_file, e)),
        _ => {}
    }
    let bases: Vec<&Path> = opts.out_dir.iter().map(PathBuf::as_path).chain([opts.root.as_path()]).collect();
    for base in bases {
        let keystone = under_root(base, Path::new(KEYSTONE_CONF))?;
        if let Ok(bytes) = std::fs::read(&keystone) {
            let doc = IniDoc::parse(&bytes);
            if doc.has_section("identity") {
                if let Some(token) = doc.get("DEFAULT", "admin_token").filter(|t| usable(t)) {
                    let note = format!("the one an earlier upgrade wrote to {}", keystone.display());
                    return Ok(ServiceToken { value: token, note });
                }
            }
        }
        for rel in [NOVA_API_PASTE, GLANCE_API_PASTE, GLANCE_REGISTRY_PASTE] {
            let path = under_root(base, Path::new(rel))?;
            let Ok(file) = PasteFile::read(&path) else { continue };
            if is_diablo_nova_paste(&file) {
                continue;
            }
            if let Some(Ok(token)) = file.get("filter:authtoken", "admin_token") {
                if usable(&token) {
                    let note = format!("the one an earlier upgrade wrote to {}", path.display());
                    return Ok(ServiceToken { value: token, note });
                }
            }
        }
    }
    let value = crate::secret::random_hex(20);
    super::write::write_private(&opts.token_file, format!("{value}\n").as_bytes())?;
    Ok(ServiceToken { value, note: generated_note(&opts.token_file) })
}

fn generated_note(file: &Path) -> String {
    format!(
        "no usable Diablo service token: a new random one, kept in {} (0600), in keystone.conf and every authtoken section",
        file.display()
    )
}

/// Says where the token came from; never its value.
fn note_token(token: &ServiceToken, target: &str, setting: &str, report: &mut ConfigReport) {
    report.info(Reason::AdminToken, target, setting, token.note.clone());
}

/// Diablo keystone read only `True` and `1` as true.
fn diablo_keystone_bool(v: &str) -> bool {
    v == "True" || v == "1"
}

fn keystone(opts: &UpgradeOptions, report: &mut ConfigReport) -> Result<Vec<Rendered>> {
    let target = KEYSTONE_CONF;
    let diablo = match diablo_source(opts, KEYSTONE_CONF, is_diablo_keystone, report)? {
        None if opts.new_keystone => {
            report.info(
                Reason::NewKeystone,
                target,
                "",
                "the cloud had no Keystone (Nova's own auth): rendered from the shipped Essex file",
            );
            PasteFile::parse("")
        }
        found => required(found, opts, KEYSTONE_CONF)?,
    };
    let mut doc = IniDoc::parse(ESSEX_KEYSTONE.as_bytes());
    let token = service_token(opts, report)?;
    doc.set("DEFAULT", "admin_token", &token.value);
    note_token(&token, target, "admin_token", report);
    if token.value.contains('%') {
        report.warn(
            Reason::PercentInDefault,
            target,
            "admin_token",
            "keystone.conf is also read by Paste Deploy, which may choke on `%` in [DEFAULT]",
        );
    }

    let get = |key: &str, report: &mut ConfigReport| value(&diablo, "DEFAULT", key, target, report);
    let service_host = get("service_host", report);
    let admin_host = get("admin_host", report);
    let bind = match (&service_host, &admin_host) {
        (Some(s), Some(a)) if s != a => {
            report.warn(
                Reason::BindHost,
                target,
                "bind_host",
                format!("Diablo bound the public API to {s} and the admin API to {a}; Essex binds both to one address: {s} is used, so the admin API listens there too"),
            );
            Some(s.clone())
        }
        (Some(h), _) | (None, Some(h)) => Some(h.clone()),
        (None, None) => None,
    };
    if let Some(bind) = bind {
        doc.set("DEFAULT", "bind_host", &bind);
        report.info(Reason::Renamed, target, "bind_host", "Diablo's service_host and admin_host").to_value("bind_host", &bind);
    }
    for (from, to) in [("service_port", "public_port"), ("admin_port", "admin_port")] {
        if let Some(v) = get(from, report) {
            doc.set("DEFAULT", to, &v);
            if from != to {
                report.info(Reason::Renamed, target, to, format!("Diablo's {from}")).to_value(to, &v);
            }
        }
    }
    for key in ["verbose", "debug"] {
        let raw = get(key, report);
        let on = raw.as_deref().is_some_and(diablo_keystone_bool);
        let v = if on { "True" } else { "False" };
        doc.set("DEFAULT", key, v);
        match raw {
            Some(r) if r != v => {
                report
                    .info(Reason::ValueRewritten, target, key, "Diablo's keystone read only True or 1 as true")
                    .from_value(key, &r)
                    .to_value(key, v);
            }
            None => {
                report
                    .info(Reason::DefaultMadeExplicit, target, key, "not set in Diablo (off); the shipped Essex file turns it on")
                    .to_value(key, v);
            }
            _ => {}
        }
    }
    for key in ["log_file", "log_dir", "log_config", "use_syslog"] {
        if let Some(v) = get(key, report) {
            doc.set("DEFAULT", key, &v);
            if key == "log_file" && !v.starts_with('/') && get("log_dir", report).is_none() {
                report
                    .warn(Reason::RelativePath, target, key, "a relative log file: Essex keystone opens it in its working directory")
                    .to_value(key, &v);
            }
        }
    }
    let carried_default =
        ["service_host", "admin_host", "service_port", "admin_port", "verbose", "debug", "log_file", "log_dir", "log_config", "use_syslog"];
    for key in diablo.keys("DEFAULT") {
        if carried_default.contains(&key.as_str()) {
            continue;
        }
        let why = match key.as_str() {
            "keystone-admin-role" => {
                "Essex keystone has no such option: glance's admin_role (config upgrade glance) and the policy files name the admin role"
            }
            "keystone-service-admin-role" => "Essex keystone has no service-admin role",
            "hash-password" => "Essex always hashes passwords",
            "backends" | "default_store" => "Essex chooses its backends per part ([identity], [token], [ec2], [catalog] driver)",
            "service-header-mappings" => "Essex keystone has no service header mappings",
            _ => "Essex keystone has no such option",
        };
        let severity = if key.contains("ssl")
            || key.contains("cert")
            || key.ends_with("keyfile")
            || key == "backends" && value(&diablo, "DEFAULT", &key, target, report).is_some_and(|b| b.contains("ldap"))
        {
            Severity::Warning
        } else {
            Severity::Info
        };
        report.change(severity, Reason::NotCarried, target, &key, why);
    }

    let sql = "keystone.backends.sqlalchemy";
    if let Some(url) = &opts.keystone_db {
        doc.set("sql", "connection", &url.expose_secret());
        report.info(Reason::SqlConnection, target, "[sql] connection", "the Essex database `db migrate keystone` built").to =
            Some(url.to_string());
    } else {
        let old = value(&diablo, sql, "sql_connection", target, report).unwrap_or_default();
        doc.set("sql", "connection", &old);
        report
            .warn(
                Reason::SqlConnection,
                target,
                "[sql] connection",
                "still Diablo's legacy database, which Essex keystone cannot use: give --keystone-db",
            )
            .from_value("connection", &old);
    }
    if let Some(v) = value(&diablo, sql, "sql_idle_timeout", target, report) {
        doc.set("sql", "idle_timeout", &v);
        report.info(Reason::Renamed, target, "[sql] idle_timeout", "Diablo's sql_idle_timeout").to_value("idle_timeout", &v);
    }
    for key in diablo.keys(sql) {
        let why = match key.as_str() {
            "sql_connection" | "sql_idle_timeout" => continue,
            // Essex's sql drivers keep every entity, as a stock Diablo file lists them all.
            "backend_entities" if sql_entities(diablo.raw(sql, &key).unwrap_or_default()) == STOCK_SQL_ENTITIES => continue,
            "backend_entities" => {
                report.warn(
                    Reason::NotCarried,
                    target,
                    &format!("[{sql}] {key}"),
                    "Diablo kept only some entities in SQL; Essex keeps identity, token, EC2 and catalog in the drivers of [identity], [token], [ec2], [catalog]: set those by hand",
                );
                continue;
            }
            _ => "Essex keystone has no such option",
        };
        report.info(Reason::NotCarried, target, &format!("[{sql}] {key}"), why);
    }
    doc.set("catalog", "template_file", "/etc/keystone/default_catalog.templates");
    report
        .info(Reason::ValueRewritten, target, "[catalog] template_file", "the shipped path is relative to keystone's working directory")
        .to = Some("/etc/keystone/default_catalog.templates".into());
    let base = opts.out_dir.as_deref().unwrap_or(&opts.root);
    if !under_root(base, Path::new(CATALOG_TEMPLATES))?.exists() && !under_root(&opts.root, Path::new(CATALOG_TEMPLATES))?.exists() {
        report.warn(
            Reason::CatalogMissing,
            target,
            "[catalog] template_file",
            "no default_catalog.templates yet: write it with `db migrate keystone --catalog-out`",
        );
    }
    sql_token_and_ec2(&mut doc, target, report);
    for section in diablo.section_names() {
        if section == sql {
            continue;
        }
        let (severity, why) = if section.contains("ldap") {
            (Severity::Warning, "Essex configures LDAP in [ldap] with other settings: set it up by hand")
        } else {
            (Severity::Info, "Diablo keystone's own pipelines; Essex keystone.conf has its own")
        };
        report.change(severity, Reason::NotCarried, target, &format!("[{section}]"), why);
    }
    Ok(vec![Rendered { path: KEYSTONE_CONF, owner: "keystone", text: doc.to_bytes() }])
}

/// The entities a stock Diablo keystone.conf keeps in SQL (`backend_entities`): all of them.
const STOCK_SQL_ENTITIES: [&str; 9] =
    ["Credentials", "EndpointTemplates", "Endpoints", "Role", "Service", "Tenant", "Token", "User", "UserRoleAssociation"];

/// The names of a Python list literal such as `['User', 'Tenant']`, sorted.
fn sql_entities(list: &str) -> Vec<&str> {
    let mut names: Vec<&str> = list.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|w| !w.is_empty()).collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// Essex keystone.conf's token and EC2 drivers: the sql ones instead of the shipped kvs ones,
/// which lose everything on restart.
pub(crate) fn sql_token_and_ec2(doc: &mut IniDoc, target: &str, report: &mut ConfigReport) {
    for (section, driver, why) in [
        ("token", "keystone.token.backends.sql.Token", "the shipped kvs driver keeps tokens in memory: every token is lost on restart"),
        (
            "ec2",
            "keystone.contrib.ec2.backends.sql.Ec2",
            "the shipped kvs driver keeps EC2 credentials in memory: they are lost on restart",
        ),
    ] {
        doc.set(section, "driver", driver);
        report.info(Reason::ValueRewritten, target, &format!("[{section}] driver"), why).to = Some(driver.into());
    }
}

/// Diablo glance's boolean spellings.
fn glance_bool(v: &str) -> bool {
    matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "on" | "yes")
}

/// The Essex name of a Diablo glance option Essex renamed.
fn renamed_glance(diablo: &str) -> Option<&'static str> {
    match diablo {
        "image_cache_datadir" => Some("image_cache_dir"),
        "image_cache_stall_timeout" => Some("image_cache_stall_time"),
        _ => None,
    }
}

/// Essex glance's options (as its `cfg` modules register them).
fn essex_glance_option(name: &str) -> bool {
    include_str!("essex/glance-options.txt").lines().any(|l| l == name)
}

fn glance(opts: &UpgradeOptions, report: &mut ConfigReport) -> Result<Vec<Rendered>> {
    let api = required(diablo_source(opts, GLANCE_API_CONF, is_diablo_glance_api, report)?, opts, GLANCE_API_CONF)?;
    let registry = required(diablo_source(opts, GLANCE_REGISTRY_CONF, is_diablo_glance_registry, report)?, opts, GLANCE_REGISTRY_CONF)?;
    let token = service_token(opts, report)?;
    let role = admin_role(opts, report)?;
    let keystone_port = diablo_source(opts, KEYSTONE_CONF, is_diablo_keystone, &mut ConfigReport::default())
        .ok()
        .flatten()
        .and_then(|k| k.get("DEFAULT", "admin_port").and_then(std::result::Result::ok));

    let mut out = Vec::new();
    for (diablo, conf_rel, paste_rel, conf_template, paste_template, app) in [
        (&api, GLANCE_API_CONF, GLANCE_API_PASTE, ESSEX_GLANCE_API, ESSEX_GLANCE_API_PASTE, "glance-api"),
        (&registry, GLANCE_REGISTRY_CONF, GLANCE_REGISTRY_PASTE, ESSEX_GLANCE_REGISTRY, ESSEX_GLANCE_REGISTRY_PASTE, "glance-registry"),
    ] {
        let mut conf = IniDoc::parse(conf_template.as_bytes());
        let pipeline = diablo.pipeline(app).unwrap_or_default();
        let factory = |f: &str| diablo.filter_factory(f).unwrap_or("").to_string();
        let keystone = pipeline.iter().any(|f| factory(f).contains("auth_token") || f == "authtoken");
        let management = pipeline.iter().any(|f| factory(f).contains("image_cache") || f == "imagecache");
        let caching = value(diablo, "DEFAULT", "image_cache_enabled", conf_rel, report).is_some_and(|v| glance_bool(&v));
        let mut flavor: Vec<&str> = Vec::new();
        if keystone {
            flavor.push("keystone");
        }
        if management {
            flavor.push("cachemanagement");
        } else if caching && app == "glance-api" {
            flavor.push("caching");
        }
        let flavor = flavor.join("+");
        if app == "glance-api" && !keystone && (keystone_port.is_some() || opts.new_keystone) {
            report.warn(
                Reason::GlanceWithoutKeystone,
                conf_rel,
                "[paste_deploy] flavor",
                format!(
                    "Diablo's glance-api pipeline ({}) has no Keystone auth, while the cloud authenticates with Keystone: carried \
                     as it was, so Nova's image requests with user tokens keep failing (HTTP 500 on `GET /v2/TENANT/images`)",
                    pipeline.join(" ")
                ),
            );
        }
        if !flavor.is_empty() {
            conf.set("paste_deploy", "flavor", &flavor);
            report
                .info(
                    Reason::Pipeline,
                    conf_rel,
                    "[paste_deploy] flavor",
                    format!("Diablo's {app} pipeline ({}) as an Essex flavor", pipeline.join(" ")),
                )
                .to = Some(flavor.clone());
        }
        for f in &pipeline {
            let known = ["versionnegotiation", "context", "authtoken", "keystone_shim", "imagecache", "apiv1app", "registryapp"];
            if !known.contains(&f.as_str()) {
                report.warn(
                    Reason::NotCarried,
                    paste_rel,
                    &format!("[pipeline:{app}] {f}"),
                    "a filter Essex's pipelines do not have: add it to the paste file by hand if Essex has it",
                );
            }
        }

        for key in diablo.keys("DEFAULT") {
            let Some(v) = value(diablo, "DEFAULT", &key, conf_rel, report) else { continue };
            let (name, note) = match renamed_glance(&key) {
                Some(to) => (to, Some("renamed in Essex")),
                None => match key.as_str() {
                    "image_cache_enabled" => {
                        report.info(
                            Reason::Consumed,
                            conf_rel,
                            &key,
                            "Essex turns the image cache on with the caching flavor (its pipeline), not a setting",
                        );
                        continue;
                    }
                    "sql_connection" => {
                        if let Some(url) = &opts.glance_db {
                            conf.set("DEFAULT", "sql_connection", &url.expose_secret());
                            report
                                .info(Reason::SqlConnection, conf_rel, &key, "the Essex database `db migrate glance` built")
                                .from_value(&key, &v)
                                .to = Some(url.to_string());
                        } else {
                            conf.set("DEFAULT", "sql_connection", &v);
                            report
                                .warn(
                                    Reason::SqlConnection,
                                    conf_rel,
                                    &key,
                                    "still the Diablo database: give --glance-db with the database `db migrate glance --to` built",
                                )
                                .from_value(&key, &v);
                        }
                        continue;
                    }
                    other => (other, None),
                },
            };
            if !essex_glance_option(name) && conf.get("DEFAULT", name).is_none() {
                report.warn(Reason::NotCarried, conf_rel, &key, "Essex glance has no such option").from_value(&key, &v);
                continue;
            }
            conf.set("DEFAULT", name, &v);
            if let Some(note) = note {
                report.info(Reason::Renamed, conf_rel, &key, note).to = Some(name.to_string());
            }
        }
        if app == "glance-api" && diablo.raw("DEFAULT", "swift_store_auth_address").is_some() {
            conf.set("DEFAULT", "swift_store_auth_version", "1");
            report
                .info(
                    Reason::DefaultMadeExplicit,
                    conf_rel,
                    "swift_store_auth_version",
                    "Diablo's swift store spoke v1 auth (swauth, tempauth) only; Essex defaults to 2 (keystone)",
                )
                .to = Some("1".into());
        }
        if !diablo.keys("DEFAULT").iter().any(|k| k == "sql_connection") && app == "glance-registry" {
            if let Some(url) = &opts.glance_db {
                conf.set("DEFAULT", "sql_connection", &url.expose_secret());
                report.info(Reason::SqlConnection, conf_rel, "sql_connection", "the Essex database `db migrate glance` built").to =
                    Some(url.to_string());
            }
        }
        conf.set("DEFAULT", "admin_role", &role);
        report
            .info(
                Reason::AdminRole,
                conf_rel,
                "admin_role",
                "compared case-sensitively with the roles in a token; Diablo's glance hard-coded Admin",
            )
            .to = Some(role.clone());
        let template = IniDoc::parse(conf_template.as_bytes());
        let kept: Vec<String> = template
            .keys("DEFAULT")
            .into_iter()
            .filter(|k| {
                conf.get("DEFAULT", k) == template.get("DEFAULT", k)
                    && !diablo.keys("DEFAULT").iter().any(|d| d == k || renamed_glance(d) == Some(k.as_str()))
            })
            .collect();
        if !kept.is_empty() {
            report.info(
                Reason::KeptFromEssex,
                conf_rel,
                "",
                format!("not set in Diablo's file, so the shipped Essex values stay: {}", kept.join(", ")),
            );
        }

        let mut paste_doc = IniDoc::parse(paste_template.as_bytes());
        glance_paste_not_carried(diablo, &pipeline, &paste_doc, conf_rel, report);
        carry_authtoken(diablo, &mut paste_doc, &token, keystone_port.as_deref(), paste_rel, report);
        out.push(Rendered { path: conf_rel, owner: "glance", text: conf.to_bytes() });
        out.push(Rendered { path: paste_rel, owner: "glance", text: paste_doc.to_bytes() });
    }
    Ok(out)
}

/// The paste sections of Diablo's glance files that Essex's paste files replace by their own
/// equivalents (the versions app by the versionnegotiation filter, imagecache by the caching
/// flavors, keystone_shim by authtoken + context): none is a loss.
const GLANCE_PASTE_SECTIONS: [&str; 11] = [
    "pipeline:glance-api",
    "pipeline:glance-registry",
    "pipeline:versions",
    "app:versionsapp",
    "app:apiv1app",
    "app:registryapp",
    "filter:versionnegotiation",
    "filter:imagecache",
    "filter:context",
    "filter:authtoken",
    "filter:keystone_shim",
];

/// Each `[app:*]`/`[filter:*]` setting of a Diablo glance file the Essex paste file does not
/// take, and each other section no pipeline ran, as `not_carried`. Not reported, as no loss:
/// authtoken's settings (carried), the factories (Essex's paste file names its own), a value the
/// Essex paste file has too, and a filter of the pipeline (warned about already).
fn glance_paste_not_carried(diablo: &PasteFile, pipeline: &[String], essex: &IniDoc, file: &str, report: &mut ConfigReport) {
    for section in diablo.section_names() {
        if !GLANCE_PASTE_SECTIONS.contains(&section) {
            let name = section.split_once(':').map_or(section, |(_, n)| n);
            if !pipeline.iter().any(|f| f == name) {
                report.info(Reason::NotCarried, file, &format!("[{section}]"), "in no pipeline Diablo ran, and not in Essex's paste file");
            }
            continue;
        }
        if section == "filter:authtoken" || section.starts_with("pipeline:") {
            continue;
        }
        for key in diablo.keys(section) {
            let same = essex.get(section, &key).is_some_and(|v| diablo.raw(section, &key) == Some(v.as_str()));
            if key.starts_with("paste.") || same {
                continue;
            }
            report.warn(
                Reason::NotCarried,
                file,
                &format!("[{section}] {key}"),
                "Essex's glance paste file does not take it: add it by hand if Essex has it",
            );
        }
    }
}

/// Glance's admin role: `--admin-role`, else Diablo keystone's `keystone-admin-role` (default
/// `Admin`), spelled as the migrated Keystone spells it.
fn admin_role(opts: &UpgradeOptions, report: &mut ConfigReport) -> Result<String> {
    let target = GLANCE_API_CONF;
    let (wanted, from) = if let Some(r) = &opts.admin_role {
        (r.clone(), "--admin-role".to_string())
    } else {
        let keystone = diablo_source(opts, KEYSTONE_CONF, is_diablo_keystone, &mut ConfigReport::default()).ok().flatten();
        match keystone.as_ref().and_then(|k| k.get("DEFAULT", "keystone-admin-role")).and_then(std::result::Result::ok) {
            Some(r) => (r, format!("keystone-admin-role in {}", keystone.map(|k| k.path.display().to_string()).unwrap_or_default())),
            None => ("Admin".to_string(), "Diablo's default keystone-admin-role".to_string()),
        }
    };
    let Some(url) = opts.keystone_db_local.as_ref().or(opts.keystone_db.as_ref()) else {
        report.warn(
            Reason::AdminRoleUnchecked,
            target,
            "admin_role",
            format!("{wanted} ({from}) not checked against the migrated Keystone's roles: give --keystone-db"),
        );
        return Ok(wanted);
    };
    let mut db = Db::connect(url, Access::ReadOnly)?;
    let roles: Vec<String> = db.query("SELECT name FROM role", &[])?.iter().filter_map(|r| r.text("role", "name").ok().flatten()).collect();
    if roles.contains(&wanted) {
        report.info(Reason::AdminRoleChecked, target, "admin_role", format!("{wanted} ({from}) is a role of the migrated Keystone"));
        return Ok(wanted);
    }
    let same: Vec<&String> = roles.iter().filter(|r| r.eq_ignore_ascii_case(&wanted)).collect();
    if let [only] = same[..] {
        report.warn(
            Reason::AdminRoleCase,
            target,
            "admin_role",
            format!("{from} says {wanted}, the migrated Keystone spells it {only}; glance compares case-sensitively, so {only} is used"),
        );
        return Ok(only.clone());
    }
    report.warn(
        Reason::AdminRoleMissing,
        target,
        "admin_role",
        format!("{wanted} ({from}) is no role of the migrated Keystone ({url}): nobody is a glance admin until it exists"),
    );
    Ok(wanted)
}

/// Carries Diablo's `[filter:authtoken]` into an Essex paste file: the auth endpoint, the service
/// token; the shipped placeholders for a service user are commented out.
fn carry_authtoken(
    diablo: &PasteFile,
    doc: &mut IniDoc,
    token: &ServiceToken,
    keystone_admin_port: Option<&str>,
    target: &str,
    report: &mut ConfigReport,
) {
    const CARRIED: &[&str] =
        &["auth_host", "auth_port", "auth_protocol", "auth_uri", "delay_auth_decision", "service_protocol", "service_host", "service_port"];
    let section = "filter:authtoken";
    let mut service_keys = Vec::new();
    for key in diablo.keys(section) {
        if key == "paste.filter_factory" || key == "admin_token" {
            continue;
        }
        let Some(v) = value(diablo, section, &key, target, report) else { continue };
        if !CARRIED.contains(&key.as_str()) {
            report
                .warn(Reason::NotCarried, target, &setting(section, &key), "Essex's auth_token middleware does not read it")
                .from_value(&key, &v);
            continue;
        }
        if key.starts_with("service_") {
            service_keys.push(key.clone());
        }
        set_paste(doc, section, &key, &v, target, report);
    }
    if !service_keys.is_empty() {
        report.info(
            Reason::IgnoredByEssex,
            target,
            &setting(section, "service_*"),
            format!("carried, but Essex's auth_token no longer reads {}", service_keys.join(", ")),
        );
    }
    if let (Some(port), Some(ks)) = (diablo.get(section, "auth_port").and_then(std::result::Result::ok), keystone_admin_port) {
        if port != ks {
            report.warn(
                Reason::AuthPort,
                target,
                &setting(section, "auth_port"),
                format!("{port}, but Diablo keystone's admin_port is {ks}: tokens are checked on the admin port"),
            );
        }
    }
    set_paste(doc, section, "admin_token", &token.value, target, report);
    note_token(token, target, &setting(section, "admin_token"), report);
    let mut reason = Some("placeholders of the shipped file: admin_token authenticates this service");
    for key in ["admin_tenant_name", "admin_user", "admin_password"] {
        if doc.get(section, key).is_some_and(|v| v.starts_with("%SERVICE_")) {
            doc.comment_out(section, key, reason.take());
            report.info(Reason::Placeholder, target, &setting(section, key), "the shipped placeholder commented out: admin_token is used");
        }
    }
}

fn nova_paste(opts: &UpgradeOptions, report: &mut ConfigReport) -> Result<Vec<Rendered>> {
    let target = NOVA_API_PASTE;
    let diablo = required(diablo_source(opts, NOVA_API_PASTE, is_diablo_nova_paste, report)?, opts, NOVA_API_PASTE)?;
    let token = service_token(opts, report)?;
    let keystone_port = diablo_source(opts, KEYSTONE_CONF, is_diablo_keystone, &mut ConfigReport::default())
        .ok()
        .flatten()
        .and_then(|k| k.get("DEFAULT", "admin_port").and_then(std::result::Result::ok));
    let mut doc = IniDoc::parse(ESSEX_NOVA_API_PASTE.as_bytes());
    carry_authtoken(&diablo, &mut doc, &token, keystone_port.as_deref(), target, report);

    let pipelines = nova_pipelines(&diablo);
    let strategies: Vec<String> =
        pipelines.iter().map(|p| format!("{}: {}", p.pipeline, p.strategy.map_or("none", |s| s.as_str()))).collect();
    report.info(
        Reason::Pipeline,
        target,
        "",
        format!(
            "Essex chooses the pipeline by nova.conf's auth_strategy (config convert nova derives it); Diablo ran {}",
            strategies.join(", ")
        ),
    );
    if pipelines.iter().any(|p| p.api == "osapi" && !p.rate_limited) {
        for composite in ["composite:openstack_compute_api_v2", "composite:openstack_volume_api_v1"] {
            for strategy in ["noauth", "deprecated"] {
                if let Some(line) = doc.get(composite, strategy) {
                    let unlimited: Vec<&str> = line.split_whitespace().filter(|f| *f != "ratelimit").collect();
                    doc.set(composite, &format!("{strategy}_nolimit"), &unlimited.join(" "));
                }
            }
        }
        report.info(Reason::Pipeline, target, "api_rate_limit", "Diablo's OpenStack API had no rate limiting: *_nolimit pipelines for every strategy (nova.conf's api_rate_limit = false picks them)");
    }
    let known = [
        "logrequest",
        "ec2lockout",
        "totoken",
        "authtoken",
        "keystonecontext",
        "ec2noauth",
        "authenticate",
        "cloudrequest",
        "adminrequest",
        "authorizer",
        "ec2executor",
        "ec2ver",
        "ec2md",
        "faultwrap",
        "auth",
        "noauth",
        "ratelimit",
        "extensions",
        "osapiapp10",
        "osapiapp11",
        "osversionapp",
    ];
    let mut unknown: Vec<String> = diablo
        .section_names()
        .filter_map(|s| s.strip_prefix("pipeline:"))
        .filter_map(|p| diablo.pipeline(p))
        .flatten()
        .filter(|f| !known.contains(&f.as_str()))
        .collect();
    unknown.sort();
    unknown.dedup();
    for f in unknown {
        report.warn(
            Reason::NotCarried,
            target,
            &format!("[filter:{f}]"),
            "a filter of Diablo's pipelines that Essex's do not have: add it by hand if it still applies",
        );
    }
    // A filter of no pipeline had no effect in Diablo; the known ones (the other auth strategies'
    // filters a stock file carries) have their Essex equivalents, so only the others are named.
    let used: Vec<String> =
        diablo.section_names().filter_map(|s| s.strip_prefix("pipeline:")).filter_map(|p| diablo.pipeline(p)).flatten().collect();
    for f in diablo.section_names().filter_map(|s| s.strip_prefix("filter:")) {
        if !known.contains(&f) && !used.iter().any(|u| u == f) {
            report.info(
                Reason::NotCarried,
                target,
                &format!("[filter:{f}]"),
                "in no pipeline Diablo ran (it had no effect), and not in Essex's paste file",
            );
        }
    }
    if diablo.has_section("pipeline:ec2admin") {
        report.info(Reason::NotCarried, target, "/services/Admin", "Essex has no EC2 admin API");
    }
    if diablo.has_section("pipeline:openstackapi10") {
        report.info(Reason::NotCarried, target, "/v1.0", "Essex serves the OpenStack API as /v1.1 and /v2 only");
    }
    Ok(vec![Rendered { path: NOVA_API_PASTE, owner: "nova", text: doc.to_bytes() }])
}
