//! Diablo's `nova.conf`, a python-gflags 1.3 flagfile, read the way nova 2011.3 read it.
//!
//! gflags first splices every flagfile into one argument list, then gives that list to Python's
//! `getopt`; nova's wrapper ignores unknown flags. Hence:
//! - A line starting in column 0 with `#` or `//`, or blank, is skipped; any other line is stripped
//!   and becomes one argument.
//! - A column-0 `--flagfile=F` (or `-flagfile=F`) splices F in place, relative to nova's current
//!   directory, not the including file's (`~` is not expanded: it meant the nova user's home).
//!   gflags reads a file name once, so a second include of it is skipped. An include of a file
//!   still being read is refused (gflags warned and skipped it). An indented `--flagfile=` was no
//!   include: getopt saw an unknown flag `flagfile`, reported here under that name.
//! - getopt stops at the first argument that is not an option: a line that, stripped, does not
//!   start with `-` (typically an indented comment), a lone `-`, or `--`. Nothing after it was
//!   applied, though the includes after it were still read.
//! - `--name=value` assigns, without quoting: `"a b"` keeps its quotes. A bare `--name` sets a
//!   boolean option and `--noname` clears it; a bare non-boolean option takes the next argument as
//!   its value (getopt's `--name value`). Names match the Diablo list exactly: getopt also took
//!   unique abbreviations, but uniqueness depended on the flags each binary had loaded, so an
//!   abbreviation is reported under the name written.
//! - A single-dash `-name` is a getopt short option; nova defines none, so gflags raised and the
//!   service did not start. Such a file is refused, as is a boolean gflags could not parse.
//! - The last assignment wins; a multistring option keeps them all; list items are stripped.
//!
//! Unlike gflags, files are read inside the tree being migrated (`--root`: a rehearsal's
//! `--flagfile=/etc/nova/common.conf` is the tree's file, and `..` cannot leave it), and only
//! regular files of at most 4 MiB, nested at most 16 deep: `--flagfile=/dev/zero` is refused.

use std::borrow::Cow;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::options::{OptionKind, Release, is_py_space, nova_option};
use crate::error::{Error, Result};
use crate::rootfs;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagEntry {
    pub name: String,
    /// As normalized for the option's Diablo type ([`OptionKind::normalize`]).
    pub value: String,
    /// As written after `=` (or the next line, or `true`/`false` for a bare switch).
    pub written: String,
    pub source: PathBuf,
    pub line: usize,
    /// The value starts or ends with a quote that gflags kept as part of it.
    pub quoted: bool,
    /// `--name` without `=`: gflags took the next line (this one) as the value.
    pub value_from_line: Option<usize>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flagfile {
    /// Every assignment Diablo applied, in order, includes spliced in place.
    pub entries: Vec<FlagEntry>,
    /// The argument that ended option parsing.
    pub stopped_at: Option<(PathBuf, usize)>,
    /// The assignments written after `stopped_at`, which Diablo never saw.
    pub ignored_after_stop: Vec<FlagEntry>,
    /// Every file read, in order.
    pub files: Vec<PathBuf>,
    /// Every `--flagfile=` line that spliced a file in, in order.
    pub includes: Vec<Include>,
}

/// A file spliced in by a `--flagfile=` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Include {
    pub path: PathBuf,
    pub from: PathBuf,
    pub line: usize,
}

impl Flagfile {
    /// The assignment in effect: gflags keeps the last.
    pub fn last(&self, name: &str) -> Option<&FlagEntry> {
        self.entries.iter().rev().find(|e| e.name == name)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.last(name).map(|e| e.value.as_str())
    }

    /// Every value assigned, in order: a multistring option's value.
    pub fn get_all(&self, name: &str) -> Vec<&str> {
        self.entries.iter().filter(|e| e.name == name).map(|e| e.value.as_str()).collect()
    }
}

/// Whether `text` is a flagfile rather than an INI file, decided as Essex's on-the-fly converter
/// decides: by whether its first line that is neither blank nor a comment starts with `--`.
pub fn is_flagfile(text: &str) -> bool {
    text.lines().find(|l| !is_skipped(l.as_bytes())).is_some_and(|l| l.trim_matches(is_py_space).starts_with("--"))
}

/// A flagfile as nova was given it: its path and nova's working directory (host paths), and the
/// tree both are read under (`/` on the live host).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagfileAt {
    pub path: PathBuf,
    pub cwd: PathBuf,
    pub root: PathBuf,
}

