//! The Essex schema osmigrate creates reads back, on each backend, exactly like the database the
//! upstream migrations created (`tests/data/schemas`): same tables, columns, types,
//! nullability, defaults, keys and indexes. osmigrate's own `osmigrate_*` tables are ignored;
//! MySQL tables are utf8 by design where the reference server defaulted to latin1.

use std::collections::{BTreeMap, BTreeSet};

use osmigrate::db::diff::{self, Kind};
use osmigrate::db::introspect::{self, ColumnInfo, TableShape};
use osmigrate::db::{Access, Backend, Db, DbUrl};

use crate::support::{self, Server, keystone_fixture, run_json};

fn tsv(path: &std::path::Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines().skip(1).filter(|l| !l.is_empty()).map(|l| l.split('\t').map(String::from).collect()).collect()
}

fn cols(s: &str) -> Vec<String> {
    s.split(',').map(str::trim).filter(|c| !c.is_empty()).map(String::from).collect()
}

/// `-> service(id)` or `FOREIGN KEY (a) REFERENCES public.t(b)` → (table, columns)
fn fk_target(detail: &str) -> (String, Vec<String>) {
    let tail = detail.rsplit("REFERENCES ").next().unwrap_or(detail).trim_start_matches("-> ");
    let (table, rest) = tail.split_once('(').unwrap();
    let table = table.trim().trim_start_matches("public.").trim_matches('"').to_string();
    (table, cols(rest.split(')').next().unwrap()))
}

/// (table, constraint) → (columns, referenced table, referenced columns)
type ForeignKeys = BTreeMap<(String, String), (Vec<String>, String, Vec<String>)>;

/// The reference dump of one service on one backend, in the shape introspection returns.
pub fn reference(release: &str, service: &str, backend: Backend) -> BTreeMap<String, TableShape> {
    let b = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Mysql => "mysql",
        Backend::Postgres => "postgresql",
    };
    let dir = support::reference_dir().join("schemas").join(release);
    let mut shapes: BTreeMap<String, TableShape> = BTreeMap::new();
    for r in tsv(&dir.join(format!("{service}.{b}.columns.tsv"))) {
        let shape = shapes.entry(r[0].clone()).or_insert_with(|| TableShape { name: r[0].clone(), ..Default::default() });
        let default = match r[4].as_str() {
            "\\N" | "NULL" => None,
            d => Some(d.to_string()),
        };
        let auto_increment = r.get(6).is_some_and(|extra| extra.contains("auto_increment"));
        shape.columns.push(ColumnInfo { name: r[1].clone(), ty: r[2].clone(), nullable: r[3] == "YES", default, auto_increment });
    }
    // Foreign keys by (table, constraint name): SQLite's dump lists a composite key one column a
    // row under one name.
    let mut fks = ForeignKeys::new();
    for r in tsv(&dir.join(format!("{service}.{b}.constraints.tsv"))) {
        let shape = shapes.get_mut(&r[0]).unwrap_or_else(|| panic!("constraint on unknown table {}", r[0]));
        let detail = r.get(4).cloned().unwrap_or_default();
        match r[1].as_str() {
            // SQLite lists a primary key twice, sorted and (when it has an index) in declared
            // order as `(auto:pk)`; an INTEGER key has only the first.
            "PRIMARY" if backend == Backend::Sqlite && r[2].is_empty() => {
                if shape.primary_key.is_empty() {
                    shape.primary_key = cols(&r[3]);
                }
            }
            "PRIMARY" => shape.primary_key = cols(&r[3]),
            "UNIQUE" => {
                shape.uniques.insert(cols(&r[3]));
            }
            "UNIQUE-CONSTRAINT" => {}
            "INDEX" => {
                shape.indexes.insert((r[2].clone(), cols(&r[3])));
            }
            "FOREIGN" => {
                let (t, rc) = fk_target(&detail);
                let local = if r[3].is_empty() {
                    // PostgreSQL: the columns are in the detail.
                    cols(detail.split('(').nth(1).unwrap().split(')').next().unwrap())
                } else {
                    cols(&r[3])
                };
                let name = if r[2].is_empty() { detail.clone() } else { r[2].clone() };
                let fk = fks.entry((r[0].clone(), name)).or_insert_with(|| (Vec::new(), t, Vec::new()));
                fk.0.extend(local);
                fk.2.extend(rc);
            }
            other => panic!("unknown constraint kind {other}"),
        }
    }
    for ((table, _), fk) in fks {
        shapes.get_mut(&table).expect("known table").foreign_keys.insert(fk);
    }
    if backend == Backend::Mysql {
        for r in tsv(&dir.join(format!("{service}.{b}.tables.tsv"))) {
            if let Some(s) = shapes.get_mut(&r[0]) {
                s.engine = Some(r[1].clone());
            }
        }
    }
    shapes
}

