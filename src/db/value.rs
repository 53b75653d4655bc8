//! One value type for every backend. Text that is not valid UTF-8 stays `Bytes` so that the
//! transform that needs it can report exactly where it came from.

use chrono::NaiveDateTime;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Float(f64),
    Text(String),
    Bytes(Vec<u8>),
    DateTime(NaiveDateTime),
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Float(f) if f.fract() == 0.0 => Some(*f as i64),
            Value::Text(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }

    /// A key rendered as text: integers as decimals, text as is.
    pub fn key_string(&self) -> Option<String> {
        match self {
            Value::Int(i) => Some(i.to_string()),
            Value::Text(s) => Some(s.clone()),
            Value::Float(f) if f.fract() == 0.0 => Some((*f as i64).to_string()),
            _ => None,
        }
    }

    /// [`Value::key_string`] without copying text.
    pub fn into_key_string(self) -> Option<String> {
        match self {
            Value::Text(s) => Some(s),
            v => v.key_string(),
        }
    }

    /// Truthiness the way the legacy services read their integer/boolean flags.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Null => None,
            Value::Int(i) => Some(*i != 0),
            Value::Float(f) => Some(*f != 0.0),
            Value::Text(s) => match s.trim().to_ascii_lowercase().as_str() {
                "1" | "t" | "true" | "y" | "yes" | "on" => Some(true),
                "0" | "f" | "false" | "n" | "no" | "off" | "" => Some(false),
                _ => None,
            },
            _ => None,
        }
    }

    pub fn as_datetime(&self) -> Option<NaiveDateTime> {
        match self {
            Value::DateTime(d) => Some(*d),
            Value::Text(s) => parse_datetime(s),
            _ => None,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Text(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Text(s)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Int(i64::from(b))
    }
}
impl From<NaiveDateTime> for Value {
    fn from(d: NaiveDateTime) -> Self {
        Value::DateTime(d)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(o: Option<T>) -> Self {
        o.map_or(Value::Null, Into::into)
    }
}

/// Parses the datetime forms SQLAlchemy writes to SQLite (`2012-02-13 17:30:03[.123456]`), also
/// with a `T` separator.
pub fn parse_datetime(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    for fmt in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S%.fZ"] {
        if let Ok(d) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(d);
        }
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0))
}

/// Whether Essex's SQLAlchemy reads this SQLite text as the datetime it spells, in the form it
/// writes (`YYYY-MM-DD HH:MM:SS` and six digits of microseconds or none), with a real date and
/// time of day. A byte check, run on every datetime a SQLite source holds: other spellings go
/// through [`parse_datetime`].
pub fn is_sqlalchemy_datetime(text: &str) -> bool {
    let b = text.as_bytes();
    if !(b.len() == 19 || b.len() == 26 && b[19] == b'.') {
        return false;
    }
    let digits = |from: usize, to: usize| -> Option<u32> {
        b[from..to].iter().try_fold(0u32, |n, &c| c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0')))
    };
    let separators = [(4, b'-'), (7, b'-'), (10, b' '), (13, b':'), (16, b':')].iter().all(|&(at, c)| b[at] == c);
    let parts = (digits(0, 4), digits(5, 7), digits(8, 10), digits(11, 13), digits(14, 16), digits(17, 19));
    let micros_ok = b.len() == 19 || digits(20, 26).is_some();
    match parts {
        (Some(y), Some(m), Some(d), Some(h), Some(mi), Some(s)) if separators && micros_ok => {
            y >= 1 && chrono::NaiveDate::from_ymd_opt(y as i32, m, d).is_some() && h < 24 && mi < 60 && s < 60
        }
        _ => false,
    }
}

/// How SQLAlchemy stores a DateTime in SQLite.
pub fn sqlite_datetime_text(d: &NaiveDateTime) -> String {
    let mut out = String::with_capacity(26);
    write_sqlite_datetime(d, &mut out);
    out
}

/// Rows as tab-separated lines, each field written by `field` (which escapes tabs and newlines):
/// what MySQL's `LOAD DATA` and PostgreSQL's `COPY` read.
pub fn tab_separated(rows: &[Vec<Value>], field: impl Fn(&Value, &mut String)) -> String {
    let mut out = String::with_capacity(rows.len() * rows.first().map_or(0, Vec::len) * 16);
    for row in rows {
        for (i, v) in row.iter().enumerate() {
            if i > 0 {
                out.push('\t');
            }
            field(v, &mut out);
        }
        out.push('\n');
    }
    out
}

/// Appends `s` to `out`, each of the `special` characters (all ASCII) replaced by what `escaped`
/// gives for it: the text forms of MySQL's literals and loads and PostgreSQL's COPY.
pub fn push_escaped(out: &mut String, s: &str, special: &[char], escaped: fn(u8) -> &'static str) {
    let mut rest = s;
    while let Some(i) = rest.find(special) {
        out.push_str(&rest[..i]);
        out.push_str(escaped(rest.as_bytes()[i]));
        rest = &rest[i + 1..];
    }
    out.push_str(rest);
}

/// `YYYY-MM-DD HH:MM:SS.ffffff` appended to `out`, without chrono's format-string interpreter:
/// every datetime of every copied row goes through here.
pub fn write_sqlite_datetime(d: &NaiveDateTime, out: &mut String) {
    use chrono::{Datelike, Timelike};
    use std::fmt::Write;
    let micros = d.nanosecond() % 1_000_000_000 / 1000;
    let _ = write!(out, "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{micros:06}", d.year(), d.month(), d.day(), d.hour(), d.minute(), d.second());
}

#[cfg(test)]
mod tests {
    #[test]
    fn sqlalchemy_datetimes_are_told_from_other_text() {
        for ok in ["2012-02-14 00:00:00.000000", "2012-02-29 23:59:59", "0001-01-01 00:00:00.999999"] {
            assert!(super::is_sqlalchemy_datetime(ok), "{ok}");
        }
        for other in [
            "2012-02-14",
            "2011-02-29 00:00:00",
            "2012-13-01 00:00:00",
            "2012-02-14 24:00:00",
            "2012-02-14T00:00:00",
            "2012-02-14 00:00:00.5",
            "0000-01-01 00:00:00",
            "yesterday",
            "2012-02-14 00:00:00.00000x",
        ] {
            assert!(!super::is_sqlalchemy_datetime(other), "{other}");
        }
    }

    use super::*;

    #[test]
    fn datetimes_in_sqlalchemy_forms() {
        let d = parse_datetime("2015-02-05 00:00:00").unwrap();
        assert_eq!(sqlite_datetime_text(&d), "2015-02-05 00:00:00.000000");
        let leap = NaiveDateTime::parse_from_str("2016-12-31 23:59:59.999999", "%Y-%m-%d %H:%M:%S%.f").unwrap();
        assert_eq!(sqlite_datetime_text(&leap), leap.format("%Y-%m-%d %H:%M:%S%.6f").to_string());
        assert_eq!(parse_datetime("2015-02-05 00:00:00.250000").unwrap().and_utc().timestamp_subsec_micros(), 250_000);
        assert!(parse_datetime("not a date").is_none());
    }

    #[test]
    fn flags_and_keys() {
        assert_eq!(Value::Int(1).as_bool(), Some(true));
        assert_eq!(Value::Text("False".into()).as_bool(), Some(false));
        assert_eq!(Value::Null.as_bool(), None);
        assert_eq!(Value::Int(7).key_string().as_deref(), Some("7"));
    }
}
