//! The common case of a copy-forward step: one source table into one target table, same-named
//! columns copied, the others given by the service's rules, in batches.

use super::{Severity, Sink};
use crate::db::introspect::ColumnInfo;
use crate::db::{Backend, Db, OnConflict, Row, Value};
use crate::error::{Error, Result};
use crate::reason::Reason;
use crate::schema::{ColType, Column, Table};

/// How a data migration computes one target column from a source row.
pub type ColumnRule<'a, C> = Box<dyn Fn(&mut Sink, &mut C, &Row) -> Result<Value> + 'a>;

/// Runs once per batch before its rows, for lookups a whole batch shares.
pub type BatchHook<'a, C> = &'a dyn Fn(&mut Sink, &mut C, &[Row]) -> Result<()>;

pub struct TableCopy<'a, C> {
    pub source: &'a str,
    pub target: &'a str,
    /// Extra `JOIN`s on the source table, which is aliased `t`.
    pub joins: &'a str,
    /// Extra selected expressions (`j.uuid AS instance_uuid`) for the rules.
    pub extra: &'a [&'a str],
    pub on_batch: Option<BatchHook<'a, C>>,
    /// The rule of a target column, asked once per table: `None` copies the same-named source
    /// column, or writes NULL for a column the source does not have.
    pub rule: &'a dyn Fn(&str) -> Option<ColumnRule<'a, C>>,
    /// Why a source column the target lacks is not lost (`None`: its values are dropped).
    pub carried_as: &'a dyn Fn(&str) -> Option<&'static str>,
    /// No rule touches this table: rows can be copied as they are, on the server when both
    /// databases share one.
    pub verbatim: bool,
}

/// Rows per `INSERT … SELECT` on the server: bounded write sets (a Galera cluster refuses huge ones).
const SERVER_SIDE_CHUNK: i64 = 50_000;

/// Copies `spec.source` into `spec.target`, ordered by `id` (or the first column), reporting the
/// source columns the target no longer has with their count of non-NULL values. Its keys are
/// back and its last batch written when this returns, so that a refusal comes back here: rows
/// copied on the server or as COPY text never pass through osmigrate, and a row naming a parent
/// row that does not exist (Diablo on SQLite or MyISAM never checked) fails only the Essex
/// foreign key. The source row behind such a refusal is then looked up, to be named as the
/// engine names a row.
pub fn copy_table<C>(src: &mut Db, s: &mut Sink, ctx: &mut C, spec: &TableCopy<'_, C>) -> Result<()> {
    let copied = copy_rows(src, s, ctx, spec).and_then(|()| s.finish_loads()).and_then(|()| s.target.settle());
    let Err(e) = copied else { return Ok(()) };
    let target = s.target_table(spec.target).clone();
    let order = if target.column("id").is_some() { "id" } else { target.columns[0].name.as_str() };
    // A verbatim table's NULL is the target's (the row path refuses one itself, after the rules).
    let null = if spec.verbatim { name_null_row(src, spec, &target, order)? } else { None };
    let named = match null {
        Some(named) => Some(named),
        None => name_orphan_row(src, spec, &target, order)?,
    };
    Err(named.unwrap_or(e))
}

/// The first source row whose single-column foreign key names no row of its parent table, as the
/// error to show instead of the target's refusal; none when every reference resolves (or the
/// source lacks the column or the parent).
fn name_orphan_row<C>(src: &mut Db, spec: &TableCopy<'_, C>, target: &Table, order: &str) -> Result<Option<Error>> {
    for fk in &target.foreign_keys {
        let ([column], [parent_column]) = (fk.columns.as_slice(), fk.ref_columns.as_slice()) else { continue };
        let (q, table, parent) = (|n: &str| src.quote(n), spec.source, fk.ref_table.as_str());
        let sql = format!(
            "SELECT t.{o} AS id, t.{c} AS v FROM {t} t WHERE t.{c} IS NOT NULL \
             AND NOT EXISTS (SELECT 1 FROM {p} p WHERE p.{pc} = t.{c}) ORDER BY 1 LIMIT 1",
            o = q(order),
            c = q(column),
            t = q(table),
            p = q(parent),
            pc = q(parent_column),
        );
        // A source without that column or parent table has nothing to say about this key.
        let Ok(rows) = src.query(&sql, &[]) else { continue };
        if let Some(row) = rows.first() {
            let value = row.get("v").key_string().unwrap_or_default();
            let reason = format!(
                "names {parent} {parent_column}={value}, which does not exist, and the Essex database enforces the reference: \
                 point it at an existing {parent} row or delete it in the Diablo database"
            );
            return Ok(Some(Error::bad_data(spec.source, row.get("id").key_string().unwrap_or_default(), column, reason)));
        }
    }
    Ok(None)
}

