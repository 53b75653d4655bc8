//! `verify`'s proof that the Essex control plane can start: every file a written config names (the
//! templated catalog, the policy and paste files, the SQLite databases, the log directories)
//! exists, and the service user that will open it may: its uid and groups from `ROOT/etc/passwd`
//! and `ROOT/etc/group`, the owner, group and other bits of the file and of every directory on the
//! way to it.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::{Check, Severity};
use crate::config::ini::IniDoc;
use crate::config::write::{Account, Ownership};
use crate::db::{Backend, DbUrl};
use crate::error::Result;
use crate::reason::Reason;
use crate::rootfs;

const READ: u32 = 4;
const WRITE: u32 = 2;
const SEARCH: u32 = 1;

/// What a service does with a file its config names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Use {
    /// Reads it.
    Read,
    /// Reads and writes it, and makes files next to it (a SQLite database and its journal).
    Database,
    /// Makes and writes files in it (a log directory).
    Directory,
}

/// A file a service needs, by its host path, and the config setting that names it.
struct Needed {
    service: &'static str,
    path: PathBuf,
    used: Use,
    named_by: String,
}

/// `name` as the service finds it: absolute as it is, relative in `dir`.
fn resolve(dir: &str, name: &str) -> PathBuf {
    if name.starts_with('/') { PathBuf::from(name) } else { Path::new(dir).join(name) }
}

/// The files the written Essex configs name, each with the service that opens it.
fn needed(root: &Path) -> Vec<Needed> {
    let read = |host: &str| {
        let path = rootfs::under_root(root, Path::new(host)).ok()?;
        rootfs::read_config(&path, None).ok().map(|b| IniDoc::parse(&b))
    };
    let mut out = Vec::new();
    let mut need = |service, path: PathBuf, used, named_by: String| out.push(Needed { service, path, used, named_by });
    let database =
        |url: Option<String>| url.and_then(|u| DbUrl::parse(&u).ok()).filter(|u| u.backend == Backend::Sqlite).and_then(|u| u.path);
    // A log file: its directory (given, or the one the file names, or the working directory).
    let log = |file: Option<String>, dir: Option<String>, workdir: &str| -> PathBuf {
        match (file, dir) {
            (Some(f), Some(d)) => resolve(&d, &f).parent().map_or_else(|| PathBuf::from(d), Path::to_path_buf),
            (Some(f), None) => resolve(workdir, &f).parent().map_or_else(|| PathBuf::from(workdir), Path::to_path_buf),
            (None, Some(d)) => PathBuf::from(d),
            (None, None) => PathBuf::from(workdir),
        }
    };
    // Keystone and Glance log to a file (in the working directory without one) unless to syslog.
    let file_log = |doc: &IniDoc, workdir: &str| -> Option<PathBuf> {
        doc.get("DEFAULT", "use_syslog")
            .is_none_or(|v| !v.eq_ignore_ascii_case("true"))
            .then(|| log(doc.get("DEFAULT", "log_file"), doc.get("DEFAULT", "log_dir"), workdir))
    };

    let conf = "/etc/keystone/keystone.conf";
    need("keystone", conf.into(), Use::Read, "the keystone service".into());
    if let Some(doc) = read(conf) {
        if doc.get("catalog", "driver").is_some_and(|d| d.contains("templated")) {
            let file = doc.get("catalog", "template_file").unwrap_or_else(|| "default_catalog.templates".into());
            need("keystone", resolve("/var/lib/keystone", &file), Use::Read, "keystone.conf [catalog] template_file".into());
        }
        let policy = doc.get("DEFAULT", "policy_file").unwrap_or_else(|| "policy.json".into());
        need("keystone", resolve("/etc/keystone", &policy), Use::Read, "keystone.conf policy_file".into());
        if let Some(db) = database(doc.get("sql", "connection")) {
            need("keystone", db, Use::Database, "keystone.conf [sql] connection".into());
        }
        if let Some(dir) = file_log(&doc, "/var/lib/keystone") {
            need("keystone", dir, Use::Directory, "keystone.conf log_file / log_dir".into());
        }
    }
    for part in ["api", "registry"] {
        let conf = format!("/etc/glance/glance-{part}.conf");
        need("glance", conf.clone().into(), Use::Read, format!("glance-{part}"));
        need("glance", format!("/etc/glance/glance-{part}-paste.ini").into(), Use::Read, format!("glance-{part} (its paste file)"));
        let Some(doc) = read(&conf) else { continue };
        if part == "api" {
            let policy = doc.get("DEFAULT", "policy_file").unwrap_or_else(|| "policy.json".into());
            need("glance", resolve("/etc/glance", &policy), Use::Read, format!("glance-{part}.conf policy_file"));
        }
        if let Some(db) = database(doc.get("DEFAULT", "sql_connection")) {
            need("glance", db, Use::Database, format!("glance-{part}.conf sql_connection"));
        }
        if let Some(dir) = file_log(&doc, "/var/lib/glance") {
            need("glance", dir, Use::Directory, format!("glance-{part}.conf log_file"));
        }
    }
    let conf = "/etc/nova/nova.conf";
    need("nova", conf.into(), Use::Read, "the nova services".into());
    if let Some(doc) = read(conf) {
        let paste = doc.get("DEFAULT", "api_paste_config").unwrap_or_else(|| "api-paste.ini".into());
        need("nova", resolve("/etc/nova", &paste), Use::Read, "nova.conf api_paste_config".into());
        let policy = doc.get("DEFAULT", "policy_file").unwrap_or_else(|| "policy.json".into());
        need("nova", resolve("/etc/nova", &policy), Use::Read, "nova.conf policy_file".into());
        if let Some(db) = database(doc.get("DEFAULT", "sql_connection")) {
            need("nova", db, Use::Database, "nova.conf sql_connection".into());
        }
        let dir = doc.get("DEFAULT", "logdir").or_else(|| doc.get("DEFAULT", "log_dir"));
        if dir.is_some() || doc.get("DEFAULT", "log_file").is_some() {
            need("nova", log(doc.get("DEFAULT", "log_file"), dir, "/var/lib/nova"), Use::Directory, "nova.conf logdir".into());
        }
    }
    out
}

