//! The tree osmigrate works on (`--root`): `/` on the live host, any directory for a rehearsal.
//!
//! Every path of the tree, fixed (`/etc/nova/nova.conf`) or read from a config file (a
//! `--flagfile=` include, a SQLite URL, a backup's entry), is reached through [`under_root`], so a
//! rehearsal never reads or writes outside its tree. The host path is resolved the way the kernel
//! resolves it inside a chroot at the root: `.` dropped, `..` taken back one component, and every
//! symlink met on the way followed inside the tree (an absolute target starts again at the root).
//! A `..` above the top, or a symlink loop, is refused with [`Error::OutsideRoot`]. On the live
//! host (`/`) a path is used as written: the kernel resolves it.
//!
//! Config files are read through [`read_config`]: regular files only (a device such as
//! `/dev/zero` or a FIFO is refused at once) of at most [`MAX_CONFIG_BYTES`].

use std::ffi::OsString;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};

/// Symlinks followed while resolving one path at most (Linux's own limit).
const MAX_LINKS: usize = 40;

/// The largest config file osmigrate reads (Diablo's largest shipped file is under 10 KiB).
pub const MAX_CONFIG_BYTES: u64 = 4 << 20;

/// Whether `root` is the live host's `/` (as written, or a path that resolves to it).
pub fn is_host(root: &Path) -> bool {
    lexical_root(root) || std::fs::canonicalize(root).is_ok_and(|p| p == Path::new("/"))
}

/// `/`, `//`, `/.`, … : the root itself, written out.
fn lexical_root(root: &Path) -> bool {
    root.has_root() && root.components().all(|c| matches!(c, Component::RootDir | Component::CurDir))
}

enum Part {
    Parent,
    Name(OsString),
}

fn parts(path: &Path) -> impl DoubleEndedIterator<Item = Part> + '_ {
    path.components().filter_map(|c| match c {
        Component::ParentDir => Some(Part::Parent),
        Component::Normal(n) => Some(Part::Name(n.to_os_string())),
        Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
    })
}

/// The host path `host_path` (absolute, or relative to `/`) as reached under `root`, resolved
/// inside the tree (see the module documentation). The error names the path itself; callers that
/// know where it was written add that with [`named_at`].
pub fn under_root(root: &Path, host_path: &Path) -> Result<PathBuf> {
    if lexical_root(root) {
        return Ok(Path::new("/").join(host_path));
    }
    let outside = |why: &str| Error::OutsideRoot {
        at: host_path.display().to_string(),
        path: host_path.to_path_buf(),
        root: root.to_path_buf(),
        why: why.to_string(),
    };
    let mut inside = PathBuf::new();
    // What is left to resolve, last component first.
    let mut pending: Vec<Part> = parts(host_path).rev().collect();
    let mut links = 0;
    while let Some(part) = pending.pop() {
        match part {
            Part::Parent => {
                if !inside.pop() {
                    return Err(outside("`..` climbs above the top of the tree"));
                }
            }
            Part::Name(name) => {
                inside.push(name);
                let here = root.join(&inside);
                if !std::fs::symlink_metadata(&here).is_ok_and(|m| m.file_type().is_symlink()) {
                    continue;
                }
                links += 1;
                if links > MAX_LINKS {
                    return Err(outside(&format!("more than {MAX_LINKS} symlinks on the way (a loop)")));
                }
                let target = std::fs::read_link(&here).map_err(|e| Error::io(&here, e))?;
                inside.pop();
                if target.has_root() {
                    inside.clear();
                }
                pending.extend(parts(&target).rev());
            }
        }
    }
    Ok(root.join(inside))
}

/// Adds where a path was written (`file:line`, a URL) to an [`Error::OutsideRoot`].
pub fn named_at(at: impl std::fmt::Display) -> impl FnOnce(Error) -> Error {
    move |e| match e {
        Error::OutsideRoot { path, root, why, .. } => Error::OutsideRoot { at: at.to_string(), path, root, why },
        other => other,
    }
}