/// The live schema, osmigrate's own tables left out.
pub fn live(url: &DbUrl) -> BTreeMap<String, TableShape> {
    let mut db = Db::connect(url, Access::ReadOnly).unwrap();
    let mut out = BTreeMap::new();
    for t in db.table_names().unwrap() {
        if t.starts_with("osmigrate_") {
            continue;
        }
        let mut shape = introspect::shape(&mut db, &t).unwrap();
        shape.collation = None; // utf8 by design (see the module comment)
        out.insert(t, shape);
    }
    out
}

/// Foreign keys with their column pairs sorted (SQLite's dump does not keep their order).
fn normalized_fks(shape: &TableShape) -> BTreeSet<Vec<(String, String, String)>> {
    shape
        .foreign_keys
        .iter()
        .map(|(cols, table, refs)| {
            let mut pairs: Vec<(String, String, String)> =
                cols.iter().zip(refs).map(|(c, r)| (c.clone(), table.clone(), r.clone())).collect();
            pairs.sort();
            pairs
        })
        .collect()
}

/// Compares table by table, so that a failure names what differs.
pub fn assert_same_schema(what: &str, live: &BTreeMap<String, TableShape>, reference: &BTreeMap<String, TableShape>) {
    let l: BTreeSet<_> = live.keys().collect();
    let r: BTreeSet<_> = reference.keys().collect();
    assert_eq!(l, r, "{what}: table names");
    for (name, want) in reference {
        let got = &live[name];
        assert_eq!(got.columns, want.columns, "{what}: columns of {name}");
        assert_eq!(got.primary_key, want.primary_key, "{what}: primary key of {name}");
        assert_eq!(got.uniques, want.uniques, "{what}: unique keys of {name}");
        assert_eq!(got.indexes, want.indexes, "{what}: indexes of {name}");
        assert_eq!(normalized_fks(got), normalized_fks(want), "{what}: foreign keys of {name}");
        if want.engine.is_some() {
            assert_eq!(got.engine, want.engine, "{what}: engine of {name}");
        }
    }
}

fn migrated_keystone(server: &Server) -> (support::FreshDb, support::FreshDb) {
    let source = keystone_fixture(server, "diablo");
    let target = support::fresh_db(server, "ks_schema");
    let (code, _, stderr) =
        run_json(&["db", "migrate", "keystone", "--from", &source.url.expose_secret(), "--to", &target.url.expose_secret()]);
    assert!(code <= 1, "{stderr}");
    (source, target)
}

#[test]
fn essex_keystone_matches_the_reference_on_every_backend() {
    support::each_server(|server| {
        let (_source, target) = migrated_keystone(&server);
        let what = format!("essex keystone on {}", server.name());
        assert_same_schema(&what, &live(&target.url), &reference("essex", "keystone", server.backend));
    });
}