/// Whether `account` (with its supplementary groups) may do `want` (READ, WRITE, SEARCH bits) to a
/// file: root always; the owner by the owner bits only; a member of its group by the group bits;
/// anyone else by the other bits.
fn permits(meta: &std::fs::Metadata, account: &Account, groups: &[u32], want: u32) -> bool {
    allowed(meta.mode(), meta.uid(), meta.gid(), account, groups, want)
}

fn allowed(mode: u32, owner: u32, group: u32, account: &Account, groups: &[u32], want: u32) -> bool {
    if account.uid == 0 {
        return true;
    }
    let bits = if owner == account.uid {
        mode >> 6
    } else if group == account.gid || groups.contains(&group) {
        mode >> 3
    } else {
        mode
    } & 7;
    bits & want == want
}

/// Why `account` cannot use the file at host path `path` (under `root`) as `used` says, if it cannot.
fn refusal(root: &Path, path: &Path, used: Use, account: &Account, groups: &[u32]) -> Option<String> {
    // Every directory on the way, from the tree's /etc or /var down (the root itself is not the host's).
    let mut dir = PathBuf::from("/");
    let parents: Vec<&std::ffi::OsStr> = path.parent().map(|p| p.iter().skip(1).collect()).unwrap_or_default();
    for part in parents {
        dir.push(part);
        let Ok(local) = rootfs::under_root(root, &dir) else { return Some(format!("{} leads out of the tree", dir.display())) };
        let meta = std::fs::metadata(local).ok()?;
        if !permits(&meta, account, groups, SEARCH) {
            return Some(format!(
                "cannot enter {} (owner {}:{}, mode {:04o})",
                dir.display(),
                meta.uid(),
                meta.gid(),
                meta.mode() & 0o7777
            ));
        }
    }
    let meta = std::fs::metadata(rootfs::under_root(root, path).ok()?).ok()?;
    let (want, what) = match used {
        Use::Read => (READ, "read"),
        Use::Database => (READ | WRITE, "read and write"),
        Use::Directory => (WRITE | SEARCH, "make files in"),
    };
    if !permits(&meta, account, groups, want) {
        return Some(format!("cannot {what} it (owner {}:{}, mode {:04o})", meta.uid(), meta.gid(), meta.mode() & 0o7777));
    }
    if used == Use::Database {
        // SQLite makes its journal next to the database.
        let parent = path.parent().unwrap_or(Path::new("/"));
        let dir_meta = std::fs::metadata(rootfs::under_root(root, parent).ok()?).ok()?;
        if !permits(&dir_meta, account, groups, WRITE | SEARCH) {
            return Some(format!(
                "cannot make SQLite's journal in {} (owner {}:{}, mode {:04o})",
                parent.display(),
                dir_meta.uid(),
                dir_meta.gid(),
                dir_meta.mode() & 0o7777
            ));
        }
    }
    None
}

