use std::sync::Arc;

use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use postgres::{Client, NoTls};

use super::lent::Lent;
use super::{Access, Backend, DbUrl, DriverError, Row, StreamError, Value, quote_ident};
use crate::error::{Error, Result};
use crate::schema::Table;

fn config(url: &DbUrl, database: &str) -> postgres::Config {
    let mut c = postgres::Config::new();
    c.host(url.host_or_default()).port(url.port_or_default()).dbname(database).application_name("osmigrate");
    if let Some(u) = &url.user {
        c.user(u);
    }
    if let Some(p) = url.password() {
        c.password(p);
    }
    c.connect_timeout(std::time::Duration::from_secs(30));
    c
}

/// A PostgreSQL connection, lent to a thread for a table's COPY (see [`Lent`]).
pub type Pg = Lent<Client>;

/// The writer thread of a pipelined COPY: one `COPY … FROM STDIN` fed every batch.
fn copy_batches(client: &mut Client, sql: &str, batches: std::sync::mpsc::Receiver<Vec<u8>>) -> std::result::Result<u64, DriverError> {
    use std::io::Write;
    let mut writer = client.copy_in(sql)?;
    for text in batches {
        writer.write_all(&text)?;
    }
    Ok(writer.finish()?)
}

/// `COPY table (columns) FROM STDIN`, text format.
pub fn copy_in_sql(table: &str, columns: &[&str]) -> String {
    let cols = columns.iter().map(|c| quote_ident(Backend::Postgres, c)).collect::<Vec<_>>().join(", ");
    format!("COPY {} ({cols}) FROM STDIN", quote_ident(Backend::Postgres, table))
}

pub fn connect(url: &DbUrl, access: Access) -> Result<Pg> {
    let db = url.database.as_deref().unwrap_or("postgres");
    let mut client = config(url, db).connect(NoTls).map_err(|e| DriverError::from(e).connecting(url))?;
    let session = match access {
        Access::ReadOnly => "SET default_transaction_read_only = on; SET client_min_messages = warning",
        Access::ReadWrite => "SET client_min_messages = warning",
    };
    client.batch_execute(session).map_err(|e| DriverError::from(e).connecting(url))?;
    Ok(Lent::new(client))
}

fn database_name(url: &DbUrl) -> Result<&str> {
    url.database.as_deref().ok_or_else(|| Error::BadUrl { url: url.to_string(), reason: "no database name".into() })
}

fn server(url: &DbUrl) -> Result<Client> {
    config(url, "postgres").connect(NoTls).map_err(|e| DriverError::from(e).connecting(url.with_database("postgres")))
}

pub fn create_database_if_missing(url: &DbUrl) -> Result<bool> {
    let name = database_name(url)?;
    let mut client = server(url)?;
    let found = client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .map_err(|e| DriverError::from(e).during(format!("looking for database {name}")))?;
    if found.is_some() {
        return Ok(false);
    }
    client
        .batch_execute(&format!("CREATE DATABASE {} ENCODING 'UTF8' TEMPLATE template0", quote_ident(Backend::Postgres, name)))
        .map_err(|e| DriverError::from(e).during(format!("creating database {name} on {}", url.with_database("postgres"))))?;
    Ok(true)
}

pub fn drop_database_if_exists(url: &DbUrl) -> Result<()> {
    let name = database_name(url)?;
    server(url)?
        .batch_execute(&format!("DROP DATABASE IF EXISTS {}", quote_ident(Backend::Postgres, name)))
        .map_err(|e| DriverError::from(e).during(format!("dropping database {name}")))
}

/// The server's own message as the error's text (the driver's Display of a DbError says only
/// "db error").
impl From<postgres::Error> for DriverError {
    fn from(e: postgres::Error) -> Self {
        DriverError::with_reason(describe(&e), e)
    }
}

/// The severity and message, then the detail and where it happened (a COPY's line and column),
/// when the server says.
fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut text = format!("{}: {}", db.severity(), db.message());
            for (label, part) in [("", db.detail()), ("at ", db.where_())] {
                if let Some(part) = part {
                    text.push_str(&format!(" ({label}{part})"));
                }
            }
            text
        }
        None => e.to_string(),
    }
}

