//! Finding a Diablo controller's databases from its config files under a root directory (`/` on
//! the host, any directory in tests): keystone.conf, glance-registry.conf, nova.conf (flagfile or
//! INI). A relative SQLite URL is resolved against the service's working directory, and said so.

use std::path::{Path, PathBuf};

use crate::config::ini::IniDoc;
use crate::config::{self, flagfile};
use crate::db::{Backend, DbUrl};
use crate::error::{Error, Result};
use crate::rootfs::{self, under_root};

/// One service's database: where its config says it is, and where the Essex one will be.
#[derive(Debug, Clone)]
pub struct ServiceDb {
    pub service: &'static str,
    /// The config file that names it.
    pub config: PathBuf,
    /// The URL as the service sees it (host paths), and as osmigrate reaches it (under the root).
    pub source_host: DbUrl,
    pub source: DbUrl,
    pub target_host: DbUrl,
    pub target: DbUrl,
    /// How a relative SQLite path was resolved, when it was.
    pub note: Option<String>,
}

/// Who authenticated Nova's API users in Diablo, by the pipelines of its api-paste.ini.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Auth {
    /// Keystone's authtoken middleware.
    Keystone,
    /// Nova's own users, projects and keys (`auth`/`authenticate`, "deprecated" in Essex).
    Nova,
    /// No auth at all.
    None,
}

#[derive(Debug, Clone)]
pub struct Cloud {
    pub root: PathBuf,
    /// The Diablo Keystone; none when the cloud ran Nova's own auth.
    pub keystone: Option<ServiceDb>,
    /// The Essex Keystone: next to the Diablo one, or (Nova's own auth) next to Nova's database;
    /// as osmigrate reaches it and as the service will see it (the URL its config gets).
    pub keystone_target: DbUrl,
    pub keystone_target_host: DbUrl,
    pub glance: ServiceDb,
    pub nova: ServiceDb,
    /// Nova's config: a Diablo flagfile (or already an Essex INI file).
    pub nova_conf: PathBuf,
    pub auth: Auth,
}

impl Cloud {
    pub fn services(&self) -> Vec<&ServiceDb> {
        self.keystone.iter().chain([&self.glance, &self.nova]).collect()
    }
}

/// Nova's Diablo flagfile, and the directory its relative includes are taken from (host paths).
pub const NOVA_CONF: &str = "/etc/nova/nova.conf";
pub const NOVA_CWD: &str = "/etc/nova";

/// A config file as Diablo had it: osmigrate's first backup once the file was replaced.
fn diablo_file(path: &Path) -> PathBuf {
    crate::config::write::original_of(path).unwrap_or_else(|| path.to_path_buf())
}

/// The host path of a config file as Diablo had it (see [`diablo_file`]), for readers that take
/// host paths and resolve them under the root themselves.
pub fn diablo_host_file(root: &Path, host_path: &Path) -> Result<PathBuf> {
    let backup = crate::config::write::backup_name(host_path, 0);
    Ok(if under_root(root, &backup)?.is_file() { backup } else { host_path.to_path_buf() })
}

