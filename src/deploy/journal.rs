//! The state directory: a journal of finished steps (rewritten atomically after each), the lock
//! that keeps a second run out, and the tarball of the Diablo configs. Every file here is written
//! by the one writer ([`crate::config::write::write_file`]), 0600.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::config::write::{Perms, write_bytes, write_file, write_private, write_symlink};
use crate::error::{Error, Result};
use crate::rootfs::{self, under_root};

const JOURNAL: &str = "journal.json";
const LOCK: &str = "lock";
const BACKUP: &str = "diablo-etc.tar";
const CONFIG_DIRS: &[&str] = &["etc/keystone", "etc/glance", "etc/nova"];

pub struct Journal {
    path: PathBuf,
    steps: BTreeMap<String, String>,
}

impl Journal {
    pub fn open(state_dir: &Path) -> Result<Journal> {
        let path = state_dir.join(JOURNAL);
        let steps = match std::fs::read_to_string(&path) {
            Ok(text) => {
                serde_json::from_str(&text).map_err(|e| Error::Refused(format!("{}: not an osmigrate journal ({e})", path.display())))?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(Error::io(&path, e)),
        };
        Ok(Journal { path, steps })
    }

    pub fn is_done(&self, step: &str) -> bool {
        self.steps.contains_key(step)
    }

    pub fn detail(&self, step: &str) -> String {
        self.steps.get(step).cloned().unwrap_or_default()
    }

    /// Records a finished step: written to a temporary file, synced, renamed over the journal.
    pub fn done(&mut self, step: &str, detail: &str) -> Result<()> {
        self.steps.insert(step.to_string(), detail.to_string());
        self.save()
    }

    pub fn clear(&mut self) -> Result<()> {
        self.steps.clear();
        self.save()
    }

    fn save(&self) -> Result<()> {
        write_private(&self.path, serde_json::to_string_pretty(&self.steps).expect("serializes").as_bytes())
    }
}

/// The state directory's lock: `STATE/lock`, held with flock(2) for the whole run and holding the
/// holder's pid (for the message). The kernel releases it when its process ends however it ends,
/// so a lock left by a killed run is never in the way.
pub struct Lock {
    path: PathBuf,
    _file: std::fs::File,
}

impl Lock {
    /// Takes the lock, or refuses naming the pid that holds it. migrate, rollback and verify
    /// take it: none of them runs while another does.
    pub fn acquire(state_dir: &Path) -> Result<Lock> {
        // The state directory itself is its owner's only; its parents are made as usual.
        if let Some(parent) = state_dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        match std::fs::DirBuilder::new().mode(0o700).create(state_dir) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(Error::io(state_dir, e)),
            _ => {}
        }
        let path = state_dir.join(LOCK);
        let io = |e: std::io::Error| Error::io(&path, e);
        // The holder removes the file as it lets go: a lock taken on a file no longer at the path
        // is taken again on the new one.
        for _ in 0..8 {
            let mut file =
                std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).mode(0o600).open(&path).map_err(io)?;
            match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => {}
                Err(rustix::io::Errno::WOULDBLOCK) => {
                    let holder = std::fs::read_to_string(&path).unwrap_or_default();
                    let pid = Some(holder.trim()).filter(|p| !p.is_empty()).unwrap_or("unknown");
                    return Err(Error::Refused(format!(
                        "another osmigrate (pid {pid}) holds {}: a migration or rollback is running; wait for it to finish",
                        path.display()
                    )));
                }
                Err(e) => return Err(io(e.into())),
            }
            let locked = file.metadata().map_err(io)?;
            if !std::fs::metadata(&path).is_ok_and(|m| m.ino() == locked.ino() && m.dev() == locked.dev()) {
                continue;
            }
            file.set_len(0).map_err(io)?;
            writeln!(file, "{}", std::process::id()).map_err(io)?;
            return Ok(Lock { path, _file: file });
        }
        Err(Error::Refused(format!("cannot take the lock {}: other processes keep taking it", path.display())))
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Removed while still held; the file is closed (and the lock released) right after.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Saves the Diablo config directories into the state directory (once: a re-run keeps the first,
/// which holds the Diablo files), through the one writer. Mode 0600: the files hold passwords.
/// Symlinks inside the directories are kept as symlinks, never followed out of the tree.
pub fn backup_configs(root: &Path, state_dir: &Path) -> Result<String> {
    let path = state_dir.join(BACKUP);
    if path.exists() {
        return Ok(format!("{} kept from the first run", path.display()));
    }
    write_file(&path, Perms::PRIVATE, |file| {
        let mut tar = tar::Builder::new(file);
        tar.follow_symlinks(false);
        for dir in CONFIG_DIRS {
            let src = under_root(root, &Path::new("/").join(dir))?;
            if src.is_dir() {
                tar.append_dir_all(dir, &src).map_err(|e| Error::io(&src, e))?;
            }
        }
        tar.finish().map_err(|e| Error::io(&path, e))
    })?;
    Ok(format!("saved {} to {}", CONFIG_DIRS.join(", "), path.display()))
}

/// Refuses when no migration saved the configs in this state directory.
pub fn require_backup(state_dir: &Path) -> Result<()> {
    let path = state_dir.join(BACKUP);
    if path.is_file() {
        Ok(())
    } else {
        Err(Error::Refused(format!("{} is missing: no migration saved the Diablo configs here, nothing to roll back", path.display())))
    }
}

/// Puts every file of the backup back in place, each through the one writer (atomically, with
/// its saved mode, and its owner when osmigrate runs as root): a file is the Essex one or the
/// Diablo one at every moment, never missing or partial. Returns the files restored.
pub fn restore_configs(root: &Path, state_dir: &Path) -> Result<Vec<String>> {
    let path = state_dir.join(BACKUP);
    let file = std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
    let as_root = rustix::process::geteuid().is_root();
    let mut archive = tar::Archive::new(file);
    let mut restored = Vec::new();
    for entry in archive.entries().map_err(|e| Error::io(&path, e))? {
        let mut entry = entry.map_err(|e| Error::io(&path, e))?;
        let rel = entry.path().map_err(|e| Error::io(&path, e))?.into_owned();
        let dest =
            under_root(root, &Path::new("/").join(&rel)).map_err(rootfs::named_at(format!("{}: {}", path.display(), rel.display())))?;
        let header = entry.header();
        let mode = header.mode().map_err(|e| Error::io(&path, e))? & 0o7777;
        let owner = if as_root {
            Some((header.uid().map_err(|e| Error::io(&path, e))? as u32, header.gid().map_err(|e| Error::io(&path, e))? as u32))
        } else {
            None
        };
        let kind = header.entry_type();
        if kind.is_dir() {
            if !dest.is_dir() {
                std::fs::DirBuilder::new().recursive(true).mode(mode).create(&dest).map_err(|e| Error::io(&dest, e))?;
            }
        } else if kind.is_symlink() {
            let target = entry.link_name().map_err(|e| Error::io(&path, e))?.unwrap_or_default().into_owned();
            write_symlink(&dest, &target)?;
            restored.push(dest.display().to_string());
        } else if kind.is_file() {
            let mut contents = Vec::new();
            entry.read_to_end(&mut contents).map_err(|e| Error::io(&path, e))?;
            let perms = Perms { mode, owner };
            if !holds(&dest, &contents, perms) {
                write_bytes(&dest, perms, &contents)?;
            }
            restored.push(dest.display().to_string());
        }
    }
    Ok(restored)
}

/// Whether `path` is a regular file holding exactly `contents` with `perms`.
fn holds(path: &Path, contents: &[u8], perms: Perms) -> bool {
    let Ok(meta) = std::fs::symlink_metadata(path) else { return false };
    meta.is_file()
        && meta.mode() & 0o7777 == perms.mode
        && perms.owner.is_none_or(|(u, g)| (meta.uid(), meta.gid()) == (u, g))
        && std::fs::read(path).is_ok_and(|old| old == contents)
}
