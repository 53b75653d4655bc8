//! Every file osmigrate writes, and repairing what root left behind.
//!
//! **One writer** ([`write_file`]) for configs, backups, state, journal, reports, catalog
//! templates, ec2rc files and the config tarball: a fresh temporary file beside the target (its
//! mode and owner set before any byte can be seen), synced, renamed over the name, then the
//! directory synced. A reader sees the old file or the new one, never a partial or empty one, and
//! the rename survives a power cut. A temporary file a killed run left is removed by the next
//! write of that name. Each write ends at the failpoint `file:DIR/NAME` (the file's directory and
//! name, e.g. `file:keystone/keystone.conf`) for the crash tests.
//!
//! A config file ([`write_config`]) is 0640, owned by the service user when osmigrate runs as
//! root and the user exists. A file it replaces is kept first as `FILE.osmigrate-backup` (0600, or
//! the original's mode when stricter, the original's owner); when that name is taken by a
//! different file, `FILE.osmigrate-backup.1`, `.2`, … A file that already holds exactly the new
//! text is left alone (a re-run writes nothing). State files ([`write_private`]) are 0600.
//!
//! Users and groups are looked up in `ROOT/etc/passwd` and `ROOT/etc/group` (`/` without
//! `--root`), never through the host's name service, so that a tree prepared for another machine
//! gets that machine's ids.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::report::{ConfigReport, WrittenFile};
use crate::error::{Error, Result};

pub const MODE: u32 = 0o640;
/// State files, reports, backups: the owner only.
pub const PRIVATE_MODE: u32 = 0o600;
pub const BACKUP_SUFFIX: &str = ".osmigrate-backup";

/// The services whose files and logs osmigrate looks after.
pub const SERVICES: [&str; 3] = ["nova", "glance", "keystone"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub user: String,
    pub uid: u32,
    pub gid: u32,
    pub group: String,
}

/// Where users are looked up and whether files can be given away.
#[derive(Debug, Clone)]
pub struct Ownership {
    root: PathBuf,
    /// The effective uid osmigrate runs as.
    euid: u32,
}

impl Ownership {
    /// Users from `root/etc/passwd`; the running user from the kernel.
    pub fn new(root: &Path) -> Result<Ownership> {
        let euid = fs::metadata("/proc/self").map_err(|e| Error::io("/proc/self", e))?.uid();
        Ok(Ownership { root: root.to_path_buf(), euid })
    }

    pub fn is_root(&self) -> bool {
        self.euid == 0
    }

    pub fn passwd(&self) -> PathBuf {
        self.root.join("etc/passwd")
    }

    /// The service account, if `etc/passwd` has it.
    pub fn account(&self, user: &str) -> Result<Option<Account>> {
        let Some((uid, gid)) = lookup(&self.passwd(), user, |f| Some((f.get(2)?.parse().ok()?, f.get(3)?.parse().ok()?)))? else {
            return Ok(None);
        };
        let group = self.group_name(gid)?.unwrap_or_else(|| gid.to_string());
        Ok(Some(Account { user: user.to_string(), uid, gid, group }))
    }

    /// The groups `etc/group` lists `user` as a member of (besides its primary group).
    pub fn supplementary_gids(&self, user: &str) -> Result<Vec<u32>> {
        let path = self.root.join("etc/group");
        if !path.exists() {
            return Ok(Vec::new());
        }
        let text = fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        Ok(text
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .filter(|f| f.get(3).is_some_and(|members| members.split(',').any(|m| m.trim() == user)))
            .filter_map(|f| f.get(2)?.parse().ok())
            .collect())
    }

    fn group_name(&self, gid: u32) -> Result<Option<String>> {
        let path = self.root.join("etc/group");
        if !path.exists() {
            return Ok(None);
        }
        let text = fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        Ok(text
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f.get(2) == Some(&gid.to_string().as_str()))
            .map(|f| f[0].to_string()))
    }
}

