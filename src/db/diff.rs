//! A live database against the schema data it should hold (`schema::Schema`, rendered for its
//! backend by `db::ddl`): every table, column (type, nullability, default, auto-increment),
//! primary key, named index, unique constraint, foreign key, PostgreSQL sequence, and MySQL engine
//! and character set. The one comparison serves creating a schema (everything is missing),
//! completing one a killed run left half made, and proving a finished one (`verify`, and the
//! engine before it stamps).

use std::collections::{BTreeMap, BTreeSet};

use super::introspect::{self, TableShape};
use super::{Backend, Db, ddl};
use crate::error::{Error, Result};
use crate::schema::difference::index_text;
pub use crate::schema::difference::{Difference, Kind};
use crate::schema::{Schema, Table};

/// Tables osmigrate keeps for itself (the journal, Glance's map): never part of a release.
const OWN_TABLE_PREFIX: &str = "osmigrate_";

impl Difference {
    fn new(table: &str, kind: Kind) -> Self {
        Difference { table: table.to_string(), kind }
    }

    /// Whether it is something missing that can be created where it is: a table, sequence or
    /// index anywhere; a unique constraint or foreign key where the backend can add one to an
    /// existing table (not SQLite).
    pub fn repairable(&self, backend: Backend) -> bool {
        match self.kind {
            Kind::MissingTable | Kind::MissingSequence { .. } | Kind::MissingIndex { .. } => true,
            Kind::MissingUnique { .. } | Kind::MissingForeignKey { .. } => backend != Backend::Sqlite,
            _ => false,
        }
    }
}

/// Every difference between the database and `schema`, table by table (tables in the schema's
/// order, then tables it does not have; osmigrate's own `osmigrate_*` tables are left out).
pub fn schema_diff(db: &mut Db, schema: &Schema) -> Result<Vec<Difference>> {
    let backend = db.backend();
    let tables = db.table_names()?;
    let sequences = introspect::sequence_names(db)?;
    let present: Vec<&str> = schema.tables.iter().map(|t| t.name.as_str()).filter(|t| tables.iter().any(|n| n == t)).collect();
    let mut shapes = introspect::shapes(db, &present)?.into_iter();
    let mut out = Vec::new();
    for table in &schema.tables {
        if backend == Backend::Postgres {
            for s in table.sequences.iter().filter(|s| !sequences.contains(s)) {
                out.push(Difference::new(&table.name, Kind::MissingSequence { sequence: s.clone() }));
            }
        }
        if tables.contains(&table.name) {
            let shape = shapes.next().expect("a shape for each table present");
            out.extend(table_diff(backend, table, &shape));
        } else {
            out.push(Difference::new(&table.name, Kind::MissingTable));
        }
    }
    for t in tables.iter().filter(|t| schema.table(t).is_none() && !t.starts_with(OWN_TABLE_PREFIX)) {
        out.push(Difference::new(t, Kind::UnexpectedTable));
    }
    Ok(out)
}

/// A type as introspection reports it, made comparable with [`ddl::reported_type`]: lower case,
/// MySQL's integer display widths dropped (`int(11)` is `int`; `tinyint(1)` is the boolean).
fn comparable_type(backend: Backend, ty: &str) -> String {
    let ty = ty.trim().to_ascii_lowercase();
    match ty.split_once('(') {
        Some((base, _)) if backend == Backend::Mysql && matches!(base, "int" | "bigint" | "smallint" | "mediumint") => base.to_string(),
        _ => ty,
    }
}

/// A server default made comparable across spellings: PostgreSQL's cast after a literal
/// (`'x'::character varying`) dropped, booleans in lower case (SQLite keeps `FALSE` as declared).
fn comparable_default(default: &str) -> String {
    let d = default.trim();
    let d = match d.rfind("::") {
        Some(i) if d.starts_with('\'') && d[..i].ends_with('\'') => &d[..i],
        _ => d,
    };
    if d.eq_ignore_ascii_case("true") || d.eq_ignore_ascii_case("false") { d.to_ascii_lowercase() } else { d.to_string() }
}