impl FlagfileAt {
    /// A file of this host, relative names taken from osmigrate's own directory.
    pub fn host(path: PathBuf) -> Result<FlagfileAt> {
        let cwd = std::env::current_dir().map_err(|e| Error::io(".", e))?;
        Ok(FlagfileAt { path, cwd, root: PathBuf::from("/") })
    }

    /// Where osmigrate reaches the file itself.
    pub fn local(&self) -> Result<PathBuf> {
        rootfs::under_root(&self.root, &self.cwd.join(&self.path))
    }

    pub fn read(&self) -> Result<Flagfile> {
        read_flagfiles(std::slice::from_ref(&self.path), &self.cwd, &self.root)
    }
}

/// Includes nested deeper than this are refused (gflags had no limit; no real config nests so).
pub const MAX_INCLUDE_DEPTH: usize = 16;

/// One flagfile of the live host: `path` and relative includes are taken relative to `cwd`, the
/// directory nova was started in.
pub fn read_flagfile(path: &Path, cwd: &Path) -> Result<Flagfile> {
    read_flagfiles(&[path.to_path_buf()], cwd, Path::new("/"))
}

/// Several flagfiles given on nova's command line (`--flagfile=A --flagfile=B`, as distribution
/// init scripts started the services): spliced one after the other, as gflags did. `paths`, `cwd`
/// and every include are host paths, read under `root` ([`rootfs::under_root`]: a rehearsal tree's
/// `--flagfile=/etc/nova/common.conf` is the tree's file, and no `..` leaves the tree). Each file
/// is a regular file of at most [`rootfs::MAX_CONFIG_BYTES`], nested at most
/// [`MAX_INCLUDE_DEPTH`] deep.
pub fn read_flagfiles(paths: &[PathBuf], cwd: &Path, root: &Path) -> Result<Flagfile> {
    let mut splicer = Splicer { cwd, root, args: Vec::new(), files: Vec::new(), includes: Vec::new(), open: Vec::new() };
    for path in paths {
        splicer.splice(&cwd.join(path), None)?;
    }
    let args = splicer.args;
    let mut flagfile = Flagfile { files: splicer.files, includes: splicer.includes, ..Flagfile::default() };
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        i += 1;
        let live = flagfile.stopped_at.is_none();
        let body = match arg.text.strip_prefix("--") {
            Some(body) if !body.is_empty() => body,
            _ if !live => continue,
            None if arg.text.len() > 1 && arg.text.starts_with('-') => {
                let name = arg.text.split(['=', ' ', '\t']).next().unwrap_or_default();
                return Err(refuse(arg, name, "a single dash makes a getopt short option, and nova defines none"));
            }
            _ => {
                flagfile.stopped_at = Some((arg.source.clone(), arg.line));
                continue;
            }
        };
        let mut value_from_line = None;
        let (name, value) = match body.split_once('=') {
            Some((name, value)) => (name, Cow::Borrowed(value)),
            None => match bare(body) {
                Bare::Switch(name, on) => (name, Cow::Owned(on.to_string())),
                Bare::Unknown => (body, Cow::Borrowed("true")),
                Bare::TakesNext => {
                    let next = args.get(i);
                    i += 1;
                    match next {
                        Some(next) => {
                            value_from_line = Some(next.line);
                            (body, as_getopt_sees(&next.text))
                        }
                        None if live => return Err(refuse(arg, &arg.text, "this option needs a value and no line follows")),
                        None => (body, Cow::Borrowed("")),
                    }
                }
            },
        };
        let normalized = match nova_option(Release::Diablo, name).map(|o| o.kind.normalize(&value)) {
            Some(Some(normalized)) => normalized,
            Some(None) if live => return Err(refuse(arg, &format!("--{name}"), "not a boolean gflags accepts (true/t/1/false/f/0)")),
            _ => value.to_string(),
        };
        let entry = FlagEntry {
            name: name.to_owned(),
            quoted: normalized.starts_with(['"', '\'']) || normalized.ends_with(['"', '\'']),
            value: normalized,
            written: value.into_owned(),
            source: arg.source.clone(),
            line: arg.line,
            value_from_line,
        };
        if live { &mut flagfile.entries } else { &mut flagfile.ignored_after_stop }.push(entry);
    }
    Ok(flagfile)
}

/// One argument of the list gflags handed to getopt.
struct Arg {
    text: String,
    source: PathBuf,
    line: usize,
}

