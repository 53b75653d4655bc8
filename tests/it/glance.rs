//! Diablo Glance databases of realistic shape, every variant, on every backend: migrated by the
//! real binary and checked row by row against the rules of 010–013 and the map.

use std::collections::{BTreeMap, HashSet};

use osmigrate::db::{Access, Backend, Db, DbUrl};
use osmigrate::generate::glance::{self as r#gen, DANGLING_KERNEL, Variant};
use serde_json::Value as Json;

use crate::schema::{assert_same_schema, live, reference};
use crate::support::{self, FreshDb, Server, osmigrate, rows};

const IMAGES: usize = 2000;

fn generated(server: &Server, variant: Variant, foreign_keys: bool, images: usize) -> FreshDb {
    let fresh = support::fresh_db(server, "glance");
    Db::create_database_if_missing(&fresh.url).unwrap();
    let mut db = Db::connect(&fresh.url, Access::ReadWrite).unwrap();
    let shape = r#gen::Shape {
        images,
        variant,
        foreign_keys,
        now: osmigrate::db::value::parse_datetime("2012-03-01 12:00:00").unwrap(),
        batch_size: 500,
    };
    r#gen::generate(&mut db, &shape).unwrap();
    fresh
}

fn migrate_glance(from: &DbUrl, to: &DbUrl, extra: &[&str]) -> (i32, Json, String) {
    let out = osmigrate()
        .args(["db", "migrate", "glance", "--from", &from.expose_secret(), "--to", &to.expose_secret(), "--json", "--batch-size", "300"])
        .args(extra)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let code = out.status.code().unwrap_or(-1);
    let json = if out.stdout.is_empty() { Json::Null } else { serde_json::from_slice(&out.stdout).unwrap_or(Json::Null) };
    (code, json, stderr)
}

fn map_of(url: &DbUrl) -> BTreeMap<String, String> {
    rows(url, "SELECT old_id, new_id FROM osmigrate_image_map").into_iter().map(|r| (r[0].clone(), r[1].clone())).collect()
}

fn finding<'a>(report: &'a Json, code: &str) -> Option<&'a Json> {
    report["findings"].as_array().unwrap().iter().find(|f| f["code"] == code)
}

const IMAGE_COLUMNS: &str = "id, name, size, status, is_public, location, created_at, updated_at, deleted_at, deleted, \
                             disk_format, container_format, checksum, owner, min_disk, min_ram";