/// `?` placeholders → `$1, $2, …` (statements never hold a literal `?`).
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for ch in sql.chars() {
        if ch == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(ch);
        }
    }
    out
}

/// A value converts itself to whatever type the server expects for its parameter, the way a
/// dynamically typed driver would.
impl ToSql for Value {
    fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        let mismatch = || -> Box<dyn std::error::Error + Sync + Send> { format!("cannot store {self:?} as {ty}").into() };
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(i) => match *ty {
                Type::BOOL => (*i != 0).to_sql(ty, out),
                Type::INT2 => i16::try_from(*i).map_err(|_| mismatch())?.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i).map_err(|_| mismatch())?.to_sql(ty, out),
                Type::INT8 => i.to_sql(ty, out),
                Type::FLOAT4 => (*i as f32).to_sql(ty, out),
                Type::FLOAT8 => (*i as f64).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR | Type::BPCHAR => i.to_string().to_sql(ty, out),
                _ => Err(mismatch()),
            },
            Value::Float(f) => match *ty {
                Type::FLOAT4 => (*f as f32).to_sql(ty, out),
                Type::FLOAT8 => f.to_sql(ty, out),
                Type::TEXT | Type::VARCHAR => f.to_string().to_sql(ty, out),
                _ => Err(mismatch()),
            },
            Value::Text(s) => match *ty {
                Type::BOOL => Value::Text(s.clone()).as_bool().ok_or_else(mismatch)?.to_sql(ty, out),
                Type::INT2 | Type::INT4 | Type::INT8 => Value::Int(s.trim().parse().map_err(|_| mismatch())?).to_sql(ty, out),
                Type::TIMESTAMP => super::value::parse_datetime(s).ok_or_else(mismatch)?.to_sql(ty, out),
                _ => s.to_sql(ty, out),
            },
            Value::Bytes(b) => b.to_sql(ty, out),
            Value::DateTime(d) => match *ty {
                Type::TEXT | Type::VARCHAR => super::value::sqlite_datetime_text(d).to_sql(ty, out),
                _ => d.to_sql(ty, out),
            },
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn params_of<'a>(params: &[&'a Value]) -> Vec<&'a (dyn ToSql + Sync)> {
    params.iter().map(|p| *p as &(dyn ToSql + Sync)).collect()
}

pub fn execute(client: &mut Client, statements: &mut Statements, sql: &str, params: &[&Value]) -> std::result::Result<u64, DriverError> {
    if params.is_empty() {
        return client.execute(sql, &[]).map_err(DriverError::from);
    }
    let stmt = statements.prepare(client, sql)?;
    client.execute(&stmt, &params_of(params)).map_err(DriverError::from)
}

/// A connection's prepared statements with parameters, by their SQL: the same lookup or catalog
/// query again (per batch, per table) skips its parse and, once the server settles on a generic
/// plan, its planning (a few milliseconds for a catalog view). Bounded: emptied when full.
#[derive(Default)]
pub struct Statements(std::collections::HashMap<String, postgres::Statement>);

impl Statements {
    const MOST: usize = 256;

    fn prepare(&mut self, client: &mut Client, sql: &str) -> std::result::Result<postgres::Statement, postgres::Error> {
        if let Some(stmt) = self.0.get(sql) {
            return Ok(stmt.clone());
        }
        if self.0.len() >= Self::MOST {
            self.0.clear();
        }
        let stmt = client.prepare(&numbered(sql))?;
        self.0.insert(sql.to_string(), stmt.clone());
        Ok(stmt)
    }
}

/// Loads rows with `COPY … FROM STDIN` in text format: the server converts each field to its
/// column's type as it would a literal. `piped`: into the COPY the last batch for the same table
/// and columns went to (see [`Pg`]), a row the server refuses failing it when it ends; otherwise
/// the COPY ends (and commits, outside a transaction) here.
pub fn copy_in(pg: &mut Pg, table: &Table, columns: &[&str], rows: &[Vec<Value>], piped: bool) -> std::result::Result<u64, DriverError> {
    let buf = super::value::tab_separated(rows, copy_field);
    pg.send(table, &copy_in_sql(&table.name, columns), buf.into_bytes(), copy_batches)?;
    if !piped {
        pg.settle()?;
    }
    Ok(rows.len() as u64)
}