/// Builds the argument list from a flagfile and its includes.
struct Splicer<'a> {
    cwd: &'a Path,
    root: &'a Path,
    args: Vec<Arg>,
    files: Vec<PathBuf>,
    includes: Vec<Include>,
    /// The files being read, outermost first (canonical, as named): a loop is caught however its
    /// paths are spelled.
    open: Vec<(PathBuf, PathBuf)>,
}

impl Splicer<'_> {
    /// Splices the file at host path `host` (an include of `included_from`, a file and line).
    fn splice(&mut self, host: &Path, included_from: Option<(&Path, usize)>) -> Result<()> {
        let at = included_from.map(|(from, line)| format!("{}:{line}", from.display()));
        let path = rootfs::under_root(self.root, host).map_err(rootfs::named_at(at.as_deref().unwrap_or("--flagfile")))?;
        let not_readable = |e: io::Error| match included_from {
            Some((from, line)) => Error::io(&path, io::Error::new(e.kind(), format!("{e} (included from {}:{line})", from.display()))),
            None => Error::io(&path, e),
        };
        let canonical = fs::canonicalize(&path).map_err(not_readable)?;
        if let Some((from, line)) = included_from.filter(|_| self.open.iter().any(|(open, _)| *open == canonical)) {
            let chain: Vec<_> = self.open.iter().map(|(_, named)| named).chain([&path]).map(|p| p.display().to_string()).collect();
            return Err(Error::Usage(format!("{}:{line}: include cycle: {}", from.display(), chain.join(" → "))));
        }
        if self.files.contains(&path) {
            return Ok(());
        }
        if self.open.len() >= MAX_INCLUDE_DEPTH {
            return Err(Error::BadFile { path, at, reason: format!("includes nested deeper than {MAX_INCLUDE_DEPTH} files") });
        }
        let bytes = rootfs::read_config(&path, at.as_deref())?;
        if let Some((from, line)) = included_from {
            self.includes.push(Include { path: path.clone(), from: from.to_path_buf(), line });
        }
        self.files.push(path.clone());
        self.open.push((canonical, path.clone()));
        for (index, raw) in bytes.split(|&b| b == b'\n').enumerate() {
            let line = index + 1;
            if is_skipped(raw) {
                continue;
            }
            let raw = std::str::from_utf8(raw)
                .map_err(|_| Error::io(&path, io::Error::new(io::ErrorKind::InvalidData, format!("line {line} is not valid UTF-8"))))?;
            match raw.strip_prefix("--flagfile=").or_else(|| raw.strip_prefix("-flagfile=")) {
                Some(name) => self.splice(&self.cwd.join(name.trim_matches(is_py_space)), Some((&path, line)))?,
                None => self.args.push(Arg { text: raw.trim_matches(is_py_space).to_owned(), source: path.clone(), line }),
            }
        }
        self.open.pop();
        Ok(())
    }
}

/// Blank, or a comment in column 0. Checked on bytes so that comments need not be UTF-8.
fn is_skipped(line: &[u8]) -> bool {
    line.iter().all(|&b| is_py_space(b.into())) || line.starts_with(b"#") || line.starts_with(b"//")
}

enum Bare<'a> {
    /// A boolean option set (`--name`) or cleared (`--noname`).
    Switch(&'a str, bool),
    /// A known non-boolean option: getopt takes the next argument as its value.
    TakesNext,
    Unknown,
}

/// gflags' reading of `--body` without `=`. An option literally named `no…` is itself, not a
/// negation.
fn bare(body: &str) -> Bare<'_> {
    let kind = |name| nova_option(Release::Diablo, name).map(|o| o.kind);
    match kind(body) {
        Some(OptionKind::Bool) => Bare::Switch(body, true),
        Some(_) => Bare::TakesNext,
        None => match body.strip_prefix("no") {
            Some(name) if kind(name) == Some(OptionKind::Bool) => Bare::Switch(name, false),
            _ => Bare::Unknown,
        },
    }
}

/// An argument as getopt received it: gflags had already rewritten bare boolean switches into
/// `--name=true|false`.
fn as_getopt_sees(text: &str) -> Cow<'_, str> {
    match text.strip_prefix("--").filter(|body| !body.contains('=')).map(bare) {
        Some(Bare::Switch(name, on)) => Cow::Owned(format!("--{name}={on}")),
        _ => Cow::Borrowed(text),
    }
}