/// Every rule of FACTS §2.2, row by row.
fn check_rows(ctx: &str, source: &DbUrl, target: &DbUrl) {
    let map = map_of(target);
    let src_images = rows(source, &format!("SELECT {IMAGE_COLUMNS} FROM images ORDER BY id"));
    assert_eq!(map.len(), src_images.len(), "{ctx}: one map entry per image, deleted ones too");
    let uuids: HashSet<&String> = map.values().collect();
    assert_eq!(uuids.len(), map.len(), "{ctx}: UUIDs are unique");
    assert!(map.values().all(|u| uuid::Uuid::parse_str(u).is_ok()), "{ctx}: UUIDs");

    let dst: BTreeMap<String, Vec<String>> =
        rows(target, &format!("SELECT {IMAGE_COLUMNS}, protected FROM images")).into_iter().map(|r| (r[0].clone(), r)).collect();
    assert_eq!(dst.len(), src_images.len(), "{ctx}: images");
    for s in &src_images {
        let new = &map[&s[0]];
        let d = &dst[new];
        let at = |i: usize| format!("{ctx}: image {} column {i}", s[0]);
        for i in 1..16 {
            let want = match i {
                7 if s[7] == "NULL" => s[6].clone(),          // updated_at = created_at (010)
                14 | 15 if s[i] == "NULL" => "0".to_string(), // min_disk/min_ram never NULL (011)
                _ => s[i].clone(),
            };
            assert_eq!(d[i], want, "{}", at(i));
        }
        assert_eq!(d[16], "0", "{ctx}: protected false (013)");
    }

    let src_props = rows(source, "SELECT id, image_id, name, value, created_at, deleted FROM image_properties ORDER BY id");
    let dst_props: BTreeMap<String, Vec<String>> =
        rows(target, "SELECT id, image_id, name, value, created_at, deleted FROM image_properties")
            .into_iter()
            .map(|r| (r[0].clone(), r))
            .collect();
    let mut orphans = 0;
    for s in &src_props {
        let Some(new_image) = map.get(&s[1]) else {
            orphans += 1;
            assert!(!dst_props.contains_key(&s[0]), "{ctx}: orphan property {} skipped", s[0]);
            continue;
        };
        let d = &dst_props[&s[0]];
        assert_eq!(&d[1], new_image, "{ctx}: property {} re-pointed", s[0]);
        assert_eq!((&d[2], &d[4], &d[5]), (&s[2], &s[4], &s[5]), "{ctx}: property {}", s[0]);
        let want = if s[2] == "kernel_id" || s[2] == "ramdisk_id" {
            map.get(&s[3]).cloned().unwrap_or_else(|| s[3].clone())
        } else {
            s[3].clone()
        };
        assert_eq!(d[3], want, "{ctx}: property {} value", s[0]);
    }
    assert_eq!(dst_props.len() + orphans, src_props.len(), "{ctx}: every property carried or reported");

    let src_members = rows(source, "SELECT id, image_id, member, can_share, created_at, deleted FROM image_members ORDER BY id");
    let dst_members: BTreeMap<String, Vec<String>> =
        rows(target, "SELECT id, image_id, member, can_share, created_at, deleted FROM image_members")
            .into_iter()
            .map(|r| (r[0].clone(), r))
            .collect();
    assert_eq!(dst_members.len(), src_members.len(), "{ctx}: members");
    for s in &src_members {
        let d = &dst_members[&s[0]];
        assert_eq!(d[1], map[&s[1]], "{ctx}: member {} re-pointed", s[0]);
        assert_eq!(d[2..], s[2..], "{ctx}: member {}", s[0]);
    }
    assert_eq!(
        rows(target, "SELECT repository_id, version FROM migrate_version"),
        vec![vec!["Glance Migrations".to_string(), "13".to_string()]]
    );
}

#[test]
fn every_diablo_variant_on_every_backend() {
    support::each_server(|server| {
        let variants: &[(Variant, bool)] = match server.backend {
            // Diablo's migrations fail on PostgreSQL: only the auto-created shape exists there.
            Backend::Postgres => &[(Variant::Unversioned, true), (Variant::StampedUnmigrated, false)],
            _ => &[(Variant::Versioned, true), (Variant::Unversioned, false), (Variant::StampedUnmigrated, true)],
        };
        for &(variant, fks) in variants {
            let ctx = format!("{variant:?} (foreign keys: {fks}) on {}", server.name());
            let source = generated(&server, variant, fks, IMAGES);
            let target = support::fresh_db(&server, "glance_essex");
            let dir = tempfile::tempdir().unwrap();
            let csv = dir.path().join("map.csv");
            let (code, report, stderr) = migrate_glance(&source.url, &target.url, &["--map-out", csv.to_str().unwrap()]);
            assert_eq!(code, 1, "{ctx}: warnings (a dangling kernel, a location without scheme): {stderr}");
            check_rows(&ctx, &source.url, &target.url);

            // The map three ways: the table, the CSV file, `glance map`.
            let map = map_of(&target.url);
            let mut from_table: Vec<(i64, String)> = map.iter().map(|(o, n)| (o.parse().unwrap(), n.clone())).collect();
            from_table.sort();
            let expected_csv = std::iter::once("old_id,new_id".to_string())
                .chain(from_table.iter().map(|(o, n)| format!("{o},{n}")))
                .collect::<Vec<_>>()
                .join("\n")
                + "\n";
            assert_eq!(std::fs::read_to_string(&csv).unwrap(), expected_csv, "{ctx}: --map-out");
            let printed = osmigrate().args(["glance", "map", "--db", &target.url.expose_secret()]).output().unwrap();
            assert_eq!(String::from_utf8(printed.stdout).unwrap(), expected_csv, "{ctx}: glance map");
            let printed = osmigrate().args(["glance", "map", "--db", &target.url.expose_secret(), "--json"]).output().unwrap();
            let json: Json = serde_json::from_slice(&printed.stdout).unwrap();
            assert_eq!(json.as_array().unwrap().len(), IMAGES);
            assert_eq!(json[0]["old_id"], 1);

            // The report says what happened.
            let images = report["tables"].as_array().unwrap().iter().find(|t| t["source_table"] == "images").unwrap();
            assert_eq!(images["read"], IMAGES, "{ctx}");
            assert_eq!(images["written"]["images"], IMAGES, "{ctx}");
            assert_eq!(images["written"]["osmigrate_image_map"], IMAGES, "{ctx}");
            let nulls = rows(&source.url, "SELECT COUNT(*) FROM images WHERE updated_at IS NULL")[0][0].clone();
            assert_eq!(finding(&report, "updated_at_filled").unwrap()["count"].to_string(), nulls, "{ctx}");
            let unknown = finding(&report, "image_reference_unknown").unwrap();
            assert_eq!(unknown["count"], 1);
            assert!(unknown["rows"][0].as_str().unwrap().contains(&format!("kernel_id={DANGLING_KERNEL}")));
            assert!(finding(&report, "image_reference_deleted").is_some(), "{ctx}: references to deleted kernels reported");
            assert!(finding(&report, "location_no_scheme").is_some(), "{ctx}");
            let located = finding(&report, "location_names_old_id").unwrap();
            let text = located.to_string();
            assert!(!text.contains("swiftkey"), "{ctx}: swift credentials never reported");
            if variant == Variant::StampedUnmigrated {
                assert!(finding(&report, "stamp_without_migration").is_some(), "{ctx}");
            }

            // Identical to the Essex reference, whatever the Diablo shape was.
            assert_same_schema(&format!("essex glance from {ctx}"), &live(&target.url), &reference("essex", "glance", server.backend));

            // A second run is a no-op with the same map.
            let (code2, again, _) = migrate_glance(&source.url, &target.url, &[]);
            assert_eq!((code2, again["outcome"].as_str()), (1, Some("already_complete")), "{ctx}");
            assert_eq!(map_of(&target.url), map);
        }
    });
}