/// Foreign keys as sets of (column, referenced table, referenced column): SQLite does not keep
/// the column order of a composite key.
type FkPairs = BTreeSet<(String, String, String)>;

fn fk_pairs(columns: &[String], ref_table: &str, ref_columns: &[String]) -> FkPairs {
    columns.iter().zip(ref_columns).map(|(c, r)| (c.clone(), ref_table.to_string(), r.clone())).collect()
}

/// The differences of one existing table from its schema data.
pub fn table_diff(backend: Backend, table: &Table, live: &TableShape) -> Vec<Difference> {
    let mut out = Vec::new();
    let mut push = |kind: Kind| out.push(Difference::new(&table.name, kind));
    for c in &table.columns {
        let Some(l) = live.columns.iter().find(|l| l.name == c.name) else {
            push(Kind::MissingColumn { column: c.name.clone() });
            continue;
        };
        let expected_default = ddl::reported_default(backend, table, c).map(|d| comparable_default(&d));
        let found_default = l.default.as_deref().map(comparable_default);
        let show = |d: Option<String>| d.unwrap_or_else(|| "none".to_string());
        let nullability = |nullable: bool| if nullable { "NULL" } else { "NOT NULL" }.to_string();
        // (attribute, the schema's, the database's, the same?)
        let expected_type = ddl::reported_type(backend, &c.ty, c.autoincrement);
        let same_type = comparable_type(backend, &expected_type) == comparable_type(backend, &l.ty);
        let expected_auto = backend == Backend::Mysql && c.autoincrement;
        let attributes = [
            ("type", expected_type, l.ty.clone(), same_type),
            ("nullability", nullability(c.nullable), nullability(l.nullable), c.nullable == l.nullable),
            ("default", show(expected_default.clone()), show(found_default.clone()), expected_default == found_default),
            ("auto_increment", expected_auto.to_string(), l.auto_increment.to_string(), expected_auto == l.auto_increment),
        ];
        for (attribute, expected, found, same) in attributes {
            if !same {
                push(Kind::Column { column: c.name.clone(), attribute, expected, found });
            }
        }
    }
    for l in live.columns.iter().filter(|l| table.column(&l.name).is_none()) {
        push(Kind::UnexpectedColumn { column: l.name.clone() });
    }
    if live.primary_key != table.primary_key {
        push(Kind::PrimaryKey { expected: table.primary_key.clone(), found: live.primary_key.clone() });
    }

    // Named indexes by name; the other unique indexes are the unnamed unique constraints.
    let mut named: BTreeMap<&str, (&Vec<String>, bool)> = live.indexes.iter().map(|(n, c)| (n.as_str(), (c, false))).collect();
    named.extend(live.unique_indexes.iter().map(|(n, c)| (n.as_str(), (c, true))));
    for idx in &table.indexes {
        match named.get(idx.name.as_str()) {
            None => push(Kind::MissingIndex { index: idx.name.clone(), columns: idx.columns.clone(), unique: idx.unique }),
            Some((columns, unique)) if **columns != idx.columns || *unique != idx.unique => push(Kind::Index {
                index: idx.name.clone(),
                expected: index_text(&idx.columns, idx.unique),
                found: index_text(columns, *unique),
            }),
            Some(_) => {}
        }
    }
    let is_named = |name: &str| table.indexes.iter().any(|i| i.name == name);
    for (name, columns) in live.indexes.iter().filter(|(n, _)| !is_named(n)) {
        // MySQL makes an index for a foreign key no other index serves, and drops it again when one does.
        let for_foreign_key = backend == Backend::Mysql && table.foreign_keys.iter().any(|fk| fk.columns == *columns);
        if !for_foreign_key {
            push(Kind::UnexpectedIndex { index: name.clone(), columns: columns.clone() });
        }
    }
    // SQLite and PostgreSQL make no second index for a unique constraint on the primary key's columns.
    let expected: BTreeSet<&Vec<String>> = table.uniques.iter().filter(|u| backend == Backend::Mysql || **u != table.primary_key).collect();
    let found: BTreeSet<&Vec<String>> = live.unique_indexes.iter().filter(|(n, _)| !is_named(n)).map(|(_, c)| c).collect();
    for columns in expected.difference(&found) {
        push(Kind::MissingUnique { columns: (*columns).clone() });
    }
    for columns in found.difference(&expected) {
        push(Kind::UnexpectedUnique { columns: (*columns).clone() });
    }

    let expected: Vec<FkPairs> = table.foreign_keys.iter().map(|fk| fk_pairs(&fk.columns, &fk.ref_table, &fk.ref_columns)).collect();
    let found: Vec<FkPairs> = live.foreign_keys.iter().map(|(c, t, r)| fk_pairs(c, t, r)).collect();
    for (fk, pairs) in table.foreign_keys.iter().zip(&expected) {
        if !found.contains(pairs) {
            push(Kind::MissingForeignKey {
                columns: fk.columns.clone(),
                ref_table: fk.ref_table.clone(),
                ref_columns: fk.ref_columns.clone(),
            });
        }
    }
    for ((columns, ref_table, ref_columns), pairs) in live.foreign_keys.iter().zip(&found) {
        if !expected.contains(pairs) {
            push(Kind::UnexpectedForeignKey { columns: columns.clone(), ref_table: ref_table.clone(), ref_columns: ref_columns.clone() });
        }
    }

    if backend == Backend::Mysql {
        // MariaDB 10.6 names utf8 `utf8mb3`; a collation starts with its character set.
        let charset = live.collation.as_deref().and_then(|c| c.split('_').next()).map(|c| if c == "utf8mb3" { "utf8" } else { c });
        for (attribute, expected, found) in
            [("engine", table.mysql_engine.as_str(), live.engine.as_deref()), ("charset", table.mysql_charset.as_str(), charset)]
        {
            let found = found.unwrap_or("none");
            if !expected.eq_ignore_ascii_case(found) {
                push(Kind::Storage { attribute, expected: expected.to_string(), found: found.to_string() });
            }
        }
    }
    out
}

