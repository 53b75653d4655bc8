//! Reads a live database's tables back as data: columns (type as the backend names it,
//! nullability, default), primary key, unique sets, named indexes, foreign keys. Used to tell a
//! source's release by its shape, and to check a created schema against the reference dumps.

use std::collections::BTreeSet;

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

pub fn columns(db: &mut Db, table: &str) -> Result<Vec<ColumnInfo>> {
    let rows = match db.backend() {
        Backend::Sqlite => {
            let sql = format!("PRAGMA table_info({})", db.quote(table));
            return Ok(db
                .query(&sql, &[])?
                .iter()
                .map(|r| ColumnInfo {
                    name: text(r.get("name")),
                    ty: text(r.get("type")),
                    nullable: r.get("notnull").as_i64() == Some(0),
                    default: r.get("dflt_value").key_string(),
                    auto_increment: false,
                })
                .collect());
        }
        Backend::Mysql => db.query(
            "SELECT COLUMN_NAME AS name, COLUMN_TYPE AS ty, IS_NULLABLE AS nullable, COLUMN_DEFAULT AS dflt, EXTRA AS extra \
             FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
            &[table.into()],
        )?,
        Backend::Postgres => db.query(
            "SELECT column_name::text AS name, \
                    CASE WHEN character_maximum_length IS NOT NULL \
                         THEN data_type || '(' || character_maximum_length || ')' ELSE data_type END AS ty, \
                    is_nullable::text AS nullable, column_default::text AS dflt \
             FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
            &[table.into()],
        )?,
    };
    Ok(rows
        .iter()
        .map(|r| ColumnInfo {
            name: text(r.get("name")),
            ty: text(r.get("ty")),
            nullable: text(r.get("nullable")) == "YES",
            // MariaDB reports the default of a nullable column as the text NULL.
            default: r.get("dflt").key_string().filter(|d| d != "NULL"),
            auto_increment: text(r.get("extra")).contains("auto_increment"),
        })
        .collect())
}

pub fn shape(db: &mut Db, table: &str) -> Result<TableShape> {
    let mut shape = TableShape { name: table.to_string(), columns: columns(db, table)?, ..Default::default() };
    // (index name, unique, primary, column) in index order
    let mut index_rows: Vec<(String, bool, bool, String)> = Vec::new();
    let mut fk_rows: Vec<(String, String, String, String)> = Vec::new();
    match db.backend() {
        Backend::Sqlite => {
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
        }
        Backend::Mysql => {
            for r in db.query(
                "SELECT INDEX_NAME AS n, NON_UNIQUE AS nu, COLUMN_NAME AS c FROM information_schema.STATISTICS \
                 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY INDEX_NAME, SEQ_IN_INDEX",
                &[table.into()],
            )? {
                let name = text(r.get("n"));
                let primary = name == "PRIMARY";
                index_rows.push((name, r.get("nu").as_i64() == Some(0), primary, text(r.get("c"))));
            }
            for r in db.query(
                "SELECT CONSTRAINT_NAME AS n, COLUMN_NAME AS c, REFERENCED_TABLE_NAME AS rt, REFERENCED_COLUMN_NAME AS rc \
                 FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? \
                 AND REFERENCED_TABLE_NAME IS NOT NULL ORDER BY CONSTRAINT_NAME, ORDINAL_POSITION",
                &[table.into()],
            )? {
                fk_rows.push((text(r.get("n")), text(r.get("c")), text(r.get("rt")), text(r.get("rc"))));
            }
            if let Some(r) = db
                .query(
                    "SELECT ENGINE AS e, TABLE_COLLATION AS c FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
                    &[table.into()],
                )?
                .first()
            {
                shape.engine = r.get("e").key_string();
                shape.collation = r.get("c").key_string();
            }
        }
        Backend::Postgres => {
            for r in db.query(
                "SELECT i.relname::text AS n, ix.indisunique AS u, ix.indisprimary AS p, a.attname::text AS c \
                 FROM pg_index ix JOIN pg_class t ON t.oid = ix.indrelid JOIN pg_class i ON i.oid = ix.indexrelid \
                 JOIN LATERAL unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(attnum, n) ON true \
                 JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum \
                 WHERE t.relname = ? AND t.relnamespace = current_schema()::regnamespace ORDER BY i.relname, k.n",
                &[table.into()],
            )? {
                index_rows.push((text(r.get("n")), r.get("u").as_i64() == Some(1), r.get("p").as_i64() == Some(1), text(r.get("c"))));
            }
            for r in db.query(
                "SELECT c.conname::text AS n, a.attname::text AS c, rt.relname::text AS rt, ra.attname::text AS rc \
                 FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_class rt ON rt.oid = c.confrelid \
                 JOIN LATERAL unnest(c.conkey, c.confkey) WITH ORDINALITY AS k(att, ratt, n) ON true \
                 JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.att \
                 JOIN pg_attribute ra ON ra.attrelid = c.confrelid AND ra.attnum = k.ratt \
                 WHERE c.contype = 'f' AND t.relname = ? AND t.relnamespace = current_schema()::regnamespace \
                 ORDER BY c.conname, k.n",
                &[table.into()],
            )? {
                fk_rows.push((text(r.get("n")), text(r.get("c")), text(r.get("rt")), text(r.get("rc"))));
            }
        }
    }
    // Fold per-column rows into per-index entries (rows arrive grouped by index name).
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
                finish(done, &mut shape);
                current = Some((name, unique, primary, vec![col]));
            }
        }
    }
    finish(current.take(), &mut shape);
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
    Ok(shape)
}
