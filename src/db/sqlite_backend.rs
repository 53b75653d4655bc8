use std::sync::Arc;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, ToSql};

use std::sync::mpsc::Receiver;

use super::lent::Lent;
use super::value::sqlite_datetime_text;
use super::{Access, DbUrl, DriverError, Row, StreamError, Value};
use crate::error::{Error, Result};

/// The header of a SQLite URL's file (its first 100 bytes, or what the file has of them), read
/// as bytes: opening the file would roll back a killed writer's hot journal. None for a server
/// or a file that cannot be read.
pub fn file_header(url: &DbUrl) -> Option<Vec<u8>> {
    let path = url.path.as_deref().filter(|_| url.backend == super::Backend::Sqlite)?;
    let mut head = Vec::with_capacity(100);
    std::io::Read::read_to_end(&mut std::io::Read::take(std::fs::File::open(path).ok()?, 100), &mut head).ok()?;
    Some(head)
}

pub fn connect(url: &DbUrl, access: Access) -> Result<Connection> {
    let path = url.path.as_ref().expect("sqlite url has a path");
    let flags = match access {
        Access::ReadOnly => OpenFlags::SQLITE_OPEN_READ_ONLY,
        Access::ReadWrite => OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
    } | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if access == Access::ReadOnly && !path.exists() {
        return Err(Error::Connect { url: url.to_string(), reason: "no such file".into(), source: None });
    }
    if access == Access::ReadWrite && !path.exists() {
        create_private_file(path).map_err(|e| DriverError::from(e).connecting(url))?;
    }
    let conn = Connection::open_with_flags(path, flags).map_err(|e| DriverError::from(e).connecting(url))?;
    conn.busy_timeout(std::time::Duration::from_secs(30)).ok();
    if access == Access::ReadOnly {
        conn.pragma_update(None, "query_only", true).ok();
    }
    // Reading the file tells a database from anything else, before any real query.
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get::<_, i64>(0))
        .map_err(|e| DriverError::with_reason(format!("not a SQLite database ({e})"), e).connecting(url))?;
    Ok(conn)
}

/// A new database file readable by its owner and group only: it will hold password hashes and
/// credentials.
fn create_private_file(path: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().write(true).create_new(true).mode(0o640).open(path).map(|_| ())
}

struct Param<'a>(&'a Value);

impl ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self.0 {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Int(i) => ToSqlOutput::Borrowed(ValueRef::Integer(*i)),
            Value::Float(f) => ToSqlOutput::Borrowed(ValueRef::Real(*f)),
            Value::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Value::Bytes(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
            Value::DateTime(d) => ToSqlOutput::Owned(rusqlite::types::Value::Text(sqlite_datetime_text(d))),
        })
    }
}

pub fn execute(conn: &mut Connection, sql: &str, params: &[&Value]) -> std::result::Result<u64, DriverError> {
    let mut stmt = conn.prepare_cached(sql).map_err(DriverError::from)?;
    stmt.execute(rusqlite::params_from_iter(params.iter().map(|v| Param(v)))).map(|n| n as u64).map_err(DriverError::from)
}

/// A SQLite connection, lent to a thread for a table's rows (see [`Lent`]).
pub type Lite = Lent<Connection, Vec<Vec<Value>>>;

/// The writer thread of piped rows: the single-row INSERT `sql`, prepared once, run per row.
pub fn insert_batches(conn: &mut Connection, sql: &str, batches: Receiver<Vec<Vec<Value>>>) -> std::result::Result<u64, DriverError> {
    let mut inserted = 0;
    for rows in batches {
        inserted += insert_each(conn, sql, &rows)?;
    }
    Ok(inserted)
}