fn copy_rows<C>(src: &mut Db, s: &mut Sink, ctx: &mut C, spec: &TableCopy<'_, C>) -> Result<()> {
    let source_info = crate::db::introspect::columns(src, spec.source)?;
    let source_columns: Vec<String> = source_info.iter().map(|c| c.name.clone()).collect();
    let target = s.target_table(spec.target).clone();
    for dropped in source_columns.iter().filter(|c| target.column(c).is_none()) {
        let n =
            src.query_scalar(&format!("SELECT COUNT({}) FROM {}", src.quote(dropped), src.quote(spec.source)), &[])?.as_i64().unwrap_or(0);
        let (code, message) = match (spec.carried_as)(dropped) {
            Some(how) => (Reason::ColumnTransformed, format!("column `{dropped}` is gone in the new release: {how}")),
            None => (
                Reason::ColumnDropped,
                format!("column `{dropped}` does not exist in the new release; its non-NULL values are not carried"),
            ),
        };
        s.report.note_many(Severity::Info, spec.source, code, &message, n as u64, None);
    }
    let has_id = source_columns.iter().any(|c| c == "id");
    let integer_id = target.column("id").is_some_and(|c| c.ty.is_integer());
    // Rows that never pass through here (a refusal is named by `copy_table`).
    let unparsed = if spec.verbatim && has_id && integer_id && same_mysql_server(src, s) {
        Some(copy_on_server(src, s, spec, &target))
    } else if spec.verbatim && src.backend() == Backend::Postgres && s.target.backend() == Backend::Postgres {
        copy_text_select(src, spec.source, &source_info, &target).map(|select| copy_as_text(src, s, spec, &target, &select))
    } else {
        None
    };
    if let Some(copied) = unparsed {
        return copied;
    }
    let order = if has_id { "id".to_string() } else { source_columns[0].clone() };
    let mut select: Vec<String> = source_columns.iter().map(|c| format!("t.{}", src.quote(c))).collect();
    select.extend(spec.extra.iter().map(std::string::ToString::to_string));
    let sql = format!("SELECT {} FROM {} t {} ORDER BY t.{}", select.join(", "), src.quote(spec.source), spec.joins, src.quote(&order));
    let columns: Vec<&str> = target.column_names();
    // Where each target column comes from, resolved once for the whole table.
    let fills: Vec<Fill<C>> = target
        .columns
        .iter()
        .map(|col| match (spec.rule)(&col.name) {
            Some(rule) => Fill::Rule(rule),
            None => source_columns.iter().position(|c| *c == col.name).map_or(Fill::Null, Fill::Source),
        })
        .collect();
    let batch_size = s.batch_size;
    src.stream(&sql, &[], batch_size, |batch| {
        s.report.read(spec.source, batch.len() as u64);
        if let Some(hook) = spec.on_batch {
            hook(s, ctx, &batch)?;
        }
        let mut out = Vec::with_capacity(batch.len());
        for r in batch {
            let mut values = Vec::with_capacity(fills.len());
            for (fill, col) in fills.iter().zip(&target.columns) {
                let v = match fill {
                    Fill::Rule(rule) => rule(s, ctx, &r)?,
                    Fill::Source(i) => {
                        check_value(spec, &r, &r.values()[*i], col)?;
                        values.push(Value::Null); // moved in below, once the rules have read the row
                        continue;
                    }
                    Fill::Null => Value::Null,
                };
                check_value(spec, &r, &v, col)?;
                values.push(v);
            }
            let mut source_values = r.into_values();
            for (fill, v) in fills.iter().zip(&mut values) {
                if let Fill::Source(i) = fill {
                    *v = std::mem::replace(&mut source_values[*i], Value::Null);
                }
            }
            out.push(values);
        }
        s.write(spec.source, spec.target, &columns, &out, OnConflict::Fail)
    })
}