#[test]
fn an_interrupted_run_ends_with_the_same_map_and_rows() {
    support::each_server(|server| {
        let source = generated(&server, Variant::Unversioned, true, 700);
        let target = support::fresh_db(&server, "glance_essex");
        let (code, _, stderr) = migrate_glance(&source.url, &target.url, &[]);
        assert_eq!(code, 1, "{stderr}");
        let snapshot = |url: &DbUrl| {
            (
                map_of(url),
                rows(url, &format!("SELECT {IMAGE_COLUMNS}, protected FROM images ORDER BY id")),
                rows(url, "SELECT * FROM image_properties ORDER BY id"),
                rows(url, "SELECT * FROM image_members ORDER BY id"),
            )
        };
        let whole = snapshot(&target.url);
        // Cut it short inside the properties step: half the properties, no members, no stamp.
        let mut db = Db::connect(&target.url, Access::ReadWrite).unwrap();
        db.execute("DELETE FROM osmigrate_journal WHERE step IN ('image_properties', 'image_members', 'finished')", &[]).unwrap();
        db.execute("DELETE FROM migrate_version", &[]).unwrap();
        db.execute("DELETE FROM image_members", &[]).unwrap();
        db.execute("DELETE FROM image_properties WHERE id > 1000", &[]).unwrap();
        drop(db);
        let (code, report, stderr) = migrate_glance(&source.url, &target.url, &[]);
        assert_eq!(code, 1, "{}: {stderr}", server.name());
        assert_eq!(report["outcome"], "resumed");
        assert_eq!(snapshot(&target.url), whole, "{}: same map and rows as the uninterrupted run", server.name());
        assert_eq!(rows(&target.url, "SELECT version FROM migrate_version")[0][0], "13");
    });
}

