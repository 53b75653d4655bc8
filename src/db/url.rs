//! Database URLs exactly as OpenStack config files write them (SQLAlchemy style).
//!
//! `sqlite:///relative.db`, `sqlite:////abs/path.db`, `mysql[+driver]://user:pass@host[:port]/db[?k=v]`,
//! `postgresql[+driver]://…` (also `postgres://`). The password is kept out of every rendering.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::redact;
pub use crate::schema::Backend;

#[derive(Clone, PartialEq, Eq)]
pub struct DbUrl {
    pub backend: Backend,
    /// SQLite: the file path (relative paths stay relative until resolved).
    pub path: Option<PathBuf>,
    pub user: Option<String>,
    password: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    /// Database name; `None` for a server URL.
    pub database: Option<String>,
    pub query: Vec<(String, String)>,
}

impl fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DbUrl({self})")
    }
}

impl DbUrl {
    pub fn parse(raw: &str) -> Result<Self> {
        let raw = raw.trim();
        let bad = |reason: &str| Error::BadUrl { url: redact::url_text(raw), reason: reason.to_string() };
        let (scheme, rest) = raw.split_once(':').ok_or_else(|| bad("no scheme (expected sqlite:, mysql:// or postgresql://)"))?;
        let dialect = scheme.split('+').next().unwrap_or(scheme).to_ascii_lowercase();
        let backend = match dialect.as_str() {
            "sqlite" => Backend::Sqlite,
            "mysql" | "mariadb" => Backend::Mysql,
            "postgresql" | "postgres" | "pgsql" => Backend::Postgres,
            _ => return Err(bad("unknown database kind (expected sqlite, mysql or postgresql)")),
        };
        let rest = rest.strip_prefix("//").ok_or_else(|| bad("expected `//` after the scheme"))?;
        if backend == Backend::Sqlite {
            // sqlite:///rel.db → "rel.db"; sqlite:////abs.db → "/abs.db"
            let path = rest.strip_prefix('/').ok_or_else(|| bad("expected sqlite:///relative.db or sqlite:////absolute.db"))?;
            let path = path.split('?').next().unwrap_or(path);
            if path.is_empty() {
                return Err(bad("in-memory SQLite databases cannot be migrated"));
            }
            return Ok(DbUrl::sqlite_path(PathBuf::from(path)));
        }
        // The credentials end at the last `@`, as SQLAlchemy reads them: a password may hold `/`.
        let (creds, rest) = match rest.rsplit_once('@') {
            Some((c, r)) => (Some(c), r),
            None => (None, rest),
        };
        let (hostport, tail) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => match rest.find('?') {
                Some(i) => (&rest[..i], &rest[i..]),
                None => (rest, ""),
            },
        };
        let (db_part, query_part) = match tail.split_once('?') {
            Some((d, q)) => (d, q),
            None => (tail, ""),
        };
        let (user, password) = match creds {
            Some(c) => match c.split_once(':') {
                Some((u, p)) => (Some(percent_decode(u)), Some(percent_decode(p))),
                None => (Some(percent_decode(c)), None),
            },
            None => (None, None),
        };
        let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
            let (h, p) = h.split_once(']').ok_or_else(|| bad("unterminated IPv6 address"))?;
            (h.to_string(), p.strip_prefix(':'))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (hostport.to_string(), None),
            }
        };
        let port = match port {
            Some(p) if !p.is_empty() => Some(p.parse::<u16>().map_err(|_| bad("the port is not a number"))?),
            _ => None,
        };
        let query = query_part
            .split('&')
            .filter(|kv| !kv.is_empty())
            .map(|kv| match kv.split_once('=') {
                Some((k, v)) => (percent_decode(k), percent_decode(v)),
                None => (percent_decode(kv), String::new()),
            })
            .collect();
        Ok(DbUrl {
            backend,
            path: None,
            user,
            password,
            host: if host.is_empty() { None } else { Some(host) },
            port,
            database: if db_part.is_empty() { None } else { Some(percent_decode(db_part)) },
            query,
        })
    }

    /// A SQLite URL for a path (made absolute against the current directory).
    pub fn sqlite(path: &Path) -> Self {
        DbUrl::sqlite_path(std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()))
    }

    fn sqlite_path(path: PathBuf) -> Self {
        DbUrl {
            backend: Backend::Sqlite,
            path: Some(path),
            user: None,
            password: None,
            host: None,
            port: None,
            database: None,
            query: Vec::new(),
        }
    }

    /// The URL with its password, for a config file or a child process — never for a message.
    pub fn expose_secret(&self) -> String {
        if self.backend == Backend::Sqlite {
            return self.to_string();
        }
        let mut url = self.to_string();
        if let Some(p) = &self.password {
            url = url.replacen(":****@", &format!(":{}@", percent_encode(p)), 1);
        }
        if !self.query.is_empty() {
            url.push('?');
            url.push_str(&self.query.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&"));
        }
        url
    }

    pub fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }

    /// The same server, another database (a server URL gains a database name).
    #[must_use]
    pub fn with_database(&self, name: &str) -> Self {
        let mut url = self.clone();
        url.database = Some(name.to_string());
        url
    }

    /// Resolves a relative SQLite path against `base` (a service's working directory).
    #[must_use]
    pub fn resolved_against(&self, base: &Path) -> Self {
        let mut url = self.clone();
        if let Some(p) = &self.path {
            if p.is_relative() {
                url.path = Some(base.join(p));
            }
        }
        url
    }

    pub fn host_or_default(&self) -> &str {
        self.host.as_deref().unwrap_or("localhost")
    }

    pub fn port_or_default(&self) -> u16 {
        self.port.unwrap_or(match self.backend {
            Backend::Mysql => 3306,
            Backend::Postgres => 5432,
            Backend::Sqlite => 0,
        })
    }

    /// True when both URLs name the same database (same file, or same server and database name).
    pub fn same_database(&self, other: &DbUrl) -> bool {
        if self.backend != other.backend {
            return false;
        }
        if self.backend == Backend::Sqlite {
            let canon = |u: &DbUrl| {
                let p = u.path.clone().unwrap_or_default();
                std::fs::canonicalize(&p).unwrap_or_else(|_| std::path::absolute(&p).unwrap_or(p))
            };
            canon(self) == canon(other)
        } else {
            let local = |h: &str| matches!(h, "localhost" | "127.0.0.1" | "::1");
            let (a, b) = (self.host_or_default(), other.host_or_default());
            (a == b || (local(a) && local(b))) && self.port_or_default() == other.port_or_default() && self.database == other.database
        }
    }
}