fn read(path: &Path) -> Result<String> {
    let path = diablo_file(path);
    let bytes = rootfs::read_config(&path, None)?;
    String::from_utf8(bytes).map_err(|_| Error::io(&path, std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text")))
}

/// The Essex database next to a Diablo one: `<name>_essex` on the same server, or a sibling
/// SQLite file `<stem>-essex.sqlite`.
pub fn essex_target(source_host: &DbUrl) -> DbUrl {
    match source_host.backend {
        Backend::Sqlite => {
            let path = source_host.path.clone().unwrap_or_default();
            let stem = path.file_stem().map_or_else(|| "db".into(), |s| s.to_string_lossy().into_owned());
            let mut url = source_host.clone();
            url.path = Some(path.with_file_name(format!("{stem}-essex.sqlite")));
            url
        }
        _ => source_host.with_database(&format!("{}_essex", source_host.database.clone().unwrap_or_default())),
    }
}

fn service_db(root: &Path, service: &'static str, config: PathBuf, raw: &str, workdir: &str) -> Result<ServiceDb> {
    let mut host = DbUrl::parse(raw).map_err(|e| Error::Refused(format!("{}: sql_connection: {e}", config.display())))?;
    let mut note = None;
    if host.backend == Backend::Sqlite {
        if let Some(p) = host.path.clone().filter(|p| p.is_relative()) {
            host = host.resolved_against(Path::new(workdir));
            note = Some(format!(
                "{}: the relative SQLite path `{}` is resolved against {service}'s working directory {workdir}",
                config.display(),
                p.display()
            ));
        }
    }
    // A SQLite file of a rehearsal tree is reached under the root, never above it.
    let local = |u: &DbUrl| -> Result<DbUrl> {
        Ok(match u.backend {
            Backend::Sqlite => DbUrl::sqlite(
                &under_root(root, u.path.as_deref().unwrap_or(Path::new("")))
                    .map_err(rootfs::named_at(format!("{}: sql_connection {u}", config.display())))?,
            ),
            _ => u.clone(),
        })
    };
    let target_host = essex_target(&host);
    Ok(ServiceDb { service, source: local(&host)?, target: local(&target_host)?, config, source_host: host, target_host, note })
}

fn ini_value(path: &Path, section: &str, key: &str) -> Result<Option<String>> {
    let text = read(path)?;
    Ok(IniDoc::parse(text.as_bytes()).get(section, key))
}

/// The auth Diablo's nova API pipelines ran with.
fn nova_auth(root: &Path) -> Result<Auth> {
    use crate::config::paste::{AuthStrategy, PasteFile, nova_pipelines};
    let path = diablo_file(&under_root(root, Path::new("/etc/nova/api-paste.ini"))?);
    if !path.is_file() {
        return Ok(Auth::None);
    }
    let strategies: Vec<AuthStrategy> = nova_pipelines(&PasteFile::read(&path)?).into_iter().filter_map(|p| p.strategy).collect();
    Ok(if strategies.contains(&AuthStrategy::Keystone) {
        Auth::Keystone
    } else if strategies.contains(&AuthStrategy::Deprecated) {
        Auth::Nova
    } else {
        Auth::None
    })
}

pub fn discover(root: &Path) -> Result<Cloud> {
    let etc = |rel: &str| under_root(root, Path::new(rel));
    let keystone_conf = etc("/etc/keystone/keystone.conf")?;
    // No Diablo keystone.conf (or only the Essex one osmigrate wrote for a cloud that ran Nova's
    // own auth): there was no Diablo Keystone.
    let keystone_url = if diablo_file(&keystone_conf).is_file() {
        ini_value(&keystone_conf, "keystone.backends.sqlalchemy", "sql_connection")?
    } else {
        None
    };
    let glance_conf = etc("/etc/glance/glance-registry.conf")?;
    let glance_url = ini_value(&glance_conf, "DEFAULT", "sql_connection")?
        .ok_or_else(|| Error::Refused(format!("{}: no sql_connection", glance_conf.display())))?;
    let nova_conf = etc(NOVA_CONF)?;
    let text = read(&nova_conf)?;
    let nova_url = if flagfile::is_flagfile(&text) {
        let flags = config::read_flagfiles(&[diablo_host_file(root, Path::new(NOVA_CONF))?], Path::new(NOVA_CWD), root)?;
        if let Some(u) = flags.get("sql_connection") {
            u.to_string()
        } else {
            // Diablo's default: sqlite:///$state_path/$sqlite_db
            let state = flags.get("state_path").unwrap_or("/var/lib/nova");
            format!("sqlite:////{}/{}", state.trim_start_matches('/'), flags.get("sqlite_db").unwrap_or("nova.sqlite"))
        }
    } else {
        IniDoc::parse(text.as_bytes())
            .get("DEFAULT", "sql_connection")
            .ok_or_else(|| Error::Refused(format!("{}: no sql_connection", nova_conf.display())))?
    };
    let nova = service_db(root, "nova", nova_conf.clone(), &nova_url, "/var/lib/nova")?;
    let keystone = keystone_url.map(|u| service_db(root, "keystone", keystone_conf, &u, "/var/lib/keystone")).transpose()?;
    let (keystone_target, keystone_target_host) = match &keystone {
        Some(k) => (k.target.clone(), k.target_host.clone()),
        // A new Keystone next to Nova's database.
        None => match nova.source.backend {
            Backend::Sqlite => {
                let host = Path::new("/var/lib/keystone/keystone-essex.sqlite");
                (DbUrl::sqlite(&under_root(root, host)?), DbUrl::sqlite(host))
            }
            _ => (nova.source.with_database("keystone_essex"), nova.source_host.with_database("keystone_essex")),
        },
    };
    Ok(Cloud {
        root: root.to_path_buf(),
        keystone,
        keystone_target,
        keystone_target_host,
        glance: service_db(root, "glance", glance_conf, &glance_url, "/var/lib/glance")?,
        nova,
        nova_conf,
        auth: nova_auth(root)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_sit_next_to_sources() {
        let t = essex_target(&DbUrl::parse("mysql://nova:pw@db/nova?charset=utf8").unwrap());
        assert_eq!(t.database.as_deref(), Some("nova_essex"));
        let t = essex_target(&DbUrl::parse("sqlite:////var/lib/glance/glance.sqlite").unwrap());
        assert_eq!(t.path.unwrap(), Path::new("/var/lib/glance/glance-essex.sqlite"));
    }
}