#[test]
fn diablo_keystone_generator_matches_the_reference_on_every_backend() {
    support::each_server(|server| {
        let fresh = support::fresh_db(&server, "ks_diablo_schema");
        Db::create_database_if_missing(&fresh.url).unwrap();
        let mut db = Db::connect(&fresh.url, Access::ReadWrite).unwrap();
        let mut shape = osmigrate::generate::keystone::Shape::demo();
        shape.users = 2;
        osmigrate::generate::keystone::generate(&mut db, &shape).unwrap();
        drop(db);
        let mut want = reference("diablo", "keystone", server.backend);
        if server.backend == Backend::Mysql {
            // The reference server made MyISAM-less InnoDB tables too; nothing to adjust.
            for t in want.values_mut() {
                t.engine = Some("InnoDB".into());
            }
        }
        assert_same_schema(&format!("diablo keystone on {}", server.name()), &live(&fresh.url), &want);
    });
}

/// Every built-in schema, created from its data on each backend, reads back like the reference.
#[test]
fn every_builtin_schema_matches_its_reference_on_every_backend() {
    use osmigrate::schema::{Schema, diablo, essex};
    type Case = (&'static str, &'static str, fn(Backend) -> osmigrate::Result<Schema>);
    let cases: &[Case] = &[
        ("essex", "keystone", essex::keystone),
        ("essex", "glance", essex::glance),
        ("essex", "nova", essex::nova),
        ("diablo", "keystone", diablo::keystone),
        ("diablo", "glance", diablo::glance),
        ("diablo", "glance-autocreate", diablo::glance_autocreate),
        ("diablo", "nova", diablo::nova),
    ];
    support::each_server(|server| {
        for (release, name, schema) in cases {
            let schema = schema(server.backend).unwrap();
            if schema.tables.is_empty() {
                continue; // Diablo's Glance migrations never worked on PostgreSQL
            }
            let fresh = support::fresh_db(&server, "schema");
            Db::create_database_if_missing(&fresh.url).unwrap();
            let mut db = Db::connect(&fresh.url, Access::ReadWrite).unwrap();
            db.create_schema(&schema).unwrap_or_else(|e| panic!("{release} {name} on {}: {e}", server.name()));
            // osmigrate's own comparison (resume, verify) finds nothing to say about what it made.
            let differences = diff::schema_diff(&mut db, &schema).unwrap();
            assert!(differences.is_empty(), "{release} {name} on {}: {differences:#?}", server.name());
            drop(db);
            assert_same_schema(
                &format!("{release} {name} on {}", server.name()),
                &live(&fresh.url),
                &reference(release, name, server.backend),
            );
            if server.backend == Backend::Sqlite {
                assert_eq!(created_indexes(&fresh.url), reference_created_indexes(release, name), "{release} {name}: named indexes");
            }
        }
    });
}