/// Creates whatever of `schema` the database lacks — every sequence, table, index, unique
/// constraint and foreign key, each checked first — so that the same call makes a schema in an
/// empty database and completes one an interrupted run left half made. Refuses, before
/// creating anything, a database where something exists but differs. Returns what it created.
///
/// Each statement is followed by the failpoint `ddl:TABLE` (after a CREATE TABLE),
/// `ddl:TABLE:INDEX`, `ddl:TABLE:unique(COLUMNS)`, `ddl:TABLE:foreign-key(COLUMNS)` or
/// `ddl:sequence:NAME`.
pub fn ensure_schema(db: &mut Db, schema: &Schema) -> Result<Vec<Difference>> {
    let backend = db.backend();
    let (repairable, other): (Vec<Difference>, Vec<Difference>) = schema_diff(db, schema)?.into_iter().partition(|d| d.repairable(backend));
    if !other.is_empty() {
        return Err(Error::Schema {
            database: db.url().to_string(),
            context: format!(
                "holds the {} {} schema with differences osmigrate does not repair (give an empty or new database)",
                schema.release, schema.service
            ),
            differences: other,
        });
    }
    // In creation order: sequences, and the indexes and unique constraints existing tables lack (a
    // new table's foreign key may need one: Nova's `instances.uuid` on PostgreSQL); missing
    // tables, referenced ones first, each with its indexes; then the foreign keys existing tables
    // lack (they may reference a new table).
    let mut order: Vec<(&Difference, Vec<(String, String)>)> = Vec::new();
    let mut foreign_keys = Vec::new();
    for d in &repairable {
        let table = schema.table(&d.table).expect("differences name the schema's tables");
        match &d.kind {
            Kind::MissingSequence { sequence } => {
                order.push((d, vec![(format!("sequence:{sequence}"), ddl::create_sequence(backend, sequence))]));
            }
            Kind::MissingIndex { index, .. } => {
                let idx = table.indexes.iter().find(|i| i.name == *index).expect("a missing index is the schema's");
                order.push((d, vec![(format!("{}:{index}", table.name), ddl::create_index(backend, table, idx))]));
            }
            Kind::MissingUnique { columns } => {
                let sql = ddl::add_unique(backend, table, columns).expect("repairable on this backend");
                order.push((d, vec![(format!("{}:unique{}", table.name, label(columns)), sql)]));
            }
            Kind::MissingForeignKey { columns, .. } => {
                let fk = table.foreign_keys.iter().find(|fk| fk.columns == *columns).expect("a missing foreign key is the schema's");
                let sql = ddl::add_foreign_key(backend, table, fk).expect("repairable on this backend");
                foreign_keys.push((d, vec![(format!("{}:foreign-key{}", table.name, label(columns)), sql)]));
            }
            _ => {}
        }
    }
    for table in schema.tables_in_dependency_order() {
        if let Some(d) = repairable.iter().find(|d| d.table == table.name && d.kind == Kind::MissingTable) {
            let mut statements = vec![(table.name.clone(), ddl::create_table(backend, table))];
            for idx in &table.indexes {
                statements.push((format!("{}:{}", table.name, idx.name), ddl::create_index(backend, table, idx)));
            }
            order.push((d, statements));
        }
    }
    order.extend(foreign_keys);
    let mut created = Vec::new();
    for (d, statements) in order {
        for (label, sql) in statements {
            db.execute(&sql, &[])?;
            crate::failpoint::hit(&format!("ddl:{label}"));
        }
        created.push(d.clone());
    }
    Ok(created)
}