impl fmt::Display for DbUrl {
    /// The URL with its password shown as `****`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.backend {
            Backend::Sqlite => {
                let p = self.path.as_deref().unwrap_or(Path::new(""));
                write!(f, "sqlite:///{}", p.display())
            }
            Backend::Mysql | Backend::Postgres => {
                let scheme = if self.backend == Backend::Mysql { "mysql" } else { "postgresql" };
                write!(f, "{scheme}://")?;
                if let Some(u) = &self.user {
                    write!(f, "{u}")?;
                    if self.password.is_some() {
                        write!(f, ":{}", redact::MASK)?;
                    }
                    write!(f, "@")?;
                }
                write!(f, "{}", self.host_or_default())?;
                if let Some(p) = self.port {
                    write!(f, ":{p}")?;
                }
                if let Some(d) = &self.database {
                    write!(f, "/{d}")?;
                }
                Ok(())
            }
        }
    }
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_relative_and_absolute() {
        let rel = DbUrl::parse("sqlite:///keystone.db").unwrap();
        assert_eq!(rel.path.as_deref(), Some(Path::new("keystone.db")));
        let abs = DbUrl::parse("sqlite:////var/lib/nova/nova.sqlite").unwrap();
        assert_eq!(abs.path.as_deref(), Some(Path::new("/var/lib/nova/nova.sqlite")));
        assert_eq!(rel.resolved_against(Path::new("/var/lib/keystone")).path.unwrap(), Path::new("/var/lib/keystone/keystone.db"));
        assert!(DbUrl::parse("sqlite://").is_err());
    }

    #[test]
    fn mysql_forms() {
        let u = DbUrl::parse("mysql+mysqldb://nova:s%40cret@db.example:3307/nova?charset=utf8").unwrap();
        assert_eq!(u.backend, Backend::Mysql);
        assert_eq!(u.user.as_deref(), Some("nova"));
        assert_eq!(u.password(), Some("s@cret"));
        assert_eq!(u.host.as_deref(), Some("db.example"));
        assert_eq!(u.port, Some(3307));
        assert_eq!(u.database.as_deref(), Some("nova"));
        assert_eq!(u.query, vec![("charset".to_string(), "utf8".to_string())]);
        assert_eq!(u.to_string(), "mysql://nova:****@db.example:3307/nova");
        assert_eq!(u.expose_secret(), "mysql://nova:s%40cret@db.example:3307/nova?charset=utf8");
        assert_eq!(DbUrl::parse(&u.expose_secret()).unwrap(), u);
    }

    #[test]
    fn postgres_forms_and_server_urls() {
        let u = DbUrl::parse("postgresql+psycopg2://k:pw@127.0.0.1/keystone").unwrap();
        assert_eq!(u.backend, Backend::Postgres);
        assert_eq!(u.port_or_default(), 5432);
        let s = DbUrl::parse("postgresql://k:pw@127.0.0.1:5433").unwrap();
        assert_eq!(s.database, None);
        assert_eq!(s.with_database("x").database.as_deref(), Some("x"));
        assert!(!s.to_string().contains("pw"));
    }

    #[test]
    fn same_database_detection() {
        let a = DbUrl::parse("mysql://a:b@localhost/keystone").unwrap();
        let b = DbUrl::parse("mysql://c:d@127.0.0.1:3306/keystone?charset=utf8").unwrap();
        let c = DbUrl::parse("mysql://c:d@127.0.0.1:3306/keystone_essex").unwrap();
        assert!(a.same_database(&b));
        assert!(!a.same_database(&c));
    }

    #[test]
    fn errors_never_show_the_password() {
        let e = DbUrl::parse("oracle://u:topsecret@h/db").unwrap_err().to_string();
        assert!(!e.contains("topsecret"), "{e}");
        let e = DbUrl::parse("mysql://u:topsecret@h:notaport/db").unwrap_err().to_string();
        assert!(!e.contains("topsecret"), "{e}");
        let e = DbUrl::parse("mysql://u:top/secret@h:notaport/db").unwrap_err().to_string();
        assert!(!e.contains("top/secret") && !e.contains("secret@"), "{e}");
        let e = DbUrl::parse("mysql:root:topsecret@db/nova").unwrap_err().to_string();
        assert!(!e.contains("topsecret") && e.contains("root:****@db"), "{e}");
    }

    #[test]
    fn a_password_may_hold_slashes_and_stray_percents() {
        let u = DbUrl::parse("mysql://nova:ab/c@d@db:3306/nova").unwrap();
        assert_eq!((u.user.as_deref(), u.password.as_deref()), (Some("nova"), Some("ab/c@d")));
        assert_eq!((u.host.as_deref(), u.port, u.database.as_deref()), (Some("db"), Some(3306), Some("nova")));
        assert!(!u.to_string().contains("ab/c"), "{u}");
        let u = DbUrl::parse("mysql://glance@db/glance?charset=utf8").unwrap();
        assert_eq!(u.expose_secret(), "mysql://glance@db/glance?charset=utf8", "the query survives without a password");
        let u = DbUrl::parse("mysql://nova:p%aé@db/nova").unwrap();
        assert_eq!(u.password.as_deref(), Some("p%aé"));
    }
}
