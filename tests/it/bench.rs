//! `osmigrate bench run` on a small cloud (scale 0.01), on every backend: the numbers it reports
//! are about the databases it generated and migrated, and the per-table rates add up.

use osmigrate::db::{Backend, DbUrl};
use serde_json::Value;

use crate::support::{Server, each_server, osmigrate, rows};

const SCALE: &str = "0.01";

/// The bench's database `svc_kind` at `place`, as `bench run` names it.
fn bench_db(server: &Server, dir: &std::path::Path, svc: &str, kind: &str) -> DbUrl {
    let name = format!("osm_bench_s0_01_{svc}_{kind}");
    match &server.url {
        None => DbUrl::sqlite(&dir.join(format!("{name}.sqlite"))),
        Some(url) => url.with_database(&name),
    }
}

fn count(url: &DbUrl, sql: &str) -> u64 {
    rows(url, sql)[0][0].parse().unwrap()
}

fn service<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["services"].as_array().unwrap().iter().find(|s| s["service"] == name).unwrap_or_else(|| panic!("no {name} in {doc}"))
}

/// The rows the bench says it read from `table`, from its per-table rates.
fn rows_read(doc: &Value, table: &str) -> u64 {
    let (svc, _) = table.split_once('.').unwrap();
    let tables = service(doc, svc)["tables"].as_array().unwrap();
    let t = tables.iter().find(|t| t["table"] == table).unwrap_or_else(|| panic!("no rate for {table}"));
    t["rows"].as_u64().unwrap()
}

#[test]
fn bench_run_reports_what_it_migrated() {
    each_server(|server| {
        let dir = tempfile::tempdir().unwrap();
        let place = match &server.url {
            None => format!("sqlite:{}", dir.path().display()),
            Some(url) => url.expose_secret(),
        };
        let out = osmigrate().args(["bench", "run", "--scale", SCALE, "--server", &place, "--json"]).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{}: bench run failed: {stderr}", server.name());
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        let db = |svc: &str, kind: &str| bench_db(&server, dir.path(), svc, kind);

        // The rates are about the generated cloud, read whole.
        let (keystone, glance, nova) = (db("keystone", "diablo"), db("glance", "diablo"), db("nova", "diablo"));
        let instances = count(&nova, "SELECT COUNT(*) FROM instances");
        assert_eq!(instances, 1_000, "scale 0.01 is a hundredth of the reference cloud");
        assert_eq!(rows_read(&doc, "nova.instances"), instances);
        assert_eq!(rows_read(&doc, "nova.instances (066)"), instances);
        assert_eq!(rows_read(&doc, "nova.fixed_ips"), count(&nova, "SELECT COUNT(*) FROM fixed_ips"));
        assert_eq!(rows_read(&doc, "glance.images"), count(&glance, "SELECT COUNT(*) FROM images"));
        assert_eq!(rows_read(&doc, "keystone.users"), count(&keystone, "SELECT COUNT(*) FROM users"));
        let plaintext = count(&keystone, "SELECT COUNT(*) FROM users WHERE password NOT LIKE '$6$%'");
        assert!(plaintext > 0);
        assert_eq!(doc["hashing"]["plaintext_passwords"].as_u64(), Some(plaintext));

        // And what it migrated is there.
        let info_caches = count(&db("nova", "essex"), "SELECT COUNT(*) FROM instance_info_caches");
        assert_eq!(info_caches, instances);

        for s in doc["services"].as_array().unwrap() {
            for key in ["migration_seconds", "raw_copy_seconds", "alone_seconds"] {
                assert!(s[key].as_f64().unwrap() > 0.0, "{}: {key} in {s}", server.name());
            }
            assert!(s["peak_rss_bytes"].as_u64().unwrap() > 1_000_000);
            let ratio = s["migration_seconds"].as_f64().unwrap() / s["raw_copy_seconds"].as_f64().unwrap();
            assert!((s["ratio"].as_f64().unwrap() - ratio).abs() < 1e-6 * ratio);
            for t in s["tables"].as_array().unwrap() {
                let (n, secs, rate) = (t["rows"].as_f64().unwrap(), t["seconds"].as_f64().unwrap(), t["rows_per_second"].as_f64().unwrap());
                assert!(secs > 0.0 && (rate * secs.max(1e-6) - n).abs() <= 1e-6 * n.max(1.0), "{t}");
            }
        }
        let hashing = &doc["hashing"];
        let keystone_alone = service(&doc, "keystone")["alone_seconds"].as_f64().unwrap();
        let rest = hashing["keystone_prehashed_seconds"].as_f64().unwrap();
        assert!((hashing["seconds"].as_f64().unwrap() - (keystone_alone - rest).max(0.0)).abs() < 1e-9);

        if server.backend == Backend::Sqlite {
            // The table an operator reads carries the same three services and the whole.
            let out = osmigrate().args(["bench", "run", "--scale", SCALE, "--server", &place]).output().unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            for line in ["keystone", "glance", "nova", "whole", "rows/s per table"] {
                assert!(text.lines().any(|l| l.trim_start().starts_with(line)), "no `{line}` line in:\n{text}");
            }
        } else {
            for svc in ["keystone", "glance", "nova"] {
                for kind in ["diablo", "essex", "copy", "prehashed"] {
                    osmigrate::db::Db::drop_database_if_exists(&db(svc, kind)).unwrap();
                }
            }
        }
    });
}

#[test]
fn bench_refuses_a_scale_out_of_range() {
    for scale in ["0", "-1", "lots", "5000"] {
        let out = osmigrate().args(["bench", "run", &format!("--scale={scale}"), "--server", "sqlite:/nonexistent"]).output().unwrap();
        assert_eq!(out.status.code(), Some(64), "scale {scale}: a usage error");
        assert!(String::from_utf8_lossy(&out.stderr).contains("is not a scale between"), "scale {scale}");
    }
}