/// Columns in a failpoint name: `(a,b)`.
fn label(columns: &[String]) -> String {
    format!("({})", columns.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{Access, DbUrl};
    use crate::schema::{Backend, essex};

    fn sqlite() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&DbUrl::sqlite(&dir.path().join("t.sqlite")), Access::ReadWrite).unwrap();
        (dir, db)
    }

    #[test]
    fn reported_spellings_compare_equal() {
        assert_eq!(comparable_type(Backend::Mysql, "int(11)"), "int");
        assert_eq!(comparable_type(Backend::Mysql, "bigint(20)"), "bigint");
        assert_eq!(comparable_type(Backend::Mysql, "tinyint(1)"), "tinyint(1)");
        assert_eq!(comparable_type(Backend::Sqlite, "VARCHAR(255)"), "varchar(255)");
        assert_eq!(comparable_default("'x'::character varying"), "'x'");
        assert_eq!(comparable_default("nextval('images_id_seq'::regclass)"), "nextval('images_id_seq'::regclass)");
        assert_eq!(comparable_default("FALSE"), "false");
    }

    #[test]
    fn a_created_schema_has_no_difference_and_creating_it_again_creates_nothing() {
        for schema in
            [essex::keystone(Backend::Sqlite).unwrap(), essex::glance(Backend::Sqlite).unwrap(), essex::nova(Backend::Sqlite).unwrap()]
        {
            let (_dir, mut db) = sqlite();
            let created = ensure_schema(&mut db, &schema).unwrap();
            assert_eq!(created.len(), schema.tables.len(), "{}", schema.service);
            assert!(created.iter().all(|d| d.kind == Kind::MissingTable));
            assert_eq!(schema_diff(&mut db, &schema).unwrap(), vec![], "{}", schema.service);
            assert_eq!(ensure_schema(&mut db, &schema).unwrap(), vec![]);
        }
    }

    #[test]
    fn missing_indexes_and_tables_are_named_and_created() {
        let schema = essex::glance(Backend::Sqlite).unwrap();
        let (_dir, mut db) = sqlite();
        ensure_schema(&mut db, &schema).unwrap();
        db.execute("DROP INDEX ix_images_deleted", &[]).unwrap();
        db.execute("DROP TABLE image_properties", &[]).unwrap();
        let diff = schema_diff(&mut db, &schema).unwrap();
        let shown: Vec<String> = diff.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["table images: index ix_images_deleted (deleted) is missing", "table image_properties is missing"]);
        assert_eq!(ensure_schema(&mut db, &schema).unwrap(), diff);
        assert_eq!(schema_diff(&mut db, &schema).unwrap(), vec![]);
        // The table came back with its own index.
        let shape = introspect::shape(&mut db, "image_properties").unwrap();
        assert!(shape.indexes.iter().any(|(n, _)| n == "ix_image_properties_name"), "{shape:?}");
    }

    #[test]
    fn what_exists_but_differs_is_refused_before_anything_is_created() {
        let schema = essex::glance(Backend::Sqlite).unwrap();
        let (_dir, mut db) = sqlite();
        ensure_schema(&mut db, &schema).unwrap();
        db.execute("DROP INDEX ix_images_deleted", &[]).unwrap();
        db.execute("DROP TABLE image_properties", &[]).unwrap();
        db.execute("CREATE TABLE image_properties (id INTEGER NOT NULL, image_id TEXT, PRIMARY KEY (id))", &[]).unwrap();
        db.execute("CREATE INDEX ix_other ON images (name)", &[]).unwrap();
        db.execute("CREATE TABLE leftover (id INTEGER)", &[]).unwrap();
        let err = ensure_schema(&mut db, &schema).unwrap_err().to_string();
        for part in [
            "table image_properties: column image_id has type TEXT, the schema says VARCHAR(36)",
            "table image_properties: column image_id has nullability NULL, the schema says NOT NULL",
            "table image_properties: column name is missing",
            "table image_properties: unique constraint (image_id, name) is missing",
            "table image_properties: foreign key (image_id) → images (id) is missing",
            "table images: index ix_other (name) is not in the schema",
            "table leftover is not in the schema",
        ] {
            assert!(err.contains(part), "{part} in: {err}");
        }
        assert!(!err.contains("ix_images_deleted"), "what can be created is not a reason to refuse: {err}");
        let still = schema_diff(&mut db, &schema).unwrap();
        assert!(
            still.iter().any(|d| matches!(&d.kind, Kind::MissingIndex { index, .. } if index == "ix_images_deleted")),
            "nothing created"
        );
    }

    #[test]
    fn every_attribute_of_a_column_is_compared() {
        let (tables, _) = crate::schema::parse(
            "table t\n id integer not null autoincrement\n on boolean not null default 0\n primary key (id)\n",
            Backend::Mysql,
        )
        .unwrap();
        let t = &tables[0];
        let column = |name: &str, ty: &str, nullable: bool, default: Option<&str>, auto_increment: bool| introspect::ColumnInfo {
            name: name.into(),
            ty: ty.into(),
            nullable,
            default: default.map(Into::into),
            auto_increment,
        };
        let mut live = TableShape {
            name: "t".into(),
            columns: vec![column("id", "int(11)", false, None, true), column("on", "tinyint(1)", false, Some("0"), false)],
            primary_key: vec!["id".into()],
            engine: Some("InnoDB".into()),
            collation: Some("utf8mb3_general_ci".into()),
            ..TableShape::default()
        };
        assert_eq!(table_diff(Backend::Mysql, t, &live), vec![]);
        live.columns = vec![column("id", "bigint(20)", true, None, false), column("on", "tinyint(1)", false, Some("1"), false)];
        live.collation = Some("latin1_swedish_ci".into());
        let shown: Vec<String> = table_diff(Backend::Mysql, t, &live).iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "table t: column id has type bigint(20), the schema says int",
                "table t: column id has nullability NULL, the schema says NOT NULL",
                "table t: column id has auto_increment false, the schema says true",
                "table t: column on has default 1, the schema says 0",
                "table t: MySQL charset latin1, the schema says utf8",
            ]
        );
    }
}
