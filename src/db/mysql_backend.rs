use std::sync::Arc;

use chrono::{Datelike, NaiveDate, Timelike};
use mysql::prelude::Queryable;
use mysql::{Conn, OptsBuilder};

use std::sync::mpsc::Receiver;

use super::lent::Lent;
use super::value::push_escaped;
use super::{Access, Backend, DbUrl, DriverError, Row, StreamError, Value, ZeroDates, quote_ident};
use crate::error::{Error, Result};
use crate::schema::Table;

fn opts(url: &DbUrl, database: Option<&str>) -> OptsBuilder {
    OptsBuilder::new()
        .ip_or_hostname(Some(url.host_or_default()))
        .tcp_port(url.port_or_default())
        .user(url.user.clone())
        .pass(url.password().map(String::from))
        .db_name(database)
        .prefer_socket(false)
        // utf8 on the wire whatever the server's default, so text arrives as UTF-8.
        .init(vec!["SET NAMES utf8", "SET SESSION sql_mode = 'TRADITIONAL,NO_AUTO_VALUE_ON_ZERO'"])
}

pub fn connect(url: &DbUrl, access: Access) -> Result<Conn> {
    let mut conn = Conn::new(opts(url, url.database.as_deref())).map_err(|e| DriverError::from(e).connecting(url))?;
    if access == Access::ReadOnly {
        conn.query_drop("SET SESSION TRANSACTION READ ONLY").map_err(|e| DriverError::from(e).connecting(url))?;
    }
    Ok(conn)
}

/// Whether batches can go in by `LOAD DATA LOCAL INFILE` on this connection, found by loading
/// one row into a temporary table: the server may refuse it (its `local_infile` off, MySQL 8's
/// default), and so may a proxy in between. The driver only ever answers the server's request
/// for a "file" with the batch osmigrate hands it ([`load_data`]), never with a file of this host.
pub fn takes_local_files(conn: &mut Conn) -> bool {
    const PROBE: &str = "osmigrate_load_probe";
    if conn.query_drop(format!("CREATE TEMPORARY TABLE {PROBE} (n INT)")).is_err() {
        return false;
    }
    let loaded = load(conn, &load_statement(PROBE, &["n"]), b"1\n".to_vec());
    conn.query_drop(format!("DROP TEMPORARY TABLE {PROBE}")).is_ok() && matches!(loaded, Ok(1))
}

fn server(url: &DbUrl) -> Result<Conn> {
    Conn::new(opts(url, None)).map_err(|e| DriverError::from(e).connecting(url.with_database("")))
}

fn database_name(url: &DbUrl) -> Result<&str> {
    url.database.as_deref().ok_or_else(|| Error::BadUrl { url: url.to_string(), reason: "no database name".into() })
}

pub fn create_database_if_missing(url: &DbUrl) -> Result<bool> {
    let name = database_name(url)?;
    let mut conn = server(url)?;
    let exists: Option<String> = conn
        .exec_first("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", (name,))
        .map_err(|e| DriverError::from(e).during(format!("looking for database {name}")))?;
    if exists.is_some() {
        return Ok(false);
    }
    conn.query_drop(format!("CREATE DATABASE {} CHARACTER SET utf8 COLLATE utf8_general_ci", quote_ident(Backend::Mysql, name)))
        .map_err(|e| DriverError::from(e).during(format!("creating database {name} on {}", url.with_database(""))))?;
    Ok(true)
}

pub fn drop_database_if_exists(url: &DbUrl) -> Result<()> {
    let name = database_name(url)?;
    server(url)?
        .query_drop(format!("DROP DATABASE IF EXISTS {}", quote_ident(Backend::Mysql, name)))
        .map_err(|e| DriverError::from(e).during(format!("dropping database {name}")))
}

