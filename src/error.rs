//! The library's one error type. Every variant renders a message an operator can act on; none of
//! them ever carries a secret (URLs are stored redacted, values are never echoed).

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A database URL that cannot be understood.
    #[error("bad database URL `{url}`: {reason}")]
    BadUrl { url: String, reason: String },

    /// The database server or file could not be reached or opened.
    #[error("cannot connect to {url}: {reason}")]
    Connect { url: String, reason: String },

    /// A statement failed. `context` says what osmigrate was doing.
    #[error("database error while {context}: {reason}")]
    Database { context: String, reason: String },

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

    #[error("{path}: {source}")]
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
    Schema { database: String, context: String, differences: Vec<crate::db::diff::Difference> },
}

impl Error {
    pub fn db(context: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        Error::Database { context: context.into(), reason: reason.to_string() }
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    pub fn bad_data(table: impl Into<String>, row: impl std::fmt::Display, field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::BadData { table: table.into(), row: row.to_string(), field: field.into(), reason: reason.into() }
    }
}
