//! The SQL that differs between backends outside DDL (which `ddl` renders): name comparison,
//! character length, the grant a service user needs, a database's size. Callers above `db` never spell a backend's
//! SQL themselves.

use super::{Access, Backend, Db, DbUrl};
use crate::error::{Error, Result};

impl Backend {
    /// [`Backend::name_key`] as SQL over `expr`.
    pub fn name_key_sql(self, expr: &str) -> String {
        match self {
            Backend::Mysql => format!("LOWER(RTRIM({expr}))"),
            _ => expr.to_string(),
        }
    }

    /// A column's value as it is stored: on SQLite `+expr`, which has neither the column's
    /// affinity nor its indexes. Compared with a bound datetime, a DATETIME column's NUMERIC
    /// affinity makes SQLite try to read the other side as a number for every row (two thirds of
    /// counting 200k Diablo tokens); the results are the same, a datetime text never reads as a
    /// number. Ordered by, SQLite scans the table and sorts what the filter keeps instead of
    /// walking the column's index and looking each row up (Keystone's live tokens, 5% of the
    /// table: 50 -> 30 ms).
    pub fn as_stored(self, expr: &str) -> String {
        if self == Backend::Sqlite { format!("+{expr}") } else { expr.to_string() }
    }

    /// The function that counts characters (MySQL's `LENGTH` counts bytes).
    pub fn char_length_fn(self) -> &'static str {
        if self == Backend::Mysql { "CHAR_LENGTH" } else { "LENGTH" }
    }

    /// The statement granting `user` everything on database `database` (none for SQLite).
    pub fn grant_all_sql(self, database: &str, user: &str) -> Option<String> {
        match self {
            Backend::Sqlite => None,
            Backend::Mysql => Some(format!("GRANT ALL PRIVILEGES ON `{database}`.* TO '{user}'@'%';")),
            Backend::Postgres => Some(format!("GRANT ALL PRIVILEGES ON DATABASE \"{database}\" TO \"{user}\";")),
        }
    }
}

/// The size of a database: a SQLite file's, a MySQL schema's data and indexes, a PostgreSQL database's.
pub fn database_size(url: &DbUrl) -> Result<u64> {
    let sql = match url.backend {
        Backend::Sqlite => {
            let path = url.path.as_deref().unwrap_or(std::path::Path::new(""));
            return std::fs::metadata(path).map(|m| m.len()).map_err(|e| Error::io(path, e));
        }
        Backend::Mysql => {
            "SELECT COALESCE(SUM(data_length + index_length), 0) FROM information_schema.tables WHERE table_schema = DATABASE()"
        }
        Backend::Postgres => "SELECT pg_database_size(current_database())",
    };
    let mut db = Db::connect(url, Access::ReadOnly)?;
    Ok(db.query_scalar(sql, &[])?.as_i64().unwrap_or(0).max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::Backend;

    #[test]
    fn each_backend_spells_its_own() {
        assert_eq!(Backend::Mysql.name_key_sql("name"), "LOWER(RTRIM(name))");
        assert_eq!(Backend::Sqlite.name_key_sql("name"), "name");
        assert_eq!(Backend::Mysql.char_length_fn(), "CHAR_LENGTH");
        assert_eq!(Backend::Postgres.char_length_fn(), "LENGTH");
        assert_eq!(Backend::Sqlite.grant_all_sql("nova_essex", "nova"), None);
        assert_eq!(Backend::Mysql.grant_all_sql("nova_essex", "nova").unwrap(), "GRANT ALL PRIVILEGES ON `nova_essex`.* TO 'nova'@'%';");
        assert_eq!(
            Backend::Postgres.grant_all_sql("nova_essex", "nova").unwrap(),
            "GRANT ALL PRIVILEGES ON DATABASE \"nova_essex\" TO \"nova\";"
        );
    }
}