/// Rows that may collide with the table's keys, those that do skipped: COPY into a temporary
/// table with every column of the real one (no constraints: the real table's refusals name the
/// real table; every column, so that any writer's columns fit it), then one `INSERT … SELECT …
/// ON CONFLICT DO NOTHING`, whose count is the rows inserted; in the order given, so the first of
/// two colliding rows wins as with the other backends' skipping INSERTs. A multi-row INSERT
/// of as many rows costs more to parse and bind than to run.
pub fn copy_in_skipping_conflicts(
    pg: &mut Pg,
    table: &Table,
    columns: &[&str],
    rows: &[Vec<Value>],
) -> std::result::Result<u64, DriverError> {
    let stage = Table { name: format!("osm_stage_{}", table.name), ..table.clone() };
    let (target, staged) = (quote_ident(Backend::Postgres, &table.name), quote_ident(Backend::Postgres, &stage.name));
    let cols = columns.iter().map(|c| quote_ident(Backend::Postgres, c)).collect::<Vec<_>>().join(", ");
    pg.get()?
        .batch_execute(&format!("CREATE TEMPORARY TABLE IF NOT EXISTS {staged} AS SELECT * FROM {target} WITH NO DATA; TRUNCATE {staged}"))
        .map_err(DriverError::from)?;
    copy_in(pg, &stage, columns, rows, false)?;
    pg.get()?
        .execute(&format!("INSERT INTO {target} ({cols}) SELECT {cols} FROM {staged} ON CONFLICT DO NOTHING"), &[])
        .map_err(DriverError::from)
}

/// See [`super::Db::drop_keys_for_load`]. Foreign keys go first and come back last; CHECK and NOT
/// NULL constraints stay (they cost nothing), and with `keep_unique` the primary and unique keys
/// and indexes too.
pub fn drop_keys_for_load(client: &mut Client, table: &str, keep_unique: bool) -> std::result::Result<Vec<String>, DriverError> {
    let rows = client
        .query(
            "WITH t AS (SELECT $1::text::regclass AS oid), \
             keys AS ( \
               SELECT c.contype = 'f' AS foreign_key, \
                      format('ALTER TABLE %s DROP CONSTRAINT %I', c.conrelid::regclass, c.conname) AS drop_sql, \
                      format('ALTER TABLE %s ADD CONSTRAINT %I %s', c.conrelid::regclass, c.conname, pg_get_constraintdef(c.oid)) AS add_sql \
               FROM pg_constraint c, t \
               WHERE (c.conrelid = t.oid AND c.contype IN ('p', 'u', 'f') AND NOT ($2 AND c.contype IN ('p', 'u'))) \
                  OR (c.confrelid = t.oid AND c.contype = 'f')), \
             indexes AS ( \
               SELECT false, format('DROP INDEX %s', i.indexrelid::regclass), pg_get_indexdef(i.indexrelid) \
               FROM pg_index i, t \
               WHERE i.indrelid = t.oid AND NOT ($2 AND i.indisunique) \
                 AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.conrelid = t.oid)) \
             SELECT * FROM keys UNION ALL SELECT * FROM indexes",
            &[&quote_ident(Backend::Postgres, table), &keep_unique],
        )
        .map_err(DriverError::from)?;
    let mut statements: Vec<(bool, String, String)> = rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect();
    // Foreign keys are dropped first and added last.
    statements.sort_by_key(|(foreign_key, _, _)| !foreign_key);
    for (_, drop, _) in &statements {
        client.batch_execute(drop).map_err(DriverError::from)?;
    }
    Ok(statements.into_iter().rev().map(|(_, _, add)| add).collect())
}

