use std::sync::Arc;

use chrono::{Datelike, NaiveDate, Timelike};
use mysql::prelude::Queryable;
use mysql::{Conn, OptsBuilder};

use super::{Access, Backend, DbUrl, DriverError, Row, StreamError, Value, ZeroDates, quote_ident};
use crate::error::{Error, Result};

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