fn to_mysql(v: &Value) -> mysql::Value {
    match v {
        Value::Null => mysql::Value::NULL,
        Value::Int(i) => mysql::Value::Int(*i),
        Value::Float(f) => mysql::Value::Double(*f),
        Value::Text(s) => mysql::Value::Bytes(s.as_bytes().to_vec()),
        Value::Bytes(b) => mysql::Value::Bytes(b.clone()),
        Value::DateTime(d) => mysql::Value::Date(
            d.year() as u16,
            d.month() as u8,
            d.day() as u8,
            d.hour() as u8,
            d.minute() as u8,
            d.second() as u8,
            d.and_utc().timestamp_subsec_micros(),
        ),
    }
}

fn from_mysql(v: mysql::Value) -> Value {
    match v {
        mysql::Value::NULL => Value::Null,
        mysql::Value::Bytes(b) => match String::from_utf8(b) {
            Ok(s) => Value::Text(s),
            Err(e) => Value::Bytes(e.into_bytes()),
        },
        mysql::Value::Int(i) => Value::Int(i),
        mysql::Value::UInt(u) => Value::Int(u as i64),
        mysql::Value::Float(f) => Value::Float(f64::from(f)),
        mysql::Value::Double(f) => Value::Float(f),
        mysql::Value::Date(y, mo, d, h, mi, s, us) => NaiveDate::from_ymd_opt(i32::from(y), u32::from(mo), u32::from(d))
            .and_then(|date| date.and_hms_micro_opt(u32::from(h), u32::from(mi), u32::from(s), us))
            // MySQL's zero date has no calendar equivalent.
            .map_or(Value::Null, Value::DateTime),
        mysql::Value::Time(neg, days, h, m, s, us) => {
            Value::Text(format!("{}{}:{:02}:{:02}.{:06}", if neg { "-" } else { "" }, days * 24 + u32::from(h), m, s, us))
        }
    }
}

pub fn execute(conn: &mut Conn, sql: &str, params: &[&Value]) -> std::result::Result<u64, DriverError> {
    if params.is_empty() {
        conn.query_drop(sql).map_err(DriverError::from)?;
    } else {
        let params: Vec<mysql::Value> = params.iter().map(|v| to_mysql(v)).collect();
        conn.exec_drop(sql, mysql::Params::Positional(params)).map_err(DriverError::from)?;
    }
    Ok(conn.affected_rows())
}

/// Bytes of SQL text per multi-row INSERT: whole batches in one statement, and far below the
/// smallest `max_allowed_packet` a server still in use may have (1 MB on MySQL 5.5).
const INSERT_TEXT_BYTES: usize = 900_000;

/// A MySQL connection, lent to a thread for a table's INSERTs (see [`Lent`]).
pub type My = Lent<Conn>;

/// Inserts rows as multi-row INSERTs in SQL text, `prefix` being `INSERT INTO t (cols) VALUES `
/// and `suffix` what follows the rows (see [`super::Db::insert_rows`]).
/// The server parses literals far faster than it binds thousands of prepared-statement
/// parameters (what `mysqldump | mysql` loads with too). `piped`: the statements go to the
/// table's writer thread (see [`Lent`]), and the rows count as inserted; a refusal fails the
/// next statement on the connection. `None` when a row holds a value text cannot carry exactly
/// (a non-finite float): the caller binds those rows instead.
pub fn insert_text(
    my: &mut My,
    table: &Table,
    prefix: &str,
    suffix: &str,
    rows: &[Vec<Value>],
    piped: bool,
) -> Option<std::result::Result<u64, DriverError>> {
    if rows.iter().flatten().any(|v| matches!(v, Value::Float(f) if !f.is_finite())) {
        return None;
    }
    let mut inserted = 0;
    let mut sql = String::new();
    for (i, row) in rows.iter().enumerate() {
        if sql.is_empty() {
            sql.push_str(prefix);
        } else {
            sql.push(',');
        }
        sql.push('(');
        for (j, v) in row.iter().enumerate() {
            if j > 0 {
                sql.push(',');
            }
            write_literal(v, &mut sql);
        }
        sql.push(')');
        if sql.len() >= INSERT_TEXT_BYTES || i + 1 == rows.len() {
            sql.push_str(suffix);
            let statement = std::mem::take(&mut sql);
            let sent = if piped {
                my.send(table, prefix, statement.into_bytes(), run_statements)
            } else {
                my.get().and_then(|conn| {
                    conn.query_drop(&statement).map_err(insert_error)?;
                    inserted += conn.affected_rows();
                    Ok(())
                })
            };
            if let Err(e) = sent {
                return Some(Err(e));
            }
        }
    }
    Some(Ok(if piped { rows.len() as u64 } else { inserted }))
}