/// A line python-gflags raises on. Names the flag, never its value.
fn refuse(arg: &Arg, flag: &str, why: &str) -> Error {
    Error::Usage(format!(
        "{}:{}: `{flag}`: {why}; Diablo's python-gflags rejects it, so nova cannot have run with this file",
        arg.source.display(),
        arg.line
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        fs::write(&path, text).unwrap();
        path
    }

    /// Reads `text` as `nova.conf` in a fresh directory that is also the current directory.
    fn read(text: &str) -> Result<Flagfile> {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "nova.conf", text);
        read_flagfile(Path::new("nova.conf"), dir.path())
    }

    fn pairs(entries: &[FlagEntry]) -> Vec<(&str, &str)> {
        entries.iter().map(|e| (e.name.as_str(), e.value.as_str())).collect()
    }

    #[test]
    fn comments_blanks_booleans_and_last_wins() {
        let f = read(
            "# comment\n// also a comment\n\n   \t\n--my_ip=10.0.0.1\r\n   --verbose\n--my_ip=10.0.0.2\n--nouse_ipv6\n--fake_network=T\n",
        )
        .unwrap();
        assert_eq!(
            pairs(&f.entries),
            [("my_ip", "10.0.0.1"), ("verbose", "true"), ("my_ip", "10.0.0.2"), ("use_ipv6", "false"), ("fake_network", "true")]
        );
        assert_eq!(f.get("my_ip"), Some("10.0.0.2"));
        assert_eq!(f.last("my_ip").unwrap().line, 7);
        assert_eq!((f.stopped_at.clone(), f.ignored_after_stop.len()), (None, 0));
    }

    #[test]
    fn negation_only_for_known_booleans() {
        let f = read("--nomy_ip\n--noop_cost_fn_weight=2\n--notification_topic=n\n--nosuch_flag\n").unwrap();
        // my_ip is a string, so `--nomy_ip` is an (unknown) flag of that name; the others are
        // options whose own names start with `no`.
        assert_eq!(
            pairs(&f.entries),
            [("nomy_ip", "true"), ("noop_cost_fn_weight", "2"), ("notification_topic", "n"), ("nosuch_flag", "true")]
        );
    }

    #[test]
    fn bare_non_boolean_takes_the_next_line() {
        let f = read("--node_availability_zone\n  zone2\n--my_ip\n--verbose\n").unwrap();
        assert_eq!(pairs(&f.entries), [("node_availability_zone", "zone2"), ("my_ip", "--verbose=true")]);
        let e = read("--verbose\n--my_ip\n").unwrap_err().to_string();
        assert!(e.contains("nova.conf:2: `--my_ip`") && e.contains("no line follows"), "{e}");
    }

    #[test]
    fn includes_splice_in_place_relative_to_the_cwd() {
        let cwd = tempfile::tempdir().unwrap();
        let etc = tempfile::tempdir().unwrap();
        // Beside the parent, a decoy of the same name: gflags does not look there.
        write(etc.path(), "extra.conf", "--my_ip=decoy\n");
        let child = write(cwd.path(), "extra.conf", "--my_ip=child\n--s3_host=child\n");
        let parent = write(etc.path(), "nova.conf", "--my_ip=parent\n--s3_host=parent\n--flagfile=extra.conf\n--s3_host=parent-later\n");
        let f = read_flagfile(&parent, cwd.path()).unwrap();
        assert_eq!(f.files, [parent.clone(), child.clone()]);
        assert_eq!(f.get("my_ip"), Some("child"));
        assert_eq!(f.get("s3_host"), Some("parent-later"));
        assert_eq!((f.last("my_ip").unwrap().source.clone(), f.last("my_ip").unwrap().line), (child, 1));
        // A file is read once: the second include is skipped, so the parent's line stays in effect.
        write(cwd.path(), "twice.conf", "--flagfile=extra.conf\n--my_ip=middle\n-flagfile=extra.conf\n");
        let f = read_flagfile(Path::new("twice.conf"), cwd.path()).unwrap();
        assert_eq!((f.files.len(), f.get("my_ip")), (2, Some("middle")));
    }

    #[test]
    fn include_cycles_and_unreadable_files_are_errors() {
        let cwd = tempfile::tempdir().unwrap();
        let a = write(cwd.path(), "a.conf", "--verbose\n--flagfile=b.conf\n");
        let b = write(cwd.path(), "b.conf", "\n--flagfile=./a.conf\n");
        let e = read_flagfile(Path::new("a.conf"), cwd.path()).unwrap_err().to_string();
        let again = cwd.path().join("./a.conf");
        assert_eq!(e, format!("{}:2: include cycle: {} → {} → {}", b.display(), a.display(), b.display(), again.display()));

        write(cwd.path(), "c.conf", "--flagfile=missing.conf\n");
        let e = read_flagfile(Path::new("c.conf"), cwd.path()).unwrap_err().to_string();
        assert!(e.contains("missing.conf") && e.contains("included from") && e.contains("c.conf:1"), "{e}");
        assert!(read_flagfile(Path::new("nowhere.conf"), cwd.path()).unwrap_err().to_string().contains("nowhere.conf"));

        fs::write(cwd.path().join("latin1.conf"), b"# caf\xe9 is fine in a comment\n--my_ip=caf\xe9\n").unwrap();
        let e = read_flagfile(Path::new("latin1.conf"), cwd.path()).unwrap_err().to_string();
        assert!(e.contains("latin1.conf") && e.contains("line 2 is not valid UTF-8"), "{e}");
    }

    #[test]
    fn a_trees_files_are_read_inside_it_and_bounded() {
        let tree = tempfile::tempdir().unwrap();
        let root = tree.path();
        fs::create_dir_all(root.join("etc/nova")).unwrap();
        // An absolute include is the tree's file, whatever the host holds there.
        write(&root.join("etc/nova"), "common.conf", "--sql_connection=mysql://nova@tree/nova\n");
        write(&root.join("etc/nova"), "nova.conf", "--verbose\n--flagfile=/etc/nova/common.conf\n");
        let f = read_flagfiles(&[PathBuf::from("nova.conf")], Path::new("/etc/nova"), root).unwrap();
        assert_eq!(f.get("sql_connection"), Some("mysql://nova@tree/nova"));
        assert_eq!(f.includes[0].path, root.join("etc/nova/common.conf"));

        // `..` that climbs above the tree is refused, naming the line.
        write(&root.join("etc/nova"), "escape.conf", "--verbose\n--flagfile=../../../../etc/passwd\n");
        let e = read_flagfiles(&[PathBuf::from("escape.conf")], Path::new("/etc/nova"), root).unwrap_err();
        let shown = e.to_string();
        assert!(matches!(e, Error::OutsideRoot { .. }), "{shown}");
        assert!(
            shown.starts_with(&format!(
                "{}:2: `/etc/nova/../../../../etc/passwd` leads outside the tree",
                root.join("etc/nova/escape.conf").display()
            )),
            "{shown}"
        );

        // An endless file is refused at once, before a byte is read.
        write(&root.join("etc/nova"), "zero.conf", "--flagfile=/dev/zero\n");
        std::os::unix::fs::symlink("/dev/zero", root.join("dev-zero")).unwrap();
        let host = read_flagfile(&root.join("etc/nova/zero.conf"), root).unwrap_err().to_string();
        assert!(host.starts_with("/dev/zero: not a regular file (named at "), "{host}");
        // In a tree, a symlink to /dev/zero is the tree's /dev/zero, never the host's.
        write(&root.join("etc/nova"), "zero-in-tree.conf", "--flagfile=/dev-zero\n");
        let e = read_flagfiles(&[PathBuf::from("zero-in-tree.conf")], Path::new("/etc/nova"), root).unwrap_err().to_string();
        assert!(e.starts_with(&format!("{}: No such file", root.join("dev/zero").display())) && e.contains("zero-in-tree.conf:1"), "{e}");

        // Nesting is bounded.
        for n in 0..=MAX_INCLUDE_DEPTH {
            write(&root.join("etc/nova"), &format!("deep{n}.conf"), &format!("--flagfile=deep{}.conf\n", n + 1));
        }
        write(&root.join("etc/nova"), &format!("deep{}.conf", MAX_INCLUDE_DEPTH + 1), "--verbose\n");
        let e = read_flagfiles(&[PathBuf::from("deep0.conf")], Path::new("/etc/nova"), root).unwrap_err().to_string();
        assert!(e.contains("includes nested deeper than 16 files") && e.contains("deep15.conf:1"), "{e}");
        let f = read_flagfiles(&[PathBuf::from("deep2.conf")], Path::new("/etc/nova"), root).unwrap();
        assert_eq!((f.files.len(), f.get("verbose")), (16, Some("true")));
    }

    #[test]
    fn a_non_option_line_stops_parsing() {
        let cwd = tempfile::tempdir().unwrap();
        write(cwd.path(), "late.conf", "--s3_host=late\n");
        let conf =
            write(cwd.path(), "nova.conf", "--my_ip=1\n  # indented comment\n--my_ip=2\n--flagfile=late.conf\nplain words\n--verbose\n");
        let f = read_flagfile(&conf, cwd.path()).unwrap();
        assert_eq!(pairs(&f.entries), [("my_ip", "1")]);
        assert_eq!(f.stopped_at, Some((conf, 2)));
        assert_eq!(pairs(&f.ignored_after_stop), [("my_ip", "2"), ("s3_host", "late"), ("verbose", "true")]);
        assert_eq!(f.files.len(), 2, "includes after the stop are still read");

        for stopper in ["  // indented", "--", "-", "my_ip=3"] {
            let f = read(&format!("--my_ip=1\n{stopper}\n--my_ip=2\n")).unwrap();
            assert_eq!((f.get("my_ip"), f.stopped_at.as_ref().map(|s| s.1)), (Some("1"), Some(2)), "{stopper}");
        }
        // Past the stop nothing is checked: Diablo never read it.
        assert!(read("  #\n-v\n--verbose=maybe\n").is_ok());
    }

    #[test]
    fn an_indented_include_is_an_unknown_flag() {
        let f = read("  --flagfile=/nowhere.conf\n").unwrap();
        assert_eq!(pairs(&f.entries), [("flagfile", "/nowhere.conf")]);
        assert_eq!(f.files.len(), 1);
    }

    #[test]
    fn values_are_kept_verbatim_and_quotes_flagged() {
        let f = read("--sql_connection=\"mysql://nova@db/nova\"\n--s3_host='h'\n--ec2_path=/a b=c\n--ec2_scheme=\n").unwrap();
        let quoted: Vec<_> = f.entries.iter().map(|e| (e.value.as_str(), e.quoted)).collect();
        assert_eq!(quoted, [("\"mysql://nova@db/nova\"", true), ("'h'", true), ("/a b=c", false), ("", false)]);
    }

    #[test]
    fn multistrings_accumulate_and_lists_split() {
        let f =
            read("--list_notifier_drivers=a.b\n--enabled_apis= ec2 , osapi\n--list_notifier_drivers= c,d \n--enabled_apis=ec2\n").unwrap();
        // The line is stripped, the value is not.
        assert_eq!(f.get_all("list_notifier_drivers"), ["a.b", " c,d"]);
        assert_eq!(f.get_all("enabled_apis"), ["ec2,osapi", "ec2"]);
        assert_eq!(f.get("enabled_apis"), Some("ec2"));
    }

    #[test]
    fn lines_gflags_raises_on_are_refused_without_echoing_values() {
        let e = read("--my_ip=1\n-sql_connection=mysql://nova:secret@db/nova\n").unwrap_err().to_string();
        assert!(e.contains("nova.conf:2: `-sql_connection`") && !e.contains("secret"), "{e}");
        let e = read("--verbose=secret\n").unwrap_err().to_string();
        assert!(e.contains("nova.conf:1: `--verbose`") && e.contains("not a boolean") && !e.contains("secret"), "{e}");
    }

    #[test]
    fn flagfiles_are_told_from_ini_files() {
        assert!(is_flagfile("# nova.conf\n\n--verbose\n[DEFAULT]\n"));
        assert!(is_flagfile("  --flagfile=/etc/nova/common.conf\n"));
        assert!(!is_flagfile("# nova.conf\n[DEFAULT]\nverbose=true\n"));
        assert!(!is_flagfile("; comment\n--verbose\n"));
        assert!(!is_flagfile("\n# only comments\n"));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]
        #[test]
        fn any_bytes_read_without_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400), lines in proptest::collection::vec("(--|-|  |#|//)?(no)?(flagfile|verbose|my_ip|vpn_image_id|x)?(=)?[a-z./ \"']{0,8}", 0..12)) {
            let dir = tempfile::tempdir().unwrap();
            fs::write(dir.path().join("bytes.conf"), &bytes).unwrap();
            let _ = read_flagfile(Path::new("bytes.conf"), dir.path());
            let _ = is_flagfile(&String::from_utf8_lossy(&bytes));
            fs::write(dir.path().join("x"), "--my_ip=included\n").unwrap();
            fs::write(dir.path().join("lines.conf"), lines.join("\n")).unwrap();
            let _ = read_flagfile(Path::new("lines.conf"), dir.path());
        }
    }
}