/// A config file's bytes: a regular file of at most [`MAX_CONFIG_BYTES`]. `at` says where the
/// file was named (`file:line`), for the error.
pub fn read_config(path: &Path, at: Option<&str>) -> Result<Vec<u8>> {
    let refuse = |reason: String| Error::BadFile { path: path.to_path_buf(), at: at.map(str::to_string), reason };
    let limit = |len: u64| {
        (len > MAX_CONFIG_BYTES).then(|| refuse(format!("{len} bytes or more; config files are read up to {MAX_CONFIG_BYTES} bytes")))
    };
    let io = |e: std::io::Error| match at {
        Some(at) => Error::io(path, std::io::Error::new(e.kind(), format!("{e} (named at {at})"))),
        None => Error::io(path, e),
    };
    // Checked before opening: opening a FIFO would wait for a writer.
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(refuse("not a regular file".into()));
    }
    if let Some(e) = limit(meta.len()) {
        return Err(e);
    }
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_CONFIG_BYTES + 1).read_to_end(&mut bytes).map_err(io)?;
    match limit(bytes.len() as u64) {
        Some(e) => Err(e),
        None => Ok(bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_paths_resolve_inside_the_tree() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("etc/nova")).unwrap();
        std::fs::create_dir_all(root.join("srv/conf")).unwrap();
        let p = |s: &str| under_root(root, Path::new(s));
        assert_eq!(p("/etc/nova/nova.conf").unwrap(), root.join("etc/nova/nova.conf"));
        assert_eq!(p("/etc/./nova/../nova//x").unwrap(), root.join("etc/nova/x"));
        assert_eq!(p("etc/nova").unwrap(), root.join("etc/nova"));
        // An absolute symlink starts again at the root; a relative one from its directory.
        std::os::unix::fs::symlink("/srv/conf", root.join("etc/shared")).unwrap();
        std::os::unix::fs::symlink("../srv/conf/b", root.join("etc/rel")).unwrap();
        assert_eq!(p("/etc/shared/a.conf").unwrap(), root.join("srv/conf/a.conf"));
        assert_eq!(p("/etc/rel").unwrap(), root.join("srv/conf/b"));
        assert_eq!(p("/etc/shared/../x").unwrap(), root.join("srv/x"), "`..` after a symlink leaves its target, as the kernel does");

        let e = p("/var/lib/nova/../../../../etc/shadow").unwrap_err();
        assert!(matches!(e, Error::OutsideRoot { .. }), "{e}");
        assert!(e.to_string().contains("`..` climbs above the top of the tree"), "{e}");
        std::os::unix::fs::symlink("../../..", root.join("etc/up")).unwrap();
        assert!(matches!(p("/etc/up/x").unwrap_err(), Error::OutsideRoot { .. }));
        std::os::unix::fs::symlink("/etc/loop", root.join("etc/loop")).unwrap();
        let e = under_root(root, Path::new("/etc/loop/x")).map_err(named_at("nova.conf:3")).unwrap_err().to_string();
        assert!(e.starts_with("nova.conf:3: `/etc/loop/x` leads outside the tree") && e.contains("symlinks"), "{e}");

        // On the live host a path is the kernel's to resolve.
        assert_eq!(under_root(Path::new("/"), Path::new("/a/../b")).unwrap(), Path::new("/a/../b"));
        assert!(is_host(Path::new("/")) && is_host(Path::new("//.")) && !is_host(root));
    }

    #[test]
    fn config_reads_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let small = dir.path().join("small.conf");
        std::fs::write(&small, "--verbose\n").unwrap();
        assert_eq!(read_config(&small, None).unwrap(), b"--verbose\n");
        let e = read_config(Path::new("/dev/zero"), Some("nova.conf:2")).unwrap_err().to_string();
        assert_eq!(e, "/dev/zero: not a regular file (named at nova.conf:2)");
        let big = dir.path().join("big.conf");
        std::fs::File::create(&big).unwrap().set_len(MAX_CONFIG_BYTES + 1).unwrap();
        assert!(read_config(&big, None).unwrap_err().to_string().contains("config files are read up to 4194304 bytes"));
        let e = read_config(&dir.path().join("missing"), Some("a:1")).unwrap_err().to_string();
        assert!(e.contains("missing") && e.contains("(named at a:1)"), "{e}");
    }
}