/// One check per file the written configs name; a warning per service user the tree does not know
/// (its files are then only checked to exist).
pub(super) fn check_files(root: &Path, checks: &mut Vec<Check>) -> Result<()> {
    let owners = Ownership::new(root)?;
    let mut unknown: Vec<&str> = Vec::new();
    for n in needed(root) {
        let local = rootfs::under_root(root, &n.path)?;
        let shown = local.display();
        let Ok(meta) = std::fs::metadata(&local) else {
            checks.push(Check::new(
                Severity::Blocker,
                Reason::ServiceFile,
                format!("{shown} ({}) is missing: {} cannot start", n.named_by, n.service),
                if n.used == Use::Directory {
                    format!("make the directory, owned by {} (the Essex {} package does)", n.service, n.service)
                } else {
                    "run `osmigrate migrate` again (it writes what it configures), or `osmigrate rollback`".to_string()
                },
            ));
            continue;
        };
        let kind_ok = if n.used == Use::Directory { meta.is_dir() } else { meta.is_file() };
        if !kind_ok {
            let kind = if n.used == Use::Directory { "a directory" } else { "a file" };
            checks.push(Check::new(
                Severity::Blocker,
                Reason::ServiceFile,
                format!("{shown} ({}) is not {kind}: {} cannot start", n.named_by, n.service),
                "put the right thing there",
            ));
            continue;
        }
        let Some(account) = owners.account(n.service)? else {
            if !unknown.contains(&n.service) {
                unknown.push(n.service);
                checks.push(Check::new(
                    Severity::Warning,
                    Reason::ServiceUserUnknown,
                    format!(
                        "no user `{}` in {}: whether {} may use its files is not checked, only that they are there",
                        n.service,
                        owners.passwd().display(),
                        n.service
                    ),
                    format!("install the Essex {} package (it makes the user), then verify again", n.service),
                ));
            }
            checks.push(Check::new(Severity::Info, Reason::ServiceFile, format!("{shown} ({}) is there", n.named_by), ""));
            continue;
        };
        let groups = owners.supplementary_gids(n.service)?;
        match refusal(root, &n.path, n.used, &account, &groups) {
            None => checks.push(Check::new(
                Severity::Info,
                Reason::ServiceFile,
                format!("{} (uid {}) can use {shown} ({})", n.service, account.uid, n.named_by),
                "",
            )),
            Some(why) => checks.push(Check::new(
                Severity::Blocker,
                Reason::ServiceFile,
                format!("{} (uid {}) {why}: {shown} ({}); {} cannot start", n.service, account.uid, n.named_by, n.service),
                format!(
                    "chown {}:{} or chmod what is named (run as root, osmigrate gives what it writes to the service)",
                    account.user, account.group
                ),
            )),
        }
    }
    Ok(())
}

/// `check`'s foresight of the directories: the configs a rehearsal rendered under `rendered` name
/// the directories the services will make files in (their SQLite databases' and log directories);
/// each must exist under the controller's `root`, and its service user, when the tree knows it,
/// must be able to make files there, by the rule `verify` applies afterwards.
pub(super) fn foresee_directories(root: &Path, rendered: &Path, checks: &mut Vec<Check>) -> Result<()> {
    let owners = Ownership::new(root)?;
    let mut seen: Vec<PathBuf> = Vec::new();
    for n in needed(rendered) {
        let dir = match n.used {
            Use::Directory => n.path.clone(),
            Use::Database => n.path.parent().map_or_else(|| PathBuf::from("/"), Path::to_path_buf),
            Use::Read => continue,
        };
        if seen.contains(&dir) {
            continue;
        }
        seen.push(dir.clone());
        let local = rootfs::under_root(root, &dir)?;
        if !local.is_dir() {
            checks.push(Check::new(
                Severity::Warning,
                Reason::ServiceDirectory,
                format!("{} ({}) does not exist: {} cannot start until it does", local.display(), n.named_by, n.service),
                format!("make it, owned by {} (the Essex {} package does)", n.service, n.service),
            ));
            continue;
        }
        let Some(account) = owners.account(n.service)? else { continue };
        let groups = owners.supplementary_gids(n.service)?;
        if let Some(why) = refusal(root, &dir, Use::Directory, &account, &groups) {
            checks.push(Check::new(
                Severity::Warning,
                Reason::ServiceDirectory,
                format!("{} (uid {}) {why}: {} ({}); {} cannot start", n.service, account.uid, local.display(), n.named_by, n.service),
                format!("chown {}:{} {} (the Essex package makes it so)", account.user, account.group, local.display()),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_group_and_other_bits_each_decide_for_their_class() {
        let nova = Account { user: "nova".into(), uid: 4101, gid: 4201, group: "nova".into() };
        // The owner's class decides for the owner, even where the group's or others' would allow.
        assert!(!allowed(0o044, 4101, 4201, &nova, &[], READ));
        assert!(allowed(0o400, 4101, 0, &nova, &[], READ));
        // The group's class for a member, by primary or supplementary group.
        assert!(allowed(0o640, 0, 4201, &nova, &[], READ));
        assert!(!allowed(0o640, 0, 4201, &nova, &[], WRITE));
        assert!(allowed(0o640, 0, 115, &nova, &[115], READ));
        assert!(!allowed(0o604, 0, 4201, &nova, &[], READ), "a member is not judged by the other bits");
        // Others.
        assert!(!allowed(0o640, 0, 0, &nova, &[], READ));
        assert!(allowed(0o644, 0, 0, &nova, &[], READ));
        assert!(allowed(0o755, 0, 0, &nova, &[], SEARCH));
        assert!(!allowed(0o755, 0, 0, &nova, &[], WRITE | SEARCH));
        let root = Account { user: "root".into(), uid: 0, gid: 0, group: "root".into() };
        assert!(allowed(0o000, 4101, 4201, &root, &[], READ | WRITE));
    }
}