/// One field of COPY's text format (written in place: this runs for every copied value).
fn copy_field(v: &Value, out: &mut String) {
    use std::fmt::Write;
    match v {
        Value::Null => out.push_str("\\N"),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) if f.is_nan() => out.push_str("NaN"),
        Value::Float(f) if f.is_infinite() => out.push_str(if *f > 0.0 { "Infinity" } else { "-Infinity" }),
        Value::Float(f) => {
            let _ = write!(out, "{f}");
        }
        Value::Text(s) => super::value::push_escaped(out, s, &['\\', '\t', '\n', '\r'], |c| match c {
            b'\\' => "\\\\",
            b'\t' => "\\t",
            b'\n' => "\\n",
            _ => "\\r",
        }),
        Value::Bytes(b) => {
            out.push_str("\\\\x");
            for byte in b {
                let _ = write!(out, "{byte:02x}");
            }
        }
        Value::DateTime(d) => super::value::write_sqlite_datetime(d, out),
    }
}

pub fn stream(
    client: &mut Client,
    statements: &mut Statements,
    sql: &str,
    params: &[Value],
    on_row: &mut dyn FnMut(Row) -> Result<()>,
) -> std::result::Result<(), StreamError> {
    use postgres::fallible_iterator::FallibleIterator;
    let driver = |e: postgres::Error| StreamError::Driver(e.into());
    let stmt = if params.is_empty() { client.prepare(&numbered(sql)) } else { statements.prepare(client, sql) }.map_err(driver)?;
    let columns: Arc<[String]> = stmt.columns().iter().map(|c| c.name().to_string()).collect();
    let types: Vec<Type> = stmt.columns().iter().map(|c| c.type_().clone()).collect();
    let mut rows = client.query_raw(&stmt, params.iter()).map_err(driver)?;
    while let Some(r) = rows.next().map_err(driver)? {
        let mut values = Vec::with_capacity(types.len());
        for (i, ty) in types.iter().enumerate() {
            values.push(read(&r, i, ty).map_err(driver)?);
        }
        on_row(Row::new(columns.clone(), values)).map_err(StreamError::Callback)?;
    }
    Ok(())
}

fn read(r: &postgres::Row, i: usize, ty: &Type) -> std::result::Result<Value, postgres::Error> {
    fn opt<T>(v: Option<T>, f: impl FnOnce(T) -> Value) -> Value {
        v.map_or(Value::Null, f)
    }
    Ok(match *ty {
        Type::BOOL => opt(r.try_get::<_, Option<bool>>(i)?, |b| Value::Int(i64::from(b))),
        Type::INT2 => opt(r.try_get::<_, Option<i16>>(i)?, |v| Value::Int(v.into())),
        Type::INT4 => opt(r.try_get::<_, Option<i32>>(i)?, |v| Value::Int(v.into())),
        Type::INT8 => opt(r.try_get::<_, Option<i64>>(i)?, Value::Int),
        Type::OID => opt(r.try_get::<_, Option<u32>>(i)?, |v| Value::Int(v.into())),
        Type::FLOAT4 => opt(r.try_get::<_, Option<f32>>(i)?, |v| Value::Float(v.into())),
        Type::FLOAT8 => opt(r.try_get::<_, Option<f64>>(i)?, Value::Float),
        Type::TIMESTAMP => opt(r.try_get::<_, Option<chrono::NaiveDateTime>>(i)?, Value::DateTime),
        Type::TIMESTAMPTZ => opt(r.try_get::<_, Option<chrono::DateTime<chrono::Utc>>>(i)?, |d| Value::DateTime(d.naive_utc())),
        Type::BYTEA => opt(r.try_get::<_, Option<Vec<u8>>>(i)?, Value::Bytes),
        Type::CHAR => opt(r.try_get::<_, Option<i8>>(i)?, |v| Value::Text((v as u8 as char).to_string())),
        _ => opt(r.try_get::<_, Option<String>>(i)?, Value::Text),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_format_escapes() {
        let mut out = String::new();
        for v in [Value::Null, Value::Int(-3), Value::Text("a\tb\\c\nd\r".into()), Value::Float(1.5), Value::Bytes(vec![0, 255])] {
            copy_field(&v, &mut out);
            out.push('|');
        }
        assert_eq!(out, "\\N|-3|a\\tb\\\\c\\nd\\r|1.5|\\\\x00ff|");
    }
}
