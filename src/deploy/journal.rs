//! The state directory: a journal of finished steps (rewritten atomically after each), the lock
//! that keeps a second run out, and the tarball of the Diablo configs.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::discover::under_root;
use crate::config::write::write_private;
use crate::error::{Error, Result};

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

/// A lock file holding the owner's pid; a stale one (its process gone) is taken over.
pub struct Lock {
    path: PathBuf,
}

impl Lock {
    pub fn acquire(state_dir: &Path) -> Result<Lock> {
        std::fs::create_dir_all(state_dir).map_err(|e| Error::io(state_dir, e))?;
        let path = state_dir.join(LOCK);
        for _ in 0..2 {
            match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path) {
                Ok(mut f) => {
                    writeln!(f, "{}", std::process::id()).map_err(|e| Error::io(&path, e))?;
                    return Ok(Lock { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = std::fs::read_to_string(&path).unwrap_or_default().trim().parse::<i32>().ok();
                    // Signal 0 only checks that the process exists (EPERM: it does, as another user).
                    let alive = holder
                        .and_then(rustix::process::Pid::from_raw)
                        .is_some_and(|pid| matches!(rustix::process::test_kill_process(pid), Ok(()) | Err(rustix::io::Errno::PERM)));
                    if alive {
                        return Err(Error::Refused(format!(
                            "another osmigrate (pid {}) holds {}: wait for it to finish",
                            holder.unwrap_or_default(),
                            path.display()
                        )));
                    }
                    std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
                }
                Err(e) => return Err(Error::io(&path, e)),
            }
        }
        Err(Error::Refused(format!("cannot take the lock {}", path.display())))
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Saves the Diablo config directories into the state directory (once: a re-run keeps the first,
/// which holds the Diablo files). Mode 0600: the files hold passwords.
pub fn backup_configs(root: &Path, state_dir: &Path) -> Result<String> {
    let path = state_dir.join(BACKUP);
    if path.exists() {
        return Ok(format!("{} kept from the first run", path.display()));
    }
    let tmp = path.with_extension("tar.tmp");
    let file =
        std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let mut tar = tar::Builder::new(file);
    for dir in CONFIG_DIRS {
        let src = under_root(root, Path::new("/").join(dir).as_path());
        if src.is_dir() {
            tar.append_dir_all(dir, &src).map_err(|e| Error::io(&src, e))?;
        }
    }
    let file = tar.into_inner().map_err(|e| Error::io(&tmp, e))?;
    file.sync_all().map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
    Ok(format!("saved {} to {}", CONFIG_DIRS.join(", "), path.display()))
}

/// Puts every file of the backup back in place; returns the files restored.
pub fn restore_configs(root: &Path, state_dir: &Path) -> Result<Vec<String>> {
    let path = state_dir.join(BACKUP);
    let file = std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
    let mut archive = tar::Archive::new(file);
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(true);
    let mut restored = Vec::new();
    for entry in archive.entries().map_err(|e| Error::io(&path, e))? {
        let mut entry = entry.map_err(|e| Error::io(&path, e))?;
        let rel = entry.path().map_err(|e| Error::io(&path, e))?.into_owned();
        let dest = root.join(&rel);
        if entry.header().entry_type().is_file() {
            restored.push(dest.display().to_string());
        }
        entry.unpack_in(root).map_err(|e| Error::io(&dest, e))?;
    }
    Ok(restored)
}
