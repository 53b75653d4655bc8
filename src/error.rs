//! The library's one error type. Every variant renders a message an operator can act on; none of
//! them ever carries a secret (URLs are stored redacted, values are never echoed).

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A database URL that cannot be understood.
    #[error("bad database URL `{url}`: {reason}")]
    BadUrl { url: String, reason: String },

    /// The database server or file could not be reached or opened. `source` is the driver's
    /// error when there is one (its text is `reason`).
    #[error("cannot connect to {url}: {reason}")]
    Connect {
        url: String,
        reason: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// A statement failed. `context` says what osmigrate was doing; `source` is the underlying
    /// error when there is one (its text is `reason`).
    #[error("database error while {context}: {reason}")]
    Database {
        context: String,
        reason: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// A source value that cannot be carried over, with its exact location.
    #[error("{table} row {row}, field `{field}`: {reason}")]
    BadData { table: String, row: String, field: String, reason: String },

    /// The run was refused before anything was written (wrong kind of source, non-empty target…).
    #[error("{0}")]
    Refused(String),

    /// Invalid arguments or settings detected by the library (the CLI maps this to exit 64).
    #[error("{0}")]
    Usage(String),

    /// A name or id that names no object of its kind (Keystone administration), or what Keystone
    /// itself answered 404 to.
    #[error("{0}")]
    NotFound(String),

    /// A name that several objects carry; the message lists them with their ids.
    #[error("{0}")]
    Ambiguous(String),

    /// An HTTP request that failed: method, URL, status and the service's own message (secrets
    /// that the message may echo are masked before the error is made).
    #[error("{method} {url}: HTTP {status}: {message}")]
    Http { method: String, url: String, status: u16, message: String },

    #[error("{}: {source}{}", path.display(), io_hint(source))]
    Io { path: PathBuf, source: std::io::Error },

    /// A path of a rehearsal tree (`--root`) that would lead outside it: `..` above its top, or a
    /// symlink loop. `at` names where the path was written (`file:line`, a URL).
    #[error("{at}: `{}` leads outside the tree {}: {why}; under --root only files of the tree are read and written", path.display(), root.display())]
    OutsideRoot { at: String, path: PathBuf, root: PathBuf, why: String },

    /// A file osmigrate will not read as a config file: not a regular file, too large, included
    /// too deeply. `at` names where it was named (`file:line`), when it was.
    #[error("{}: {reason}{}", path.display(), at.as_ref().map(|a| format!(" (named at {a})")).unwrap_or_default())]
    BadFile { path: PathBuf, at: Option<String>, reason: String },

    /// A database whose schema differs from osmigrate's schema data; each difference names its
    /// table and what differs. `context` says what that means for the run.
    #[error("{database} {context}: {}", .differences.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Schema { database: String, context: String, differences: Vec<crate::schema::difference::Difference> },

    /// A built-in schema file that does not parse: a bug in this build, named with the line.
    #[error("built-in schema {name}: {reason} (a bug in this build of osmigrate)")]
    SchemaData { name: String, reason: String },
}

/// What an I/O error means for the operator, where the system's words do not say it.
fn io_hint(e: &std::io::Error) -> &'static str {
    match e.kind() {
        std::io::ErrorKind::StorageFull => " (its filesystem is full: free space there; the state directory can move with --state-dir)",
        std::io::ErrorKind::NotADirectory => " (a file stands where a directory is needed)",
        std::io::ErrorKind::PermissionDenied => " (run as root, or as the file's owner)",
        _ => "",
    }
}

impl Error {
    /// A database error with no underlying error (a row that is not there, a refused write).
    pub fn db(context: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        Error::Database { context: context.into(), reason: reason.to_string(), source: None }
    }

    /// A database error caused by `source`, which stays reachable through `Error::source`.
    pub fn db_from(context: impl Into<String>, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::Database { context: context.into(), reason: source.to_string(), source: Some(Box::new(source)) }
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    pub fn bad_data(table: impl Into<String>, row: impl std::fmt::Display, field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::BadData { table: table.into(), row: row.to_string(), field: field.into(), reason: reason.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_errors_keep_their_cause() {
        let cause = serde_json::from_str::<u8>("x").unwrap_err();
        let e = Error::db_from("reading the journal", cause);
        assert!(e.to_string().starts_with("database error while reading the journal: expected value"), "{e}");
        assert!(std::error::Error::source(&e).is_some_and(<dyn std::error::Error + 'static>::is::<serde_json::Error>));
        assert!(std::error::Error::source(&Error::db("x", "y")).is_none());
    }

    #[test]
    fn io_errors_say_what_they_mean() {
        let full = Error::io("/var/lib/osmigrate/diablo-etc.tar", std::io::Error::from(std::io::ErrorKind::StorageFull));
        assert!(full.to_string().starts_with("/var/lib/osmigrate/diablo-etc.tar: "), "{full}");
        assert!(
            full.to_string().ends_with("(its filesystem is full: free space there; the state directory can move with --state-dir)"),
            "{full}"
        );
        let plain = Error::io("/x", std::io::Error::from(std::io::ErrorKind::NotFound));
        assert!(!plain.to_string().contains('('), "{plain}");
    }
}