/// Runs a single-row INSERT once per row, prepared once. Outside a transaction the rows get one
/// of their own: all or none of them, as one multi-row statement would be, and one sync to disk
/// instead of one per row.
pub fn insert(conn: &mut Connection, sql: &str, rows: &[Vec<Value>]) -> std::result::Result<u64, DriverError> {
    if conn.is_autocommit() {
        let tx = conn.transaction().map_err(DriverError::from)?;
        let inserted = insert_each(&tx, sql, rows)?;
        tx.commit().map_err(DriverError::from)?;
        return Ok(inserted);
    }
    insert_each(conn, sql, rows)
}

fn insert_each(conn: &Connection, sql: &str, rows: &[Vec<Value>]) -> std::result::Result<u64, DriverError> {
    let mut stmt = conn.prepare_cached(sql).map_err(DriverError::from)?;
    let mut inserted = 0;
    for row in rows {
        inserted += stmt.execute(rusqlite::params_from_iter(row.iter().map(Param))).map_err(DriverError::from)? as u64;
    }
    Ok(inserted)
}

/// See [`super::Db::drop_keys_for_load`]: the table's `CREATE INDEX` indexes (unique ones too,
/// unless `keep_unique`), dropped; returns their statements as `sqlite_master` holds them. Built
/// again over the loaded rows, an index is filled in key order; maintained row by row, a random
/// key such as a UUID costs a page read per row once the index outgrows the page cache.
pub fn drop_indexes_for_load(conn: &mut Connection, table: &str, keep_unique: bool) -> std::result::Result<Vec<String>, DriverError> {
    let indexes: Vec<(String, String)> = conn
        .prepare(
            "SELECT m.name, m.sql FROM pragma_index_list(?1) l JOIN sqlite_master m ON m.name = l.name \
             WHERE l.origin = 'c' AND m.sql IS NOT NULL AND NOT (?2 AND l.\"unique\") ORDER BY m.rowid",
        )?
        .query_map(rusqlite::params![table, keep_unique], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (name, _) in &indexes {
        conn.execute_batch(&format!("DROP INDEX {}", super::quote_ident(super::Backend::Sqlite, name)))?;
    }
    Ok(indexes.into_iter().map(|(_, sql)| sql).collect())
}

pub fn stream(
    conn: &mut Connection,
    sql: &str,
    params: &[Value],
    on_row: &mut dyn FnMut(Row) -> Result<()>,
) -> std::result::Result<(), StreamError> {
    let driver = |e: rusqlite::Error| StreamError::Driver(e.into());
    let mut stmt = conn.prepare(sql).map_err(driver)?;
    let columns: Arc<[String]> = stmt.column_names().into_iter().map(String::from).collect();
    let mut rows = stmt.query(rusqlite::params_from_iter(params.iter().map(Param))).map_err(driver)?;
    while let Some(r) = rows.next().map_err(driver)? {
        let mut values = Vec::with_capacity(columns.len());
        for i in 0..columns.len() {
            values.push(match r.get_ref(i).map_err(driver)? {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(i) => Value::Int(i),
                ValueRef::Real(f) => Value::Float(f),
                ValueRef::Text(t) => match std::str::from_utf8(t) {
                    Ok(s) => Value::Text(s.to_string()),
                    Err(_) => Value::Bytes(t.to_vec()),
                },
                ValueRef::Blob(b) => Value::Bytes(b.to_vec()),
            });
        }
        on_row(Row::new(columns.clone(), values)).map_err(StreamError::Callback)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_inserted_outside_a_transaction_are_all_or_none() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY)").unwrap();
        let sql = "INSERT INTO t (id) VALUES (?)";
        assert_eq!(insert(&mut conn, sql, &[vec![Value::Int(1)], vec![Value::Int(2)]]).ok(), Some(2));
        // The third row collides: the two before it are rolled back with it.
        assert!(insert(&mut conn, sql, &[vec![Value::Int(3)], vec![Value::Int(4)], vec![Value::Int(1)]]).is_err());
        assert!(conn.is_autocommit());
        let count: i64 = conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(count, 2);
    }
}
