//! `--password-file`: the passwords some Nova users get in Keystone (Nova's own auth had none).
//!
//! One `name:password` line per user, as chpasswd(8) reads them: the name ends at the first `:`,
//! the password is the rest of the line verbatim (spaces kept, only the line ending removed). A
//! password already in sha512_crypt form (`$6$…`) is stored as it is. Blank lines and lines
//! starting with `#` are skipped. The file must not be open to other users; its passwords never
//! appear in messages (a bad line is named by its number only).

use std::collections::BTreeMap;
use std::fmt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::error::{Error, Result};

/// User name → password, from a password file.
#[derive(Default)]
pub struct Passwords(BTreeMap<String, String>);

impl fmt::Debug for Passwords {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Passwords({} users, {})", self.0.len(), crate::redact::MASK)
    }
}

impl Passwords {
    /// Reads a password file, refusing one that other users may read or write.
    pub fn read(path: &Path) -> Result<Self> {
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o007 != 0 {
            return Err(Error::Refused(format!(
                "{}: the password file is open to other users (mode {mode:04o}); make it private first (chmod 600)",
                path.display()
            )));
        }
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(&text).map_err(|why| Error::Usage(format!("{}: {why}", path.display())))
    }

    fn parse(text: &str) -> std::result::Result<Self, String> {
        let mut map = BTreeMap::new();
        for (n, line) in text.split('\n').enumerate() {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let n = n + 1;
            let Some((name, password)) = line.split_once(':') else {
                return Err(format!("line {n} is not `name:password` (the line is not shown: it may hold a password)"));
            };
            if name.is_empty() {
                return Err(format!("line {n} has no user name before the `:`"));
            }
            if password.is_empty() {
                return Err(format!("line {n}: user `{name}` has an empty password"));
            }
            if map.insert(name.to_string(), password.to_string()).is_some() {
                return Err(format!("line {n}: user `{name}` is listed a second time"));
            }
        }
        Ok(Passwords(map))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_at_the_first_colon_and_keep_the_rest_verbatim() {
        let p = Passwords::parse("# comment\n\nalice:s3cret\r\nbob: with spaces :and:colons\n").unwrap();
        assert_eq!(p.get("alice"), Some("s3cret"));
        assert_eq!(p.get("bob"), Some(" with spaces :and:colons"));
        assert_eq!(p.names().collect::<Vec<_>>(), ["alice", "bob"]);
    }

    #[test]
    fn bad_lines_are_named_by_number_without_their_content() {
        let e = Passwords::parse("alice:x\nhunter2\n").err().unwrap();
        assert!(e.contains("line 2") && !e.contains("hunter2"), "{e}");
        assert!(Passwords::parse("alice:\n").err().unwrap().contains("empty password"));
        assert!(Passwords::parse(":pw\n").err().unwrap().contains("no user name"));
        assert!(Passwords::parse("a:1\na:2\n").err().unwrap().contains("second time"));
        assert!(!format!("{:?}", Passwords::parse("a:topsecret").unwrap()).contains("topsecret"));
    }

    #[test]
    fn a_file_open_to_others_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "alice:pw\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = Passwords::read(&path).unwrap_err().to_string();
        assert!(e.contains("mode 0644"), "{e}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert_eq!(Passwords::read(&path).unwrap().get("alice"), Some("pw"));
    }
}