/// Loads rows with `LOAD DATA LOCAL INFILE`, the batch sent as the "file" in the tab-separated
/// form the statement names: the server reads that faster than the same rows as SQL literals (on
/// MariaDB 10.11, Nova's 100k `instances` 3.0 -> 1.5 s, its 50 MB of network caches 1.9 -> 1.5 s).
/// `piped` as for [`insert_text`]. The server turns what an INSERT refuses (a duplicate key, a
/// NULL in a NOT NULL column, a value that does not fit) into a warning and goes on; any warning,
/// or a row not inserted, fails the load instead, with the server's first messages. `None` when a
/// row holds bytes or a non-finite float: the caller writes those rows another way.
pub fn load_data(
    my: &mut My,
    table: &Table,
    columns: &[&str],
    rows: &[Vec<Value>],
    piped: bool,
) -> Option<std::result::Result<u64, DriverError>> {
    if rows.iter().flatten().any(|v| matches!(v, Value::Bytes(_)) || matches!(v, Value::Float(f) if !f.is_finite())) {
        return None;
    }
    let statement = load_statement(&table.name, columns);
    let batch = super::value::tab_separated(rows, write_field).into_bytes();
    Some(if piped {
        my.send(table, &statement, batch, run_loads).map(|()| rows.len() as u64)
    } else {
        my.get().and_then(|conn| load(conn, &statement, batch))
    })
}

/// The `LOAD DATA LOCAL` of a batch of `columns` into `table`, in the form [`write_field`] writes.
fn load_statement(table: &str, columns: &[&str]) -> String {
    let cols = columns.iter().map(|c| quote_ident(Backend::Mysql, c)).collect::<Vec<_>>().join(", ");
    format!(
        "LOAD DATA LOCAL INFILE 'batch' INTO TABLE {} CHARACTER SET utf8 \
         FIELDS TERMINATED BY '\\t' ENCLOSED BY '' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' ({cols})",
        quote_ident(Backend::Mysql, table)
    )
}

/// The writer thread of piped loads: each batch in order.
fn run_loads(conn: &mut Conn, statement: &str, batches: Receiver<Vec<u8>>) -> std::result::Result<u64, DriverError> {
    let mut inserted = 0;
    for batch in batches {
        inserted += load(conn, statement, batch)?;
    }
    Ok(inserted)
}

/// Runs one `LOAD DATA LOCAL` of `batch` (one line per row: a newline in a value is escaped),
/// and fails unless every row went in without a warning.
fn load(conn: &mut Conn, statement: &str, batch: Vec<u8>) -> std::result::Result<u64, DriverError> {
    #[allow(clippy::naive_bytecount)] // vectorized by the compiler; once per batch
    let rows = batch.iter().filter(|&&b| b == b'\n').count() as u64;
    let mut tsv = Some(batch);
    conn.set_local_infile_handler(Some(mysql::LocalInfileHandler::new(move |_, file| {
        use std::io::Write;
        // Whatever file the server names, it gets this batch (once), never a file of this host.
        file.write_all(&tsv.take().unwrap_or_default())
    })));
    let outcome = conn.query_drop(statement);
    conn.set_local_infile_handler(None);
    outcome.map_err(insert_error)?;
    let (inserted, warnings) = (conn.affected_rows(), conn.warnings());
    if inserted == rows && warnings == 0 {
        return Ok(inserted);
    }
    let said: Vec<(String, u32, String)> = conn.query("SHOW WARNINGS LIMIT 3").unwrap_or_default();
    let said: Vec<String> = said.into_iter().map(|(level, code, message)| format!("{level} {code}: {message}")).collect();
    let reason = format!("{inserted} of {} rows went in, with {warnings} warnings ({})", rows, said.join("; "));
    Err(DriverError::with_reason(reason.clone(), std::io::Error::other(reason)))
}