/// The fields of the `name` line of a colon-separated database, through `pick`.
fn lookup<T>(path: &Path, name: &str, pick: impl Fn(&[&str]) -> Option<T>) -> Result<Option<T>> {
    if !path.exists() {
        return Ok(None);
    }
    let text = fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    Ok(text.lines().map(|l| l.split(':').collect::<Vec<_>>()).find(|f| f.first() == Some(&name)).and_then(|f| pick(&f)))
}

/// The mode and (when osmigrate may give files away) the owner of a file written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Perms {
    pub mode: u32,
    /// uid and gid.
    pub owner: Option<(u32, u32)>,
}

impl Perms {
    /// Readable by its writer only: state, reports, backups.
    pub const PRIVATE: Perms = Perms { mode: PRIVATE_MODE, owner: None };

    pub fn mode(mode: u32) -> Perms {
        Perms { mode, owner: None }
    }
}

/// The one writer: `fill` writes the contents into a fresh temporary file beside `path` (created
/// with `perms`), which is synced and renamed over `path`; then the directory is synced. On an
/// error the temporary file is removed and `path` is as it was.
pub fn write_file(path: &Path, perms: Perms, fill: impl FnOnce(&mut fs::File) -> Result<()>) -> Result<()> {
    let (dir, prefix) = temp_prefix(path)?;
    fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    remove_stale_temps(dir, &prefix);
    let tmp = dir.join(format!("{prefix}{}", std::process::id()));
    let result = (|| {
        let io = |e| Error::io(&tmp, e);
        let mut f = fs::OpenOptions::new().write(true).create_new(true).mode(perms.mode).open(&tmp).map_err(io)?;
        // The umask may have taken bits away; the owner is set before a byte is written.
        f.set_permissions(fs::Permissions::from_mode(perms.mode)).map_err(io)?;
        if let Some((uid, gid)) = perms.owner {
            std::os::unix::fs::fchown(&f, Some(uid), Some(gid)).map_err(io)?;
        }
        fill(&mut f)?;
        f.sync_all().map_err(io)?;
        drop(f);
        publish(&tmp, path, dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Renames the finished temporary file over `path`, syncs the directory, and passes the
/// failpoint `file:DIR/NAME`.
fn publish(tmp: &Path, path: &Path, dir: &Path) -> Result<()> {
    fs::rename(tmp, path).map_err(|e| Error::io(path, e))?;
    sync_dir(dir)?;
    let shown: Vec<_> = path.iter().rev().take(2).collect::<Vec<_>>().into_iter().rev().map(|c| c.to_string_lossy()).collect();
    crate::failpoint::hit(&format!("file:{}", shown.join("/")));
    Ok(())
}

/// A symlink at `path` to `target` (rollback puts back the ones a config tree had), replacing
/// what is there the same way: made under a temporary name, renamed over `path`. Left alone when
/// it already is that symlink.
pub fn write_symlink(path: &Path, target: &Path) -> Result<()> {
    if fs::read_link(path).is_ok_and(|t| t == target) {
        return Ok(());
    }
    let (dir, prefix) = temp_prefix(path)?;
    fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    remove_stale_temps(dir, &prefix);
    let tmp = dir.join(format!("{prefix}{}", std::process::id()));
    let result = std::os::unix::fs::symlink(target, &tmp).map_err(|e| Error::io(&tmp, e)).and_then(|()| publish(&tmp, path, dir));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// [`write_file`] of bytes.
pub fn write_bytes(path: &Path, perms: Perms, contents: &[u8]) -> Result<()> {
    write_file(path, perms, |f| f.write_all(contents).map_err(|e| Error::io(path, e)))
}

/// The directory of `path` and the name prefix of its temporary files.
fn temp_prefix(path: &Path) -> Result<(&Path, String)> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| Error::Usage(format!("{}: not a file name", path.display())))?;
    Ok((dir, format!(".{}.osmigrate-tmp-", name.to_string_lossy())))
}

/// Removes the temporary files a killed run left for this name.
fn remove_stale_temps(dir: &Path, prefix: &str) {
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten().filter(|e| e.file_name().to_string_lossy().starts_with(prefix)) {
            let _ = fs::remove_file(e.path());
        }
    }
}

/// Makes a rename in `dir` durable. A filesystem that cannot sync a directory says so with
/// EINVAL: nothing more can be done there.
fn sync_dir(dir: &Path) -> Result<()> {
    let synced = fs::File::open(dir).and_then(|d| d.sync_all());
    match synced {
        Err(e) if e.kind() != std::io::ErrorKind::InvalidInput => Err(Error::io(dir, e)),
        _ => Ok(()),
    }
}

/// Writes `contents` to `path` for `service` (atomically, 0640, backup kept) and records the file
/// (and any owner it could not set) in `report`.
pub fn write_config(path: &Path, contents: &[u8], service: &str, owners: &Ownership, report: &mut ConfigReport) -> Result<()> {
    let shown = path.display().to_string();
    let account = service_owner(&shown, service, owners, report)?;
    let owner = account.as_ref();
    if fs::read(path).is_ok_and(|old| old == contents) {
        let (dir, prefix) = temp_prefix(path)?;
        remove_stale_temps(dir, &prefix);
        settle(path, owner)?;
        report.files.push(WrittenFile { path: shown, backup: None, mode: format!("{MODE:04o}"), owner: owner.map(label), unchanged: true });
        return Ok(());
    }
    let backup = if path.exists() { Some(keep_backup(path, owners)?) } else { None };
    write_bytes(path, Perms { mode: MODE, owner: owner.map(|a| (a.uid, a.gid)) }, contents)?;
    report.files.push(WrittenFile {
        path: shown,
        backup: backup.map(|b| b.display().to_string()),
        mode: format!("{MODE:04o}"),
        owner: owner.map(label),
        unchanged: false,
    });
    Ok(())
}

/// The owner a file written for `service` gets: the service user, when osmigrate runs as root and
/// the tree's `etc/passwd` has it. Otherwise nobody is set, and `report` says why (`owner_not_set`),
/// naming the file as `shown`.
pub fn service_owner(shown: &str, service: &str, owners: &Ownership, report: &mut ConfigReport) -> Result<Option<Account>> {
    let account = owners.account(service)?;
    match (account, owners.is_root()) {
        (Some(a), true) => Ok(Some(a)),
        (None, true) => {
            report.warn(
                "owner_not_set",
                shown,
                "",
                format!("no user `{service}` in {}: the file stays owned by root, which {service} cannot write", owners.passwd().display()),
            );
            Ok(None)
        }
        (Some(a), false) if a.uid != owners.euid => {
            report.warn(
                "owner_not_set",
                shown,
                "",
                format!(
                    "not running as root: the file is owned by uid {} rather than {service}; chown it to {}:{}",
                    owners.euid, a.user, a.group
                ),
            );
            Ok(None)
        }
        _ => Ok(None),
    }
}

/// Gives a file osmigrate made for `service` by other means than [`write_config`] (a new SQLite
/// database, the catalog templates file) what `write_config` gives a config: mode 0640 and the
/// service's owner; records it in `report`.
pub fn settle_for_service(path: &Path, service: &str, owners: &Ownership, report: &mut ConfigReport) -> Result<()> {
    let shown = path.display().to_string();
    let owner = service_owner(&shown, service, owners, report)?;
    settle(path, owner.as_ref())?;
    report.files.push(WrittenFile {
        path: shown,
        backup: None,
        mode: format!("{MODE:04o}"),
        owner: owner.as_ref().map(label),
        unchanged: false,
    });
    Ok(())
}

fn label(a: &Account) -> String {
    format!("{}:{}", a.user, a.group)
}

/// Mode 0640 and, when given, the service's owner.
fn settle(path: &Path, owner: Option<&Account>) -> Result<()> {
    fs::set_permissions(path, fs::Permissions::from_mode(MODE)).map_err(|e| Error::io(path, e))?;
    if let Some(a) = owner {
        std::os::unix::fs::chown(path, Some(a.uid), Some(a.gid)).map_err(|e| Error::io(path, e))?;
    }
    Ok(())
}

/// Keeps the current `path` under the first free backup name (or the existing backup that already
/// holds the same bytes) and returns that name. The backup is 0600 (the original's mode when
/// stricter) and, when osmigrate runs as root, the original's owner: it holds the same secrets.
fn keep_backup(path: &Path, owners: &Ownership) -> Result<PathBuf> {
    let current = fs::read(path).map_err(|e| Error::io(path, e))?;
    let meta = fs::metadata(path).map_err(|e| Error::io(path, e))?;
    let perms = Perms { mode: meta.mode() & PRIVATE_MODE, owner: owners.is_root().then(|| (meta.uid(), meta.gid())) };
    let mut n = 0;
    loop {
        let candidate = backup_name(path, n);
        n += 1;
        match fs::read(&candidate) {
            Ok(existing) if existing == current => {
                let kept = fs::metadata(&candidate).map_err(|e| Error::io(&candidate, e))?;
                if kept.ino() == meta.ino() && kept.dev() == meta.dev() {
                    // A hard link to the live file (an older osmigrate kept backups so): a copy of its own.
                    write_bytes(&candidate, perms, &current)?;
                } else if kept.mode() & 0o777 & !PRIVATE_MODE != 0 {
                    fs::set_permissions(&candidate, fs::Permissions::from_mode(kept.mode() & PRIVATE_MODE))
                        .map_err(|e| Error::io(&candidate, e))?;
                }
                return Ok(candidate);
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                write_bytes(&candidate, perms, &current)?;
                return Ok(candidate);
            }
            Err(e) => return Err(Error::io(&candidate, e)),
        }
    }
}

/// Writes a file readable by its owner only (reports, journals, password files, tokens) through
/// [`write_file`]: an old file's looser mode never stays.
pub fn write_private(path: &Path, contents: &[u8]) -> Result<()> {
    write_bytes(path, Perms::PRIVATE, contents)
}

/// `FILE.osmigrate-backup`, then `FILE.osmigrate-backup.N`.
pub fn backup_name(path: &Path, n: usize) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(BACKUP_SUFFIX);
    if n > 0 {
        name.push(format!(".{n}"));
    }
    PathBuf::from(name)
}

/// The first backup osmigrate made of `path`: the file as it was before osmigrate first wrote it.
pub fn original_of(path: &Path) -> Option<PathBuf> {
    Some(backup_name(path, 0)).filter(|b| b.is_file())
}

/// Gives every root-owned file and directory under `ROOT/var/log/<service>` and
/// `ROOT/var/lib/<service>` (the directories themselves included) to the service user. Symlinks
/// are changed themselves, never followed. `var/lib/nova/instances` is left alone: libvirt sets the
/// owner of instance disks itself while they run. Refused when something needs repair and
/// osmigrate is not root.
pub fn fix_ownership(root: &Path, owners: &Ownership) -> Result<ConfigReport> {
    let mut report = ConfigReport::new("config fix-ownership");
    let mut blocked = Vec::new();
    for service in SERVICES {
        let account = owners.account(service)?;
        for tree in ["var/log", "var/lib"] {
            // A symlinked log directory of a rehearsal tree stays in the tree.
            let top = crate::rootfs::under_root(root, &Path::new(tree).join(service))?;
            if !top.exists() {
                continue;
            }
            report.source(&top);
            let skip = crate::rootfs::under_root(root, Path::new("var/lib/nova/instances"))?;
            let mut found = Vec::new();
            walk(&top, &skip, &mut found)?;
            if top.join("instances") == skip && skip.exists() {
                report.info("skipped", &skip.display().to_string(), "", "instance disks are owned as libvirt sets them; left alone");
            }
            for path in found {
                let shown = path.display().to_string();
                match (&account, owners.is_root()) {
                    (None, _) => {
                        report.warn(
                            "no_service_user",
                            &shown,
                            "",
                            format!("owned by root, but {} has no user `{service}` to give it to", owners.passwd().display()),
                        );
                    }
                    (Some(_), false) => blocked.push(shown),
                    (Some(a), true) => {
                        std::os::unix::fs::lchown(&path, Some(a.uid), Some(a.gid)).map_err(|e| Error::io(&path, e))?;
                        report.info("owner_repaired", &shown, "", format!("was owned by root; now {}", label(a))).from =
                            Some("root".into());
                    }
                }
            }
        }
    }
    if !blocked.is_empty() {
        let sample: Vec<_> = blocked.iter().take(5).cloned().collect();
        return Err(Error::Refused(format!(
            "{} root-owned files need repair and only root can give them away; run as root (first: {})",
            blocked.len(),
            sample.join(", ")
        )));
    }
    Ok(report)
}

/// Every root-owned entry at or under `path`, without following symlinks or entering `skip`.
fn walk(path: &Path, skip: &Path, found: &mut Vec<PathBuf>) -> Result<()> {
    if path == skip {
        return Ok(());
    }
    let meta = fs::symlink_metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.uid() == 0 {
        found.push(path.to_path_buf());
    }
    if meta.is_dir() {
        let mut entries: Vec<_> = fs::read_dir(path)
            .map_err(|e| Error::io(path, e))?
            .map(|e| e.map(|e| e.path()))
            .collect::<std::io::Result<_>>()
            .map_err(|e| Error::io(path, e))?;
        entries.sort();
        for entry in entries {
            walk(&entry, skip, found)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("etc")).unwrap();
        fs::write(dir.path().join("etc/passwd"), "root:x:0:0:root:/root:/bin/bash\nnova:x:4101:4102::/var/lib/nova:/bin/false\n").unwrap();
        fs::write(dir.path().join("etc/group"), "root:x:0:\nnova:x:4102:\n").unwrap();
        dir
    }

    #[test]
    fn accounts_come_from_the_trees_passwd() {
        let dir = tree();
        let owners = Ownership::new(dir.path()).unwrap();
        assert_eq!(owners.account("nova").unwrap(), Some(Account { user: "nova".into(), uid: 4101, gid: 4102, group: "nova".into() }));
        assert_eq!(owners.account("glance").unwrap(), None);
        assert_eq!(Ownership::new(&dir.path().join("nowhere")).unwrap().account("nova").unwrap(), None);
    }

    #[test]
    fn atomic_write_keeps_backups_and_sets_the_mode() {
        let dir = tree();
        let owners = Ownership::new(dir.path()).unwrap();
        let path = dir.path().join("etc/nova/nova.conf");
        let mut report = ConfigReport::new("t");
        write_config(&path, b"one\n", "nova", &owners, &mut report).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, MODE);
        assert_eq!(report.files[0].backup, None);
        write_config(&path, b"two\n", "nova", &owners, &mut report).unwrap();
        assert_eq!(fs::read(backup_name(&path, 0)).unwrap(), b"one\n");
        write_config(&path, b"two\n", "nova", &owners, &mut report).unwrap();
        assert!(report.files[2].unchanged);
        write_config(&path, b"three\n", "nova", &owners, &mut report).unwrap();
        assert_eq!(fs::read(backup_name(&path, 1)).unwrap(), b"two\n");
        assert_eq!(original_of(&path), Some(backup_name(&path, 0)));
        let leftovers: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().contains("tmp"))
            .collect();
        assert!(leftovers.is_empty());
        if owners.is_root() {
            assert_eq!((fs::metadata(&path).unwrap().uid(), fs::metadata(&path).unwrap().gid()), (4101, 4102));
            assert_eq!(report.files[3].owner.as_deref(), Some("nova:nova"));
            let mut r = ConfigReport::new("t");
            write_config(&dir.path().join("etc/glance/glance-api.conf"), b"x", "glance", &owners, &mut r).unwrap();
            assert_eq!(r.changes[0].code, "owner_not_set");
        }
    }

    #[test]
    fn backups_are_private_and_killed_writes_leave_nothing_behind() {
        let dir = tree();
        let owners = Ownership::new(dir.path()).unwrap();
        let path = dir.path().join("etc/keystone/keystone.conf");
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, "admin_token = diablo\n").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        // What a run killed between creating and renaming its temporary file left.
        let stale = path.with_file_name(".keystone.conf.osmigrate-tmp-999999");
        fs::write(&stale, "half").unwrap();
        let mut report = ConfigReport::new("t");
        write_config(&path, b"admin_token = essex\n", "keystone", &owners, &mut report).unwrap();
        let backup = backup_name(&path, 0);
        assert_eq!(fs::read(&backup).unwrap(), b"admin_token = diablo\n");
        assert_eq!(fs::metadata(&backup).unwrap().mode() & 0o777, 0o600, "a backup holds the same secrets: 0600");
        assert_ne!(fs::metadata(&backup).unwrap().ino(), fs::metadata(&path).unwrap().ino());
        assert!(!stale.exists(), "the killed run's temporary file is gone");
        // A stricter original keeps its mode; an old loose backup of the same bytes is tightened.
        fs::set_permissions(&backup, fs::Permissions::from_mode(0o644)).unwrap();
        fs::write(&path, "admin_token = diablo\n").unwrap();
        write_config(&path, b"admin_token = essex\n", "keystone", &owners, &mut report).unwrap();
        assert_eq!(fs::metadata(&backup).unwrap().mode() & 0o777, 0o600);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).unwrap();
        write_config(&path, b"admin_token = third\n", "keystone", &owners, &mut report).unwrap();
        assert_eq!(fs::metadata(backup_name(&path, 1)).unwrap().mode() & 0o777, 0o400);

        // The private writer replaces a loose file with a 0600 one; a failed fill leaves the old file.
        let state = dir.path().join("state/journal.json");
        fs::create_dir_all(state.parent().unwrap()).unwrap();
        fs::write(&state, "old").unwrap();
        fs::set_permissions(&state, fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&state, b"new").unwrap();
        assert_eq!((fs::read(&state).unwrap(), fs::metadata(&state).unwrap().mode() & 0o777), (b"new".to_vec(), 0o600));
        let failed = write_file(&state, Perms::PRIVATE, |f| {
            f.write_all(b"partial").map_err(|e| Error::io("x", e))?;
            Err(Error::Refused("stopped half-way".into()))
        });
        assert!(failed.is_err());
        assert_eq!(fs::read(&state).unwrap(), b"new");
        assert_eq!(fs::read_dir(state.parent().unwrap()).unwrap().count(), 1, "no temporary file left");
        // Symlinks are put back the same way.
        let link = dir.path().join("state/link");
        write_symlink(&link, Path::new("/etc/nova/nova.conf")).unwrap();
        write_symlink(&link, Path::new("/etc/nova/other.conf")).unwrap();
        assert_eq!(fs::read_link(&link).unwrap(), Path::new("/etc/nova/other.conf"));
    }

    #[test]
    fn root_owned_logs_are_given_back() {
        let dir = tree();
        let owners = Ownership::new(dir.path()).unwrap();
        for p in ["var/log/nova/nova-api.log", "var/lib/nova/instances/i-1/disk", "var/log/glance/api.log"] {
            let p = dir.path().join(p);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, "x").unwrap();
        }
        std::os::unix::fs::symlink("/etc/shadow", dir.path().join("var/log/nova/link")).unwrap();
        if !owners.is_root() {
            return;
        }
        let report = fix_ownership(dir.path(), &owners).unwrap();
        let meta = |p: &str| fs::symlink_metadata(dir.path().join(p)).unwrap();
        assert_eq!(meta("var/log/nova/nova-api.log").uid(), 4101);
        assert_eq!(meta("var/log/nova").uid(), 4101);
        assert_eq!(meta("var/log/nova/link").uid(), 4101);
        assert_eq!(fs::metadata("/etc/shadow").map_or(0, |m| m.uid()), 0, "a symlink's target is never touched");
        assert_eq!(meta("var/lib/nova/instances/i-1/disk").uid(), 0);
        assert_eq!(meta("var/log/glance/api.log").uid(), 0);
        assert!(report.changes_with("no_service_user").any(|c| c.file.ends_with("var/log/glance/api.log")));
        assert!(report.changes_with("skipped").count() == 1);
        assert_eq!(fix_ownership(dir.path(), &owners).unwrap().changes_with("owner_repaired").count(), 0);
    }
}
