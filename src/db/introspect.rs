//! Reads a live database's tables back as data: columns (type as the backend names it,
//! nullability, default), primary key, unique sets, named indexes, foreign keys. Used to tell a
//! source's release by its shape, and to check a created schema against the reference dumps.

use std::collections::{BTreeMap, BTreeSet};

use super::{Backend, Db, Value};
use crate::error::Result;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ColumnInfo {
    pub name: String,
    /// The backend's own spelling: `VARCHAR(64)`, `varchar(64)`, `character varying(64)`.
    pub ty: String,
    pub nullable: bool,
    pub default: Option<String>,
    /// MySQL's AUTO_INCREMENT (SQLite's integer key and PostgreSQL's SERIAL show in the key and
    /// the default).
    pub auto_increment: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct TableShape {
    pub name: String,
    pub columns: Vec<ColumnInfo>,
    pub primary_key: Vec<String>,
    /// Column lists of every unique constraint or unique index other than the primary key.
    pub uniques: BTreeSet<Vec<String>>,
    /// The same with their names (the backend's own for an unnamed constraint).
    pub unique_indexes: BTreeSet<(String, Vec<String>)>,
    /// Non-unique indexes: (name, columns).
    pub indexes: BTreeSet<(String, Vec<String>)>,
    /// (columns, referenced table, referenced columns).
    pub foreign_keys: BTreeSet<(Vec<String>, String, Vec<String>)>,
    /// MySQL only: storage engine and table collation.
    pub engine: Option<String>,
    pub collation: Option<String>,
}

fn text(v: &Value) -> String {
    v.key_string().unwrap_or_default()
}

pub fn table_names(db: &mut Db) -> Result<Vec<String>> {
    let sql = match db.backend() {
        Backend::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
        Backend::Mysql => "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME",
        Backend::Postgres => "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename",
    };
    Ok(db.query(sql, &[])?.iter().map(|r| text(&r.values()[0])).collect())
}

/// PostgreSQL: the sequences in the current schema (other backends have none).
pub fn sequence_names(db: &mut Db) -> Result<Vec<String>> {
    if db.backend() != Backend::Postgres {
        return Ok(Vec::new());
    }
    let sql = "SELECT relname::text FROM pg_class WHERE relkind = 'S' AND relnamespace = current_schema()::regnamespace ORDER BY relname";
    Ok(db.query(sql, &[])?.iter().map(|r| text(&r.values()[0])).collect())
}

/// A catalog query of MySQL or PostgreSQL, for one table or every table of the current schema:
/// `{only}` is where the one table's condition goes, and the first column names the table.
fn catalog(db: &mut Db, sql: &str, only: &str, table: Option<&str>) -> Result<Vec<super::Row>> {
    match table {
        Some(t) => db.query(&sql.replace("{only}", &format!(" AND {only} = ?")), &[t.into()]),
        None => db.query(&sql.replace("{only}", ""), &[]),
    }
}

/// Rows in the order they came, grouped by their first column (the table).
fn by_table(rows: Vec<super::Row>) -> BTreeMap<String, Vec<super::Row>> {
    let mut out: BTreeMap<String, Vec<super::Row>> = BTreeMap::new();
    for r in rows {
        out.entry(text(&r.values()[0])).or_default().push(r);
    }
    out
}

const MYSQL_COLUMNS: &str = "SELECT TABLE_NAME AS t, COLUMN_NAME AS name, COLUMN_TYPE AS ty, IS_NULLABLE AS nullable, \
     COLUMN_DEFAULT AS dflt, EXTRA AS extra FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE(){only} \
     ORDER BY TABLE_NAME, ORDINAL_POSITION";
const POSTGRES_COLUMNS: &str = "SELECT table_name::text AS t, column_name::text AS name, \
     CASE WHEN character_maximum_length IS NOT NULL THEN data_type || '(' || character_maximum_length || ')' ELSE data_type END AS ty, \
     is_nullable::text AS nullable, column_default::text AS dflt \
     FROM information_schema.columns WHERE table_schema = current_schema(){only} ORDER BY table_name, ordinal_position";

/// The columns of one table (`Some`) or of every table, by table, on MySQL and PostgreSQL.
fn server_columns(db: &mut Db, table: Option<&str>) -> Result<BTreeMap<String, Vec<ColumnInfo>>> {
    let rows = match db.backend() {
        Backend::Mysql => catalog(db, MYSQL_COLUMNS, "TABLE_NAME", table)?,
        _ => catalog(db, POSTGRES_COLUMNS, "table_name", table)?,
    };
    let column = |r: &super::Row| ColumnInfo {
        name: text(r.get("name")),
        ty: text(r.get("ty")),
        nullable: text(r.get("nullable")) == "YES",
        // MariaDB reports the default of a nullable column as the text NULL.
        default: r.get("dflt").key_string().filter(|d| d != "NULL"),
        auto_increment: text(r.get("extra")).contains("auto_increment"),
    };
    Ok(by_table(rows).into_iter().map(|(t, rows)| (t, rows.iter().map(column).collect())).collect())
}

pub fn columns(db: &mut Db, table: &str) -> Result<Vec<ColumnInfo>> {
    if db.backend() != Backend::Sqlite {
        return Ok(server_columns(db, Some(table))?.remove(table).unwrap_or_default());
    }
    let sql = format!("PRAGMA table_info({})", db.quote(table));
    Ok(db
        .query(&sql, &[])?
        .iter()
        .map(|r| ColumnInfo {
            name: text(r.get("name")),
            ty: text(r.get("type")),
            nullable: r.get("notnull").as_i64() == Some(0),
            default: r.get("dflt_value").key_string(),
            auto_increment: false,
        })
        .collect())
}

pub fn shape(db: &mut Db, table: &str) -> Result<TableShape> {
    Ok(shapes(db, &[table])?.pop().expect("one shape per table asked"))
}

/// (index name, unique, primary, column), in index order.
type IndexRow = (String, bool, bool, String);
/// (constraint name, column, referenced table, referenced column), in key order.
type FkRow = (String, String, String, String);

const MYSQL_INDEXES: &str = "SELECT TABLE_NAME AS t, INDEX_NAME AS n, NON_UNIQUE AS nu, COLUMN_NAME AS c \
     FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE(){only} ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX";
const MYSQL_FOREIGN_KEYS: &str = "SELECT TABLE_NAME AS t, CONSTRAINT_NAME AS n, COLUMN_NAME AS c, REFERENCED_TABLE_NAME AS rt, \
     REFERENCED_COLUMN_NAME AS rc FROM information_schema.KEY_COLUMN_USAGE \
     WHERE TABLE_SCHEMA = DATABASE(){only} AND REFERENCED_TABLE_NAME IS NOT NULL \
     ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION";
const MYSQL_TABLES: &str =
    "SELECT TABLE_NAME AS t, ENGINE AS e, TABLE_COLLATION AS c FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE(){only}";
const POSTGRES_INDEXES: &str = "SELECT t.relname::text AS t, i.relname::text AS n, ix.indisunique AS u, ix.indisprimary AS p, \
     a.attname::text AS c \
     FROM pg_index ix JOIN pg_class t ON t.oid = ix.indrelid JOIN pg_class i ON i.oid = ix.indexrelid \
     JOIN LATERAL unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(attnum, n) ON true \
     JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum \
     WHERE t.relnamespace = current_schema()::regnamespace{only} ORDER BY t.relname, i.relname, k.n";
const POSTGRES_FOREIGN_KEYS: &str = "SELECT t.relname::text AS t, c.conname::text AS n, a.attname::text AS c, \
     rt.relname::text AS rt, ra.attname::text AS rc \
     FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_class rt ON rt.oid = c.confrelid \
     JOIN LATERAL unnest(c.conkey, c.confkey) WITH ORDINALITY AS k(att, ratt, n) ON true \
     JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.att \
     JOIN pg_attribute ra ON ra.attrelid = c.confrelid AND ra.attnum = k.ratt \
     WHERE c.contype = 'f' AND t.relnamespace = current_schema()::regnamespace{only} ORDER BY t.relname, c.conname, k.n";

/// The shapes of `tables`, in that order. MySQL and PostgreSQL answer a few catalog queries
/// for the whole schema (asked table by table, Nova's 80 took 0.2 s on PostgreSQL); SQLite's
/// pragmas run in process, table by table.
pub fn shapes(db: &mut Db, tables: &[&str]) -> Result<Vec<TableShape>> {
    if tables.is_empty() {
        return Ok(Vec::new()); // a new target: no catalog query for nothing
    }
    if db.backend() == Backend::Sqlite {
        return tables.iter().map(|t| sqlite_shape(db, t)).collect();
    }
    // One table: its own rows only; more: the whole schema's.
    let only = if let [one] = tables { Some(*one) } else { None };
    let mut columns = server_columns(db, only)?;
    let mysql = db.backend() == Backend::Mysql;
    let (indexes, foreign_keys, table_column) =
        if mysql { (MYSQL_INDEXES, MYSQL_FOREIGN_KEYS, "TABLE_NAME") } else { (POSTGRES_INDEXES, POSTGRES_FOREIGN_KEYS, "t.relname") };
    let mut index_rows = by_table(catalog(db, indexes, table_column, only)?);
    let mut fk_rows = by_table(catalog(db, foreign_keys, table_column, only)?);
    let mut storage = if mysql { by_table(catalog(db, MYSQL_TABLES, "TABLE_NAME", only)?) } else { BTreeMap::new() };
    let mut out = Vec::with_capacity(tables.len());
    for &table in tables {
        let mut shape = TableShape { name: table.to_string(), columns: columns.remove(table).unwrap_or_default(), ..Default::default() };
        if let Some(r) = storage.remove(table).and_then(|rows| rows.into_iter().next()) {
            shape.engine = r.get("e").key_string();
            shape.collation = r.get("c").key_string();
        }
        let indexes: Vec<IndexRow> = index_rows
            .remove(table)
            .unwrap_or_default()
            .iter()
            .map(|r| {
                let name = text(r.get("n"));
                if mysql {
                    let primary = name == "PRIMARY";
                    (name, r.get("nu").as_i64() == Some(0), primary, text(r.get("c")))
                } else {
                    (name, r.get("u").as_i64() == Some(1), r.get("p").as_i64() == Some(1), text(r.get("c")))
                }
            })
            .collect();
        let fks: Vec<FkRow> = fk_rows
            .remove(table)
            .unwrap_or_default()
            .iter()
            .map(|r| (text(r.get("n")), text(r.get("c")), text(r.get("rt")), text(r.get("rc"))))
            .collect();
        fold_keys(&mut shape, indexes, fks);
        out.push(shape);
    }
    Ok(out)
}

fn sqlite_shape(db: &mut Db, table: &str) -> Result<TableShape> {
    let mut shape = TableShape { name: table.to_string(), columns: columns(db, table)?, ..Default::default() };
    let mut index_rows: Vec<IndexRow> = Vec::new();
    let mut fk_rows: Vec<FkRow> = Vec::new();
    let q = db.quote(table);
    let mut pk: Vec<(i64, String)> = db
        .query(&format!("PRAGMA table_info({q})"), &[])?
        .iter()
        .filter(|r| r.get("pk").as_i64().unwrap_or(0) > 0)
        .map(|r| (r.get("pk").as_i64().unwrap_or(0), text(r.get("name"))))
        .collect();
    pk.sort();
    shape.primary_key = pk.into_iter().map(|(_, n)| n).collect();
    for idx in db.query(&format!("PRAGMA index_list({q})"), &[])? {
        let name = text(idx.get("name"));
        let origin = text(idx.get("origin"));
        let unique = idx.get("unique").as_i64() == Some(1);
        for c in db.query(&format!("PRAGMA index_info({})", db.quote(&name)), &[])? {
            index_rows.push((name.clone(), unique, origin == "pk", text(c.get("name"))));
        }
    }
    for fk in db.query(&format!("PRAGMA foreign_key_list({q})"), &[])? {
        fk_rows.push((text(fk.get("id")), text(fk.get("from")), text(fk.get("table")), text(fk.get("to"))));
    }
    fold_keys(&mut shape, index_rows, fk_rows);
    Ok(shape)
}

/// Folds per-column rows into the shape's keys, indexes and foreign keys (rows arrive grouped
/// by index or constraint name).
fn fold_keys(shape: &mut TableShape, index_rows: Vec<IndexRow>, fk_rows: Vec<FkRow>) {
    let mut current: Option<(String, bool, bool, Vec<String>)> = None;
    let finish = |entry: Option<(String, bool, bool, Vec<String>)>, shape: &mut TableShape| {
        if let Some((name, unique, primary, cols)) = entry {
            if primary {
                if shape.primary_key.is_empty() {
                    shape.primary_key = cols;
                }
            } else if unique {
                shape.uniques.insert(cols.clone());
                shape.unique_indexes.insert((name, cols));
            } else {
                shape.indexes.insert((name, cols));
            }
        }
    };
    for (name, unique, primary, col) in index_rows {
        match &mut current {
            Some((n, _, _, cols)) if *n == name => cols.push(col),
            _ => {
                let done = current.take();
                finish(done, shape);
                current = Some((name, unique, primary, vec![col]));
            }
        }
    }
    finish(current.take(), shape);
    let mut fk_current: Option<(String, Vec<String>, String, Vec<String>)> = None;
    for (name, col, rt, rc) in fk_rows {
        match &mut fk_current {
            Some((n, cols, _, rcols)) if *n == name => {
                cols.push(col);
                rcols.push(rc);
            }
            _ => {
                if let Some((_, c, t, r)) = fk_current.take() {
                    shape.foreign_keys.insert((c, t, r));
                }
                fk_current = Some((name, vec![col], rt, vec![rc]));
            }
        }
    }
    if let Some((_, c, t, r)) = fk_current {
        shape.foreign_keys.insert((c, t, r));
    }
}