/// The writer thread of piped INSERTs: each statement in order.
fn run_statements(conn: &mut Conn, _prefix: &str, statements: Receiver<Vec<u8>>) -> std::result::Result<u64, DriverError> {
    let mut inserted = 0;
    for statement in statements {
        let statement = String::from_utf8(statement).map_err(|e| DriverError::with_reason("an INSERT that is not UTF-8".into(), e))?;
        conn.query_drop(statement).map_err(insert_error)?;
        inserted += conn.affected_rows();
    }
    Ok(inserted)
}

/// A text INSERT's error. MySQL quotes the statement near a syntax error, and these statements
/// hold row values (password hashes, EC2 secrets): that text is neither shown nor kept.
fn insert_error(e: mysql::Error) -> DriverError {
    const PARSE_ERROR: u16 = 1064;
    match &e {
        mysql::Error::MySqlError(m) if m.code == PARSE_ERROR => {
            let reason =
                "the server could not parse an INSERT osmigrate wrote (MySQL error 1064; the statement holds row values and is not shown)";
            DriverError::with_reason(reason.to_string(), std::io::Error::other(reason))
        }
        _ => e.into(),
    }
}

/// A value as a field of [`load_data`]'s batch: `\\N` for NULL; a backslash, tab, newline and
/// NUL escaped with a backslash.
fn write_field(v: &Value, out: &mut String) {
    use std::fmt::Write;
    match v {
        Value::Null => out.push_str("\\N"),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => {
            let _ = write!(out, "{f:e}");
        }
        Value::Text(s) => push_escaped(out, s, &['\\', '\t', '\n', '\0'], |c| match c {
            b'\\' => "\\\\",
            b'\t' => "\\t",
            b'\n' => "\\n",
            _ => "\\0",
        }),
        Value::Bytes(_) => unreachable!("load_data leaves rows with bytes to insert_text"),
        Value::DateTime(d) => super::value::write_sqlite_datetime(d, out),
    }
}

/// A value as a MySQL literal. The session's sql_mode (set on connect) has no
/// NO_BACKSLASH_ESCAPES, so backslash escapes are what the server reads.
fn write_literal(v: &Value, out: &mut String) {
    use std::fmt::Write;
    match v {
        Value::Null => out.push_str("NULL"),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        // Shortest text that reads back as the same double.
        Value::Float(f) => {
            let _ = write!(out, "{f:e}");
        }
        Value::Text(s) => {
            out.push('\'');
            push_escaped(out, s, &['\\', '\'', '\0', '\n', '\r', '\x1a'], |c| match c {
                b'\\' => "\\\\",
                b'\'' => "\\'",
                b'\0' => "\\0",
                b'\n' => "\\n",
                b'\r' => "\\r",
                _ => "\\Z",
            });
            out.push('\'');
        }
        Value::Bytes(b) => {
            out.push_str("X'");
            for byte in b {
                let _ = write!(out, "{byte:02x}");
            }
            out.push('\'');
        }
        Value::DateTime(d) => {
            out.push('\'');
            super::value::write_sqlite_datetime(d, out);
            out.push('\'');
        }
    }
}