/// A large load runs without the table's secondary indexes (MySQL drops those no foreign key
/// needs, committing; PostgreSQL drops its keys inside the step's transaction): a run killed in
/// the middle of it leaves them missing on MySQL only, and the next run puts them back before it
/// loads again, ending with the same rows as an uninterrupted run.
#[test]
fn a_run_killed_while_a_table_loads_without_its_indexes_resumes_with_them() {
    support::each_server(|server| {
        let ctx = server.name();
        let source = generated(&server, Variant::Unversioned, true, 700);
        let (whole, target) = (support::fresh_db(&server, "glance_whole"), support::fresh_db(&server, "glance_essex"));
        let run = |to: &DbUrl, failpoint: Option<&str>| {
            let mut cmd = osmigrate();
            cmd.args(["db", "migrate", "glance", "--from", &source.url.expose_secret(), "--to", &to.expose_secret(), "--json"]);
            cmd.args(["--batch-size", "2000"]);
            if let Some(point) = failpoint {
                cmd.env("OSMIGRATE_FAILPOINT", point);
            }
            let out = cmd.output().unwrap();
            (
                out.status.code(),
                serde_json::from_slice::<Json>(&out.stdout).unwrap_or(Json::Null),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        };
        assert_eq!(run(&whole.url, None).0, Some(1), "{ctx}");
        let (code, _, stderr) = run(&target.url, Some("batch:image_properties:1"));
        assert_eq!(code, None, "{ctx}: killed after the first batch: {stderr}");
        let indexes = |url: &DbUrl| {
            let shape = osmigrate::db::introspect::shape(&mut Db::connect(url, Access::ReadOnly).unwrap(), "image_properties").unwrap();
            shape.indexes.into_iter().chain(shape.unique_indexes).map(|(name, _)| name).collect::<std::collections::BTreeSet<_>>()
        };
        let all = indexes(&whole.url);
        assert_eq!(indexes(&target.url) == all, server.backend != Backend::Mysql, "{ctx}: {:?} of {all:?}", indexes(&target.url));
        let (code, report, stderr) = run(&target.url, None);
        assert_eq!(code, Some(1), "{ctx}: {stderr}");
        assert_eq!(report["outcome"], "resumed", "{ctx}");
        let completed = finding(&report, "schema_completed").map(std::string::ToString::to_string).unwrap_or_default();
        assert_eq!(completed.contains("image_properties"), server.backend == Backend::Mysql, "{ctx}: {completed}");
        assert_eq!(indexes(&target.url), all, "{ctx}: every index back");
        let properties = |url: &DbUrl| rows(url, "SELECT * FROM image_properties ORDER BY id");
        assert_eq!(properties(&target.url), properties(&whole.url), "{ctx}: same rows as the uninterrupted run");
    });
}

/// A run started again completes a schema that lost a table, but a table that exists with a
/// column of another type is refused, named, before anything is created.
#[test]
fn a_resumed_run_refuses_a_table_that_differs_from_the_schema() {
    for server in support::servers() {
        let ctx = server.name();
        let source = generated(&server, Variant::Unversioned, true, 40);
        let target = support::fresh_db(&server, "glance_essex");
        let out = osmigrate()
            .args(["db", "migrate", "glance", "--from", &source.url.expose_secret(), "--to", &target.url.expose_secret()])
            .env("OSMIGRATE_FAILPOINT", "step:image_map")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), None, "{ctx}: killed after the first step");
        let retype = match server.backend {
            Backend::Sqlite => "ALTER TABLE images RENAME COLUMN checksum TO digest",
            Backend::Mysql => "ALTER TABLE images MODIFY checksum TEXT",
            Backend::Postgres => "ALTER TABLE images ALTER COLUMN checksum TYPE text",
        };
        let mut db = Db::connect(&target.url, Access::ReadWrite).unwrap();
        db.execute(retype, &[]).unwrap();
        db.execute("DROP TABLE image_members", &[]).unwrap();
        drop(db);
        let (code, _, stderr) = migrate_glance(&source.url, &target.url, &[]);
        assert_eq!(code, 2, "{ctx}: {stderr}");
        let named = match server.backend {
            Backend::Sqlite => "table images: column checksum is missing; table images: column digest is not in the schema",
            Backend::Mysql => "table images: column checksum has type text, the schema says varchar(32)",
            Backend::Postgres => "table images: column checksum has type text, the schema says character varying(32)",
        };
        assert!(stderr.contains(named) && stderr.contains("does not repair"), "{ctx}: {stderr}");
        assert!(!stderr.contains("image_members"), "{ctx}: what can be created is not a reason to refuse: {stderr}");
        let mut db = Db::connect(&target.url, Access::ReadOnly).unwrap();
        let tables = db.table_names().unwrap();
        assert!(!tables.contains(&"image_members".to_string()), "{ctx}: nothing created: {tables:?}");
        assert_eq!(db.query_scalar("SELECT COUNT(*) FROM migrate_version", &[]).unwrap().as_i64(), Some(0), "{ctx}: unstamped");
    }
}