/// SQLite's indexes made by `CREATE [UNIQUE] INDEX` rather than by a table's inline keys, as
/// (table, name): the two read back alike, but only the first can be dropped by name (as later
/// upstream migrations do).
fn created_indexes(url: &DbUrl) -> BTreeSet<(String, String)> {
    support::rows(url, "SELECT tbl_name, name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
        .into_iter()
        .map(|r| (r[0].clone(), r[1].clone()))
        .collect()
}

fn reference_created_indexes(release: &str, service: &str) -> BTreeSet<(String, String)> {
    let path = support::reference_dir().join("schemas").join(release).join(format!("{service}.sqlite.constraints.tsv"));
    tsv(&path).into_iter().filter(|r| r.get(4).is_some_and(|d| d == "origin=c")).map(|r| (r[0].clone(), r[2].clone())).collect()
}

/// What a killed run can leave missing is named and created again on every backend, so that the
/// database reads back like one made in one go; what exists but differs is refused, named.
#[test]
fn missing_objects_are_created_and_differing_ones_refused_on_every_backend() {
    for server in support::servers() {
        let ctx = server.name();
        let schema = osmigrate::schema::essex::glance(server.backend).unwrap();
        let whole = support::fresh_db(&server, "diff_whole");
        Db::create_database_if_missing(&whole.url).unwrap();
        Db::connect(&whole.url, Access::ReadWrite).unwrap().create_schema(&schema).unwrap();

        let broken = support::fresh_db(&server, "diff_broken");
        Db::create_database_if_missing(&broken.url).unwrap();
        let mut db = Db::connect(&broken.url, Access::ReadWrite).unwrap();
        db.create_schema(&schema).unwrap();
        let (members, properties) = (db.quote("image_members"), db.quote("image_properties"));
        let mut dropped = vec![format!("DROP INDEX {}", db.quote("ix_images_deleted"))];
        if server.backend == Backend::Mysql {
            dropped[0].push_str(" ON images");
        }
        match server.backend {
            // SQLite cannot add a constraint to a table: only what a CREATE INDEX makes can go missing there.
            Backend::Sqlite => {}
            Backend::Mysql => dropped.extend([
                format!("ALTER TABLE {members} DROP FOREIGN KEY image_members_ibfk_1"),
                format!("ALTER TABLE {properties} DROP INDEX image_id"),
            ]),
            Backend::Postgres => dropped.extend([
                format!("ALTER TABLE {members} DROP CONSTRAINT image_members_image_id_fkey"),
                format!("ALTER TABLE {properties} DROP CONSTRAINT image_properties_image_id_name_key"),
            ]),
        }
        db.execute_all(&dropped).unwrap();
        let found: Vec<String> = diff::schema_diff(&mut db, &schema).unwrap().iter().map(ToString::to_string).collect();
        let mut want = vec!["table images: index ix_images_deleted (deleted) is missing".to_string()];
        if server.backend != Backend::Sqlite {
            want.push("table image_members: foreign key (image_id) → images (id) is missing".into());
            want.push("table image_properties: unique constraint (image_id, name) is missing".into());
        }
        assert_eq!(found, want, "{ctx}");
        let created = db.create_schema(&schema).unwrap();
        assert_eq!(created.len(), want.len(), "{ctx}: {created:?}");
        assert_eq!(diff::schema_diff(&mut db, &schema).unwrap(), vec![], "{ctx}");
        drop(db);
        assert_same_schema(&format!("repaired glance on {ctx}"), &live(&broken.url), &live(&whole.url));

        // A column of another type is not something to create: refused before anything is made.
        let mut db = Db::connect(&broken.url, Access::ReadWrite).unwrap();
        let retype = match server.backend {
            Backend::Sqlite => "ALTER TABLE images RENAME COLUMN checksum TO digest".to_string(),
            Backend::Mysql => "ALTER TABLE images MODIFY checksum TEXT".to_string(),
            Backend::Postgres => "ALTER TABLE images ALTER COLUMN checksum TYPE text".to_string(),
        };
        db.execute_all(&[
            retype,
            format!("DROP INDEX {}{}", db.quote("ix_images_is_public"), if server.backend == Backend::Mysql { " ON images" } else { "" }),
        ])
        .unwrap();
        let err = db.create_schema(&schema).unwrap_err();
        let osmigrate::Error::Schema { differences, .. } = &err else { panic!("{ctx}: {err}") };
        let expected = match server.backend {
            Backend::Sqlite => vec![Kind::MissingColumn { column: "checksum".into() }, Kind::UnexpectedColumn { column: "digest".into() }],
            _ => vec![Kind::Column {
                column: "checksum".into(),
                attribute: "type",
                expected: if server.backend == Backend::Mysql { "varchar(32)" } else { "character varying(32)" }.into(),
                found: "text".into(),
            }],
        };
        assert_eq!(differences.iter().map(|d| d.kind.clone()).collect::<Vec<_>>(), expected, "{ctx}: {err}");
        assert!(differences.iter().all(|d| d.table == "images"), "{ctx}: {err}");
        assert!(err.to_string().contains("table images: column checksum"), "{ctx}: {err}");
        let left = diff::schema_diff(&mut db, &schema).unwrap();
        assert!(
            left.iter().any(|d| matches!(&d.kind, Kind::MissingIndex { index, .. } if index == "ix_images_is_public")),
            "{ctx}: nothing was created: {left:?}"
        );
    }
}