/// See [`super::Db::drop_keys_for_load`]. MySQL: drops the table's secondary indexes that no
/// foreign key needs (for each foreign key, of this table or naming it, the smallest index it
/// can use stays), in one statement, and returns the one statement that adds them back. Both
/// commit implicitly, as any DDL does on MySQL; a run killed between them leaves indexes missing,
/// which the next run's schema check creates.
pub fn drop_keys_for_load(conn: &mut Conn, table: &str) -> std::result::Result<Vec<String>, DriverError> {
    let columns: Vec<(String, i64, String, Option<i64>)> = conn.exec(
        "SELECT INDEX_NAME, NON_UNIQUE, COLUMN_NAME, SUB_PART FROM information_schema.STATISTICS \
         WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND INDEX_NAME <> 'PRIMARY' ORDER BY INDEX_NAME, SEQ_IN_INDEX",
        (table,),
    )?;
    // Each foreign key's columns on this table's side, in order.
    let keys: Vec<(String, String)> = conn.exec(
        "SELECT CONSTRAINT_NAME, IF(TABLE_NAME = ?, COLUMN_NAME, REFERENCED_COLUMN_NAME) FROM information_schema.KEY_COLUMN_USAGE \
         WHERE TABLE_SCHEMA = DATABASE() AND REFERENCED_TABLE_NAME IS NOT NULL AND (TABLE_NAME = ? OR REFERENCED_TABLE_NAME = ?) \
         ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION",
        (table, table, table),
    )?;
    let mut indexes: Vec<(String, bool, Vec<String>)> = Vec::new();
    for (name, non_unique, column, sub_part) in columns {
        let column = match sub_part {
            Some(n) => format!("{}({n})", quote_ident(Backend::Mysql, &column)),
            None => quote_ident(Backend::Mysql, &column),
        };
        match indexes.last_mut() {
            Some((last, _, cols)) if *last == name => cols.push(column),
            _ => indexes.push((name, non_unique == 0, vec![column])),
        }
    }
    let mut foreign: Vec<(String, Vec<String>)> = Vec::new();
    for (name, column) in keys {
        match foreign.last_mut() {
            Some((last, cols)) if *last == name => cols.push(quote_ident(Backend::Mysql, &column)),
            _ => foreign.push((name, vec![quote_ident(Backend::Mysql, &column)])),
        }
    }
    let needed: Vec<usize> = foreign
        .iter()
        .filter_map(|(_, fk)| {
            (0..indexes.len()).filter(|&i| indexes[i].2.starts_with(fk)).min_by_key(|&i| (indexes[i].2.len(), &indexes[i].0))
        })
        .collect();
    let dropped: Vec<&(String, bool, Vec<String>)> =
        indexes.iter().enumerate().filter(|(i, _)| !needed.contains(i)).map(|(_, x)| x).collect();
    if dropped.is_empty() {
        return Ok(Vec::new());
    }
    let t = quote_ident(Backend::Mysql, table);
    let drops: Vec<String> = dropped.iter().map(|(name, _, _)| format!("DROP INDEX {}", quote_ident(Backend::Mysql, name))).collect();
    conn.query_drop(format!("ALTER TABLE {t} {}", drops.join(", ")))?;
    let adds: Vec<String> = dropped
        .iter()
        .map(|(name, unique, cols)| {
            format!("ADD {}INDEX {} ({})", if *unique { "UNIQUE " } else { "" }, quote_ident(Backend::Mysql, name), cols.join(", "))
        })
        .collect();
    Ok(vec![format!("ALTER TABLE {t} {}", adds.join(", "))])
}

