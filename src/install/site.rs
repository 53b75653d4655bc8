//! The site file of `install`: one TOML file saying what to install where.
//!
//! ```toml
//! region = "RegionOne"                       # optional
//! services = ["keystone", "glance", "nova"]  # optional: which of them (default all three)
//!
//! [hosts]
//! controller = "10.0.0.1"                    # the address in every URL the services reach each other at
//!
//! [database]
//! server = "sqlite"                          # or a server URL whose user may create databases
//! # names = { keystone = "keystone", glance = "glance", nova = "nova" }   # databases on a server
//!
//! [passwords]                                # each NAME_file = "path" (preferred) or NAME = "value"
//! admin_file = "secrets/admin"               # relative paths: against the site file's directory
//! nova_file = "secrets/nova"
//! glance_file = "secrets/glance"
//! admin_token_file = "secrets/service-token"
//!
//! [ec2]
//! users = ["admin"]                          # an EC2 key pair each, on the user's default tenant
//! # dir = "/root"                            # where their ec2rc-USER files go (under the root)
//! ```
//!
//! A secret file's first line is the secret (a password keeps its blanks, the token is trimmed).
//! Nothing read here is ever shown: a syntax error names its line and key, not the value.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::db::{Backend, DbUrl};
use crate::error::{Error, Result};
use crate::keystone_client::Secret;
use crate::services::create::Service;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SiteFile {
    region: Option<String>,
    services: Option<Vec<String>>,
    hosts: Hosts,
    database: Database,
    #[serde(default)]
    passwords: Passwords,
    #[serde(default)]
    ec2: Ec2,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Hosts {
    controller: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Database {
    server: String,
    #[serde(default)]
    names: BTreeMap<String, String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Passwords {
    admin: Option<String>,
    admin_file: Option<PathBuf>,
    nova: Option<String>,
    nova_file: Option<PathBuf>,
    glance: Option<String>,
    glance_file: Option<PathBuf>,
    admin_token: Option<String>,
    admin_token_file: Option<PathBuf>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Ec2 {
    #[serde(default)]
    users: Vec<String>,
    dir: Option<PathBuf>,
}

/// One service's database: as the config files name it (host paths) and as osmigrate reaches it
/// (under the root).
#[derive(Debug, Clone)]
pub struct SiteDb {
    pub host: DbUrl,
    pub local: DbUrl,
}

/// A site file, read and checked: every secret loaded, every URL built.
#[derive(Debug)]
pub struct Site {
    /// The site file, for messages.
    pub path: PathBuf,
    pub controller: String,
    pub region: String,
    pub services: Vec<Service>,
    /// The databases of the chosen services, in the order keystone, glance, nova.
    pub databases: Vec<(Service, SiteDb)>,
    /// The Keystone admin's password (when keystone is installed).
    pub admin_password: Option<Secret>,
    /// The service users' passwords, for the services installed.
    pub nova_password: Option<Secret>,
    pub glance_password: Option<Secret>,
    /// Keystone's `admin_token` (Essex) / the service token of the paste files (Diablo).
    pub admin_token: Option<Secret>,
    /// Users given an EC2 key pair.
    pub ec2_users: Vec<String>,
    /// Where their `ec2rc-USER` files go (a host path).
    pub ec2_dir: PathBuf,
    /// Things the operator should know (inline secrets in a readable file…).
    pub warnings: Vec<String>,
}

/// The users `install` makes, each with the tenant it belongs to.
pub const USERS: [(&str, &str); 3] = [("admin", "admin"), ("nova", "service"), ("glance", "service")];

impl Site {
    pub fn has(&self, service: Service) -> bool {
        self.services.contains(&service)
    }

    pub fn database(&self, service: Service) -> Option<&SiteDb> {
        self.databases.iter().find(|(s, _)| *s == service).map(|(_, d)| d)
    }

    /// The password of a user `install` makes.
    pub fn password(&self, user: &str) -> Option<&Secret> {
        match user {
            "admin" => self.admin_password.as_ref(),
            "nova" => self.nova_password.as_ref(),
            "glance" => self.glance_password.as_ref(),
            _ => None,
        }
    }

    /// The users to make: admin with keystone, each service user with its service.
    pub fn users(&self) -> Vec<(&'static str, &'static str)> {
        USERS.iter().copied().filter(|(u, _)| self.password(u).is_some()).collect()
    }

    /// The token, which [`Site::read`] made sure exists when this release needs it.
    pub fn token(&self) -> &str {
        self.admin_token.as_ref().map(Secret::expose).expect("checked when the site was read")
    }

    /// Reads and checks the site file; `root` is where SQLite databases go, `needs_token` says
    /// whether the release needs the token even without keystone (Diablo's paste files do).
    pub fn read(path: &Path, root: &Path, needs_token: bool) -> Result<Site> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let file: SiteFile = toml::from_str(&text).map_err(|e| Error::Usage(format!("{}: {}", path.display(), describe(&text, &e))))?;
        let bad = |why: String| Error::Usage(format!("{}: {why}", path.display()));
        let base = path.parent().unwrap_or(Path::new("."));
        let mut warnings = Vec::new();

        let controller = file.hosts.controller.trim().to_string();
        if controller.is_empty() || controller.contains(|c: char| c.is_whitespace() || "/@%".contains(c)) {
            return Err(bad("[hosts] controller must be a host name or address (no blanks, `/`, `@` or `%`)".into()));
        }
        let region = file.region.unwrap_or_else(|| "RegionOne".to_string());
        if region.is_empty() || region.contains(|c: char| c == '.' || c.is_whitespace()) {
            return Err(bad(format!("region `{region}` cannot be a catalog key (no dots or blanks)")));
        }
        let mut services = Vec::new();
        for name in file.services.unwrap_or_else(|| vec!["keystone".into(), "glance".into(), "nova".into()]) {
            let s = match name.as_str() {
                "keystone" => Service::Keystone,
                "glance" => Service::Glance,
                "nova" => Service::Nova,
                other => return Err(bad(format!("services: `{other}` is not keystone, glance or nova"))),
            };
            if services.contains(&s) {
                return Err(bad(format!("services: `{name}` is named twice")));
            }
            services.push(s);
        }
        if services.is_empty() {
            return Err(bad("services: name at least one of keystone, glance, nova".into()));
        }
        services.sort_by_key(|s| *s as u8);

        let databases = databases(&file.database, &services, root).map_err(|e| match e {
            Error::Usage(why) => bad(why),
            other => other,
        })?;
        if file.database.server != "sqlite"
            && DbUrl::parse(&file.database.server).ok().and_then(|u| u.password().map(str::to_owned)).is_some()
        {
            warn_if_readable(path, "[database] server holds a password", &mut warnings)?;
        }

        let p = &file.passwords;
        let has = |s| services.contains(&s);
        let mut secret =
            |name: &str, inline: &Option<String>, file: &Option<PathBuf>, needed: bool, trim: bool| -> Result<Option<Secret>> {
                if !needed {
                    return Ok(None);
                }
                let value = match (inline, file) {
                    (Some(_), Some(_)) => return Err(bad(format!("[passwords] give {name} or {name}_file, not both"))),
                    (None, None) => return Err(bad(format!("[passwords] {name}_file is missing (a file holding it)"))),
                    (Some(v), None) => {
                        warn_if_readable(path, &format!("[passwords] {name} is written in the site file"), &mut warnings)?;
                        v.clone()
                    }
                    (None, Some(f)) => {
                        let f = base.join(f);
                        let text = std::fs::read_to_string(&f).map_err(|e| Error::io(&f, e))?;
                        let line = text.lines().next().unwrap_or("");
                        if trim { line.trim() } else { line }.to_string()
                    }
                };
                if value.is_empty() {
                    return Err(bad(format!("[passwords] {name} is empty")));
                }
                if value.contains(['\n', '\r']) {
                    return Err(bad(format!("[passwords] {name} holds a line break")));
                }
                Ok(Some(Secret::new(value)))
            };
        let admin_password = secret("admin", &p.admin, &p.admin_file, has(Service::Keystone), false)?;
        let nova_password = secret("nova", &p.nova, &p.nova_file, has(Service::Nova), false)?;
        let glance_password = secret("glance", &p.glance, &p.glance_file, has(Service::Glance), false)?;
        let admin_token = secret("admin_token", &p.admin_token, &p.admin_token_file, has(Service::Keystone) || needs_token, true)?;
        if let Some(t) = &admin_token {
            let t = t.expose();
            if t.chars().count() > 64 || t.contains(|c: char| c.is_whitespace() || c == '%') {
                return Err(bad(
                    "[passwords] admin_token: at most 64 characters, without blanks or `%` (it is a token id, and paste files interpolate `%`)"
                        .into(),
                ));
            }
            if crate::secret::is_sample_token(t) {
                return Err(bad(
                    "[passwords] admin_token: a value published in OpenStack's sample files and documentation; as Keystone's admin_token it gives anyone full admin rights: choose a random one (e.g. `openssl rand -hex 20`)"
                        .into(),
                ));
            }
        }
        for user in &file.ec2.users {
            if !USERS.iter().any(|(u, _)| u == user) {
                return Err(bad(format!("[ec2] users: `{user}` is not a user install makes (admin, nova, glance)")));
            }
        }
        let site = Site {
            path: path.to_path_buf(),
            controller,
            region,
            services,
            databases,
            admin_password,
            nova_password,
            glance_password,
            admin_token,
            ec2_users: file.ec2.users,
            ec2_dir: file.ec2.dir.unwrap_or_else(|| PathBuf::from("/root")),
            warnings,
        };
        if !site.has(Service::Keystone) && !site.ec2_users.is_empty() {
            return Err(bad("[ec2] users: EC2 credentials are made in Keystone, which this site does not install".into()));
        }
        for user in &site.ec2_users {
            if site.password(user).is_none() {
                return Err(bad(format!("[ec2] users: `{user}` is not made here (its service is not installed)")));
            }
        }
        if !site.ec2_dir.is_absolute() {
            return Err(bad("[ec2] dir must be an absolute path (on the host; written under the root)".into()));
        }
        Ok(site)
    }
}

/// The database of each chosen service: SQLite files under ROOT/var/lib/SERVICE, or databases
/// named after the services (or as `names` says) on the server.
fn databases(d: &Database, services: &[Service], root: &Path) -> Result<Vec<(Service, SiteDb)>> {
    for (key, name) in &d.names {
        if !["keystone", "glance", "nova"].contains(&key.as_str()) {
            return Err(Error::Usage(format!("[database] names: `{key}` is not keystone, glance or nova")));
        }
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || name.len() > 58 {
            return Err(Error::Usage(format!(
                "[database] names: `{name}` must be letters, digits and `_` (at most 58, leaving room for `_essex`)"
            )));
        }
    }
    let server = if d.server == "sqlite" {
        if !d.names.is_empty() {
            return Err(Error::Usage("[database] names are for a database server; SQLite files go to /var/lib/SERVICE".into()));
        }
        None
    } else {
        let url = DbUrl::parse(&d.server).map_err(|e| Error::Usage(format!("[database] server: {e}")))?;
        if url.backend == Backend::Sqlite || url.database.is_some() {
            return Err(Error::Usage(
                "[database] server: `sqlite`, or the URL of a MySQL or PostgreSQL server without a database name".into(),
            ));
        }
        Some(url)
    };
    services
        .iter()
        .map(|&s| {
            let name = service_name(s);
            let db = match &server {
                None => {
                    let file = match s {
                        Service::Keystone => "keystone.db",
                        Service::Glance => "glance.sqlite",
                        Service::Nova => "nova.sqlite",
                    };
                    let host = PathBuf::from(format!("/var/lib/{name}/{file}"));
                    SiteDb { local: DbUrl::sqlite(&crate::rootfs::under_root(root, &host)?), host: DbUrl::sqlite(&host) }
                }
                Some(url) => {
                    let url = url.with_database(d.names.get(name).map_or(name, String::as_str));
                    SiteDb { host: url.clone(), local: url }
                }
            };
            Ok((s, db))
        })
        .collect()
}

pub fn service_name(s: Service) -> &'static str {
    match s {
        Service::Keystone => "keystone",
        Service::Glance => "glance",
        Service::Nova => "nova",
    }
}

/// A warning when a file holding a secret can be read by every user.
fn warn_if_readable(path: &Path, what: &str, warnings: &mut Vec<String>) -> Result<()> {
    let mode = std::fs::metadata(path).map_err(|e| Error::io(path, e))?.permissions().mode();
    if mode & 0o004 != 0 {
        warnings.push(format!(
            "{}: {what}, and every user can read the file (mode {:04o}): chmod o-r it, or use a password file",
            path.display(),
            mode & 0o7777
        ));
    }
    Ok(())
}

/// A TOML error as line, column and key, with the parser's message only when it cannot echo a
/// value (a type error quotes the value it found, which may be a password).
fn describe(text: &str, e: &toml::de::Error) -> String {
    let Some(span) = e.span() else { return e.message().to_string() };
    let before = &text[..span.start.min(text.len())];
    let line_no = before.matches('\n').count() + 1;
    let line = text.lines().nth(line_no - 1).unwrap_or("");
    let key = line.split('=').next().unwrap_or("").trim();
    let message = e.message();
    let secretive = |s: &str| ["password", "token", "secret", "server", "admin", "nova", "glance"].iter().any(|w| s.contains(w));
    if line.contains('=') && secretive(key) && !message.starts_with("unknown field") {
        format!("line {line_no}: `{key}` has a value of the wrong kind or form (a quoted string is expected)")
    } else {
        format!("line {line_no}: {message}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(dir: &Path, body: &str) -> Result<Site> {
        let path = dir.join("site.toml");
        std::fs::write(&path, body).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        Site::read(&path, &dir.join("root"), false)
    }

    #[test]
    fn defaults_and_password_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("admin-pw"), "s3cret with blanks \n").unwrap();
        std::fs::write(dir.path().join("token"), "  tok-1234\n").unwrap();
        let s = site(
            dir.path(),
            "[hosts]\ncontroller = \"10.0.0.1\"\n[database]\nserver = \"sqlite\"\n\
             [passwords]\nadmin_file = \"admin-pw\"\nnova = \"n\"\nglance = \"g\"\nadmin_token_file = \"token\"\n",
        )
        .unwrap();
        assert_eq!(s.region, "RegionOne");
        assert_eq!(s.services, vec![Service::Keystone, Service::Glance, Service::Nova]);
        assert_eq!(s.admin_password.as_ref().unwrap().expose(), "s3cret with blanks ");
        assert_eq!(s.token(), "tok-1234");
        let ks = s.database(Service::Keystone).unwrap();
        assert_eq!(ks.host.expose_secret(), "sqlite:////var/lib/keystone/keystone.db");
        assert!(ks.local.path.as_ref().unwrap().ends_with("root/var/lib/keystone/keystone.db"));
        assert!(s.warnings.is_empty(), "a 0600 site file holds inline passwords quietly: {:?}", s.warnings);
    }

    #[test]
    fn server_databases_take_their_names() {
        let dir = tempfile::tempdir().unwrap();
        let s = site(
            dir.path(),
            "services = [\"nova\", \"glance\"]\n[hosts]\ncontroller = \"ctl\"\n\
             [database]\nserver = \"mysql://root:pw@db\"\nnames = { nova = \"nova_t\" }\n\
             [passwords]\nnova = \"n\"\nglance = \"g\"\n",
        )
        .unwrap();
        assert_eq!(s.services, vec![Service::Glance, Service::Nova]);
        assert_eq!(s.database(Service::Nova).unwrap().host.expose_secret(), "mysql://root:pw@db/nova_t");
        assert_eq!(s.database(Service::Glance).unwrap().host.database.as_deref(), Some("glance"));
        assert!(s.admin_password.is_none() && s.admin_token.is_none());
    }

    #[test]
    fn errors_never_echo_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let head = "[hosts]\ncontroller = \"c\"\n[database]\nserver = \"sqlite\"\n[passwords]\n";
        let e = site(dir.path(), &format!("{head}admin = 987654321\n")).unwrap_err().to_string();
        assert!(e.contains("line 6") && e.contains("`admin`") && !e.contains("987654321"), "{e}");
        let e = site(dir.path(), &format!("{head}admin = hunter2\n")).unwrap_err().to_string();
        assert!(!e.contains("hunter2"), "{e}");
        let e = site(dir.path(), &format!("{head}admin_password = \"x\"\n")).unwrap_err().to_string();
        assert!(e.contains("unknown field `admin_password`"), "{e}");
        let e = site(dir.path(), head).unwrap_err().to_string();
        assert!(e.contains("admin_file is missing"), "{e}");
        let e = site(dir.path(), &format!("{head}admin = \"a\"\nnova = \"n\"\nglance = \"g\"\nadmin_token = \"has blank\"\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("admin_token") && !e.contains("has blank"), "{e}");
        for sample in ["999888777666", "ADMIN", "012345SECRET99TOKEN012345"] {
            let e = site(dir.path(), &format!("{head}admin = \"a\"\nnova = \"n\"\nglance = \"g\"\nadmin_token = \"{sample}\"\n"))
                .unwrap_err()
                .to_string();
            assert!(e.contains("admin_token: a value published") && !e.contains(sample), "{e}");
        }
    }

    #[test]
    fn inline_secrets_in_a_readable_file_are_warned_about() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("site.toml");
        std::fs::write(
            &path,
            "services = [\"glance\"]\n[hosts]\ncontroller = \"c\"\n[database]\nserver = \"sqlite\"\n[passwords]\nglance = \"g\"\n",
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let s = Site::read(&path, dir.path(), false).unwrap();
        assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
        assert!(s.warnings[0].contains("[passwords] glance") && !s.warnings[0].contains("= \"g\""));
    }
}