#[test]
fn diablo_glance_generator_matches_the_reference_on_every_backend() {
    support::each_server(|server| {
        let mut cases = vec![(Variant::Unversioned, "glance-autocreate")];
        if server.backend != Backend::Postgres {
            cases.push((Variant::Versioned, "glance"));
        }
        for (variant, reference_name) in cases {
            let source = generated(&server, variant, true, 20);
            let what = format!("diablo {reference_name} on {}", server.name());
            assert_same_schema(&what, &live(&source.url), &reference("diablo", reference_name, server.backend));
        }
    });
}

#[test]
fn sources_that_are_not_diablo_glance_are_refused() {
    let server = &support::servers()[0];
    let source = generated(server, Variant::Versioned, true, 20);
    let essex = support::fresh_db(server, "essex");
    assert_eq!(migrate_glance(&source.url, &essex.url, &[]).0, 1);
    let other = support::fresh_db(server, "other");
    let (code, _, err) = migrate_glance(&essex.url, &other.url, &[]);
    assert_eq!(code, 2);
    assert!(err.contains("already has Essex's string image ids") && err.contains("stamp 13"), "{err}");

    let keystone = support::generated_keystone(server, "ks", &[]);
    let (code, _, err) = migrate_glance(&keystone.url, &other.url, &[]);
    assert_eq!(code, 2);
    assert!(err.contains("is not a Glance database") && err.contains("lacks images"), "{err}");

    let out = osmigrate().args(["glance", "map", "--db", &keystone.url.expose_secret()]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("holds no osmigrate image map"));
}

#[test]
fn members_that_differ_only_in_case_are_refused_for_a_mysql_target() {
    let Some(mysql) = support::servers().into_iter().find(|s| s.backend == Backend::Mysql) else { return };
    let source = generated(&support::servers()[0], Variant::Versioned, true, 20);
    let mut db = Db::connect(&source.url, Access::ReadWrite).unwrap();
    db.execute(
        "INSERT INTO image_members (id, image_id, member, can_share, created_at, deleted) VALUES (900, 5, 'TENANT1', 0, '2012-01-01 00:00:00', 0)",
        &[],
    )
    .unwrap();
    drop(db);
    let target = support::fresh_db(&mysql, "glance_case");
    let (code, _, err) = migrate_glance(&source.url, &target.url, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("image_members: image 5 `member` tenant1"), "{err}");
}

/// Text in an integer column: only SQLite stores it (MySQL and PostgreSQL refuse it on the
/// source), so the source is SQLite; the targets are every backend. Carried as NULL, reported
/// with its row and column; every row still carried.
#[test]
fn text_in_an_integer_column_is_carried_as_null_and_reported() {
    let source = generated(&support::servers()[0], Variant::Versioned, false, 20);
    assert_eq!(source.url.backend, Backend::Sqlite);
    Db::connect(&source.url, Access::ReadWrite).unwrap().execute("UPDATE images SET size = 'big' WHERE id = 3", &[]).unwrap();
    support::each_server(|server| {
        let ctx = format!("SQLite source, {} target", server.name());
        let target = support::fresh_db(&server, "glance_essex");
        let (code, report, stderr) = migrate_glance(&source.url, &target.url, &[]);
        assert_eq!(code, 1, "{ctx}: {stderr}");
        let found = finding(&report, "not_an_integer").unwrap_or_else(|| panic!("{ctx}: no not_an_integer in {report}"));
        let uuid = map_of(&target.url)["3"].clone();
        assert_eq!((found["severity"].as_str(), found["count"].as_u64()), (Some("warning"), Some(1)), "{ctx}");
        assert_eq!(found["rows"][0], format!("id={uuid} size=`big`"), "{ctx}");
        assert!(found["message"].as_str().unwrap().contains("images.size"), "{ctx}");
        let images = report["tables"].as_array().unwrap().iter().find(|t| t["source_table"] == "images").unwrap();
        assert_eq!((images["read"].as_u64(), images["written"]["images"].as_u64()), (Some(20), Some(20)), "{ctx}: every row carried");
        assert_eq!(rows(&target.url, &format!("SELECT size FROM images WHERE id = '{uuid}'")), vec![vec!["NULL".to_string()]], "{ctx}");
        let others = rows(&target.url, &format!("SELECT COUNT(*) FROM images WHERE size IS NULL AND id <> '{uuid}'"))[0][0].clone();
        let source_nulls = rows(&source.url, "SELECT COUNT(*) FROM images WHERE size IS NULL")[0][0].clone();
        assert_eq!(others, source_nulls, "{ctx}: the other sizes carried as they were");
    });
}