/// Streams a query's rows. MySQL's zero dates (`0000-00-00 …`, or a zero month or day) arrive as
/// NULL, as MySQLdb gave them to Diablo; `zero_dates` keeps, per source table and column, the
/// most any one query saw (a table read twice is not counted twice).
pub fn stream(
    conn: &mut Conn,
    sql: &str,
    params: &[Value],
    zero_dates: &mut ZeroDates,
    on_row: &mut dyn FnMut(Row) -> Result<()>,
) -> std::result::Result<(), StreamError> {
    let driver = |e: mysql::Error| StreamError::Driver(e.into());
    let params: Vec<mysql::Value> = params.iter().map(to_mysql).collect();
    let params = if params.is_empty() { mysql::Params::Empty } else { mysql::Params::Positional(params) };
    let mut result = conn.exec_iter(sql, params).map_err(driver)?;
    let origins: Vec<(String, String)> =
        result.columns().as_ref().iter().map(|c| (c.org_table_str().into_owned(), c.org_name_str().into_owned())).collect();
    let columns: Arc<[String]> = result.columns().as_ref().iter().map(|c| c.name_str().into_owned()).collect();
    let mut zeros = vec![0u64; columns.len()];
    let mut outcome = Ok(());
    for row in result.by_ref() {
        let row = match row {
            Ok(row) => row,
            Err(e) => {
                outcome = Err(driver(e));
                break;
            }
        };
        let values = row
            .unwrap()
            .into_iter()
            .zip(&mut zeros)
            .map(|(v, zeros)| {
                let date = matches!(v, mysql::Value::Date(..));
                let v = from_mysql(v);
                if date && v.is_null() {
                    *zeros += 1;
                }
                v
            })
            .collect();
        if let Err(e) = on_row(Row::new(columns.clone(), values)) {
            outcome = Err(StreamError::Callback(e));
            break;
        }
    }
    for ((table, column), n) in origins.into_iter().zip(zeros).filter(|(o, n)| *n > 0 && !o.0.is_empty()) {
        let seen = zero_dates.entry((table, column)).or_default();
        *seen = (*seen).max(n);
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    fn literal(v: Value) -> String {
        let mut out = String::new();
        write_literal(&v, &mut out);
        out
    }

    #[test]
    fn literals_escape_what_mysql_reads_as_escapes() {
        assert_eq!(literal(Value::Text("it's a \\ test".into())), r"'it\'s a \\ test'");
        assert_eq!(literal(Value::Text("a\0b\nc\rd\u{1a}e\tf".into())), "'a\\0b\\nc\\rd\\Ze\tf'");
        assert_eq!(literal(Value::Text("漢字".into())), "'漢字'");
        assert_eq!(literal(Value::Null), "NULL");
        assert_eq!(literal(Value::Int(-42)), "-42");
        assert_eq!(literal(Value::Bytes(vec![0, 0xff])), "X'00ff'");
        let when = chrono::NaiveDate::from_ymd_opt(2012, 4, 5).unwrap().and_hms_micro_opt(6, 7, 8, 9).unwrap();
        assert_eq!(literal(Value::DateTime(when)), "'2012-04-05 06:07:08.000009'");
    }

    #[test]
    fn load_fields_are_one_line_per_row_with_tabs_and_newlines_escaped() {
        let when = chrono::NaiveDate::from_ymd_opt(2012, 4, 5).unwrap().and_hms_micro_opt(6, 7, 8, 9).unwrap();
        let rows = vec![
            vec![Value::Int(1), Value::Text("a\tb\nc\\d\0e\r'".into()), Value::Null],
            vec![Value::Int(2), Value::Text("\\N".into()), Value::DateTime(when)],
        ];
        assert_eq!(
            crate::db::value::tab_separated(&rows, write_field),
            "1\ta\\tb\\nc\\\\d\\0e\r'\t\\N\n2\t\\\\N\t2012-04-05 06:07:08.000009\n"
        );
    }

    #[test]
    fn a_statement_the_server_cannot_parse_keeps_no_row_value() {
        let message = "You have an error in your SQL syntax; check the manual near 'secret-ec2-key')' at line 1".to_string();
        let e = insert_error(mysql::Error::MySqlError(mysql::MySqlError { state: "42000".into(), message, code: 1064 }));
        let debug = format!("{e:?}");
        let shown = format!("{debug} {:?}", e.during("inserting"));
        assert!(!shown.contains("secret-ec2-key") && shown.contains("1064"), "{shown}");
        let duplicate = "Duplicate entry '7' for key 'PRIMARY'".to_string();
        let e = insert_error(mysql::Error::MySqlError(mysql::MySqlError { state: "23000".into(), message: duplicate, code: 1062 }));
        assert!(format!("{e:?}").contains("Duplicate entry '7'"), "other errors keep the server's words");
    }

    #[test]
    fn float_literals_read_back_as_the_same_double() {
        for f in [0.1, -1.5e300, 5e-324, 123_456_789.125, 1.0, -0.0] {
            let text = literal(Value::Float(f));
            assert_eq!(text.parse::<f64>().unwrap().to_bits(), f.to_bits(), "{text}");
        }
    }
}