enum Fill<'a, C> {
    Rule(ColumnRule<'a, C>),
    Source(usize),
    Null,
}

/// A value the target column can hold: text, and a value where the column needs one.
fn check_value<C>(spec: &TableCopy<'_, C>, r: &Row, v: &Value, col: &Column) -> Result<()> {
    if matches!(v, Value::Bytes(_)) {
        return Err(Error::bad_data(spec.source, r.id(), &col.name, "not valid UTF-8 text"));
    }
    if v.is_null() && !col.nullable {
        return Err(Error::bad_data(spec.source, r.id(), &col.name, format!("is NULL, but {}.{} requires a value", spec.target, col.name)));
    }
    Ok(())
}

/// Both databases on one MySQL server, reached with the same account: the target connection can
/// read the source database itself.
fn same_mysql_server(src: &Db, s: &Sink) -> bool {
    let (a, b) = (src.url(), s.target.url());
    a.backend == Backend::Mysql
        && b.backend == Backend::Mysql
        && a.host_or_default() == b.host_or_default()
        && a.port_or_default() == b.port_or_default()
        && a.user == b.user
        && a.database.is_some()
        && a.database != b.database
}

/// PostgreSQL to PostgreSQL, a table no rule touches: the `SELECT` whose COPY text the target
/// takes as it is — each target column the same-named source column or NULL. `None` (rows go
/// through the engine) when a source column's type could print what the target column would
/// read otherwise (`t`/`f` into an integer, a zoned timestamp), or a NOT NULL column has no source.
fn copy_text_select(src: &Db, source: &str, source_columns: &[ColumnInfo], target: &Table) -> Option<String> {
    let mut select = Vec::with_capacity(target.columns.len());
    for col in &target.columns {
        match source_columns.iter().find(|c| c.name == col.name) {
            Some(from) if prints_as(&from.ty, &col.ty) => select.push(format!("t.{}", src.quote(&col.name))),
            None if col.nullable => select.push("NULL".to_string()),
            _ => return None,
        }
    }
    Some(format!("SELECT {} FROM {} t", select.join(", "), src.quote(source)))
}

/// Whether a PostgreSQL column of `source_type` (as information_schema names it) prints, in COPY
/// text, what a column of type `target` reads as the same value.
fn prints_as(source_type: &str, target: &ColType) -> bool {
    let integer = matches!(source_type, "integer" | "bigint" | "smallint");
    match target {
        ColType::Integer | ColType::BigInt | ColType::SmallInt => integer,
        ColType::Boolean => integer || source_type == "boolean",
        ColType::Float => integer || matches!(source_type, "real" | "double precision" | "numeric"),
        ColType::String(_) | ColType::Text => {
            source_type == "text" || source_type.starts_with("character varying") || source_type.starts_with("character(")
        }
        ColType::DateTime => source_type == "timestamp without time zone",
    }
}

/// Rows copied as COPY text from one PostgreSQL to the other (see [`Db::copy_rows_into`]).
fn copy_as_text<C>(src: &mut Db, s: &mut Sink, spec: &TableCopy<'_, C>, target: &Table, select: &str) -> Result<()> {
    let some = src.query_scalar(&format!("SELECT COUNT(*) FROM (SELECT 1 FROM {} LIMIT 1000) t", src.quote(spec.source)), &[])?;
    s.prepare_load(spec.target, some.as_i64().unwrap_or(0) as usize, OnConflict::Fail)?;
    let columns = target.column_names();
    let mut batches = s.batches.get(spec.target).copied().unwrap_or(0);
    let started = std::time::Instant::now();
    let (report, progress, step) = (&mut s.report, s.progress, s.step);
    let copied = src.copy_rows_into(select, &mut s.target, target, &columns, s.batch_size as u64, |rows| {
        report.read(spec.source, rows);
        report.written(spec.source, spec.target, rows);
        batches += 1;
        tracing::debug!(step, table = spec.target, batch = batches, rows, seconds = started.elapsed().as_secs_f64(), "rows copied");
        crate::failpoint::hit(&format!("batch:{}:{batches}", spec.target));
        progress.rows(rows);
        Ok(())
    });
    let copied = copied?;
    s.batches.insert(spec.target.to_string(), batches);
    s.wrote(copied)
}