/// A Diablo Glance on the MySQL server (none without one) whose images have MySQL's zero date
/// where `zeroed` says (`column WHERE …`), stored with sql_mode '' as old servers did.
fn mysql_glance_with_zero_dates(zeroed: &[&str]) -> Option<FreshDb> {
    let mysql = support::servers().into_iter().find(|s| s.backend == Backend::Mysql)?;
    let source = generated(&mysql, Variant::Versioned, true, 20);
    let mut db = Db::connect(&source.url, Access::ReadWrite).unwrap();
    db.execute("SET SESSION sql_mode = ''", &[]).unwrap();
    for z in zeroed {
        let (column, rows) = z.split_once(" WHERE ").unwrap();
        db.execute(&format!("UPDATE images SET {column} = '0000-00-00 00:00:00' WHERE {rows}"), &[]).unwrap();
    }
    Some(source)
}

/// MySQL's zero dates (only a MySQL source has them): NULL in every target, counted per column
/// with `zero_date`.
#[test]
fn mysql_zero_dates_are_counted_per_column() {
    let Some(source) = mysql_glance_with_zero_dates(&["deleted_at WHERE id IN (1, 2)", "updated_at WHERE id = 3"]) else { return };
    support::each_server(|server| {
        let ctx = format!("MySQL source, {} target", server.name());
        let target = support::fresh_db(&server, "glance_essex");
        let (code, report, stderr) = migrate_glance(&source.url, &target.url, &[]);
        assert!(code == 0 || code == 1, "{ctx}: {stderr}");
        let zero: BTreeMap<String, (String, u64)> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["code"] == "zero_date")
            .map(|f| {
                (f["message"].as_str().unwrap().to_string(), (f["severity"].as_str().unwrap().to_string(), f["count"].as_u64().unwrap()))
            })
            .collect();
        let expected = [
            ("images.deleted_at held MySQL's zero date (0000-00-00 00:00:00): carried as NULL".to_string(), ("info".to_string(), 2)),
            ("images.updated_at held MySQL's zero date (0000-00-00 00:00:00): carried as NULL".to_string(), ("info".to_string(), 1)),
        ];
        assert_eq!(zero, expected.into_iter().collect(), "{ctx}");
        let map = map_of(&target.url);
        for old in ["1", "2"] {
            let deleted_at = rows(&target.url, &format!("SELECT deleted_at FROM images WHERE id = '{}'", map[old]));
            assert_eq!(deleted_at, vec![vec!["NULL".to_string()]], "{ctx}: image {old}");
        }
        // A NULL updated_at takes created_at (Essex 010), a zero one too.
        let three = rows(&target.url, &format!("SELECT updated_at, created_at FROM images WHERE id = '{}'", map["3"]));
        assert_eq!(three[0][0], three[0][1], "{ctx}");
    });
}

/// A zero date where Essex needs a value (`images.created_at`) is refused before the server sees
/// it, naming the image (by its Essex id) and the column, the same way on every target.
#[test]
fn a_zero_date_essex_needs_is_refused_naming_the_image() {
    let Some(source) = mysql_glance_with_zero_dates(&["created_at WHERE id = 4"]) else { return };
    support::each_server(|server| {
        let ctx = format!("MySQL source, {} target", server.name());
        let target = support::fresh_db(&server, "glance_essex");
        let (code, _, stderr) = migrate_glance(&source.url, &target.url, &[]);
        assert_eq!(code, 2, "{ctx}: {stderr}");
        assert!(
            stderr.contains("images row ") && stderr.contains("field `created_at`: is NULL, but images.created_at requires a value"),
            "{ctx}: {stderr}"
        );
    });
}