/// The first source row holding NULL where the target needs a value, as the engine reports it.
fn name_null_row<C>(src: &mut Db, spec: &TableCopy<'_, C>, target: &Table, order: &str) -> Result<Option<Error>> {
    for col in target.columns.iter().filter(|c| !c.nullable) {
        let sql = format!(
            "SELECT {} AS id FROM {} WHERE {} IS NULL ORDER BY 1 LIMIT 1",
            src.quote(order),
            src.quote(spec.source),
            src.quote(&col.name)
        );
        if let Some(row) = src.query(&sql, &[])?.first() {
            let reason = format!("is NULL, but {}.{} requires a value", spec.target, col.name);
            return Ok(Some(Error::bad_data(spec.source, row.get("id").key_string().unwrap_or_default(), &col.name, reason)));
        }
    }
    Ok(None)
}

/// A MySQL zero date (`0000-00-00`, or a zero month or day), which MySQLdb read as NULL.
fn zero_date(column: &str) -> String {
    format!("(MONTH({column}) = 0 OR DAYOFMONTH({column}) = 0)")
}

/// `INSERT INTO target.t SELECT … FROM source.t` in id ranges: the rows never leave the server.
/// Zero dates, which the strict target refuses, become NULL as they do when rows are streamed,
/// counted first in one pass.
fn copy_on_server<C>(src: &mut Db, s: &mut Sink, spec: &TableCopy<'_, C>, target: &Table) -> Result<()> {
    let dates: Vec<&str> = target.columns.iter().filter(|c| c.ty == ColType::DateTime).map(|c| c.name.as_str()).collect();
    if !dates.is_empty() {
        let sums: Vec<String> = dates.iter().map(|c| format!("SUM({})", zero_date(&src.quote(c)))).collect();
        let counts = src.query(&format!("SELECT {} FROM {}", sums.join(", "), src.quote(spec.source)), &[])?;
        for (column, n) in dates.iter().zip(counts.first().map(Row::values).unwrap_or_default()) {
            super::note_zero_dates(&mut s.report, spec.source, column, n.as_i64().unwrap_or(0) as u64);
        }
    }
    let columns = target.column_names();
    let source_db = src.url().database.clone().expect("checked by same_mysql_server");
    let bounds = src.query(&format!("SELECT MIN(id) AS lo, MAX(id) AS hi FROM {}", src.quote(spec.source)), &[])?;
    let (Some(lo), Some(hi)) = (bounds[0].get("lo").as_i64(), bounds[0].get("hi").as_i64()) else {
        s.report.read(spec.source, 0);
        return Ok(());
    };
    let cols = columns.iter().map(|c| s.target.quote(c)).collect::<Vec<_>>().join(", ");
    let values = columns
        .iter()
        .map(|c| {
            let q = s.target.quote(c);
            if dates.contains(c) { format!("CASE WHEN {} THEN NULL ELSE {q} END", zero_date(&q)) } else { q }
        })
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "INSERT INTO {} ({cols}) SELECT {values} FROM {}.{} WHERE id > ? AND id <= ?",
        s.target.quote(spec.target),
        s.target.quote(&source_db),
        s.target.quote(spec.source)
    );
    let mut from = lo - 1;
    while from < hi {
        let to = from.saturating_add(SERVER_SIDE_CHUNK);
        let n = s.target.execute(&sql, &[Value::Int(from), Value::Int(to)])?;
        s.report.read(spec.source, n);
        s.report.written(spec.source, spec.target, n);
        s.progress.rows(n);
        s.wrote(n)?;
        from = to;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::prints_as;
    use crate::schema::ColType;

    #[test]
    fn copy_text_passes_only_where_the_target_reads_the_same_value() {
        assert!(prints_as("integer", &ColType::Boolean) && prints_as("boolean", &ColType::Boolean));
        assert!(!prints_as("boolean", &ColType::Integer), "`t` is no integer");
        assert!(prints_as("character varying(255)", &ColType::Text) && prints_as("text", &ColType::String(255)));
        assert!(prints_as("timestamp without time zone", &ColType::DateTime));
        assert!(!prints_as("timestamp with time zone", &ColType::DateTime), "the zone would be dropped, not applied");
        assert!(!prints_as("integer", &ColType::String(10)) && !prints_as("text", &ColType::Integer));
    }
}
