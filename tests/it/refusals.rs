//! Bad input: each case gets a clear message naming what is wrong, the source is never written,
//! and a failed run never leaves a target that looks complete.

use osmigrate::db::{Access, Backend, Db, DbUrl};
use serde_json::Value as Json;

use crate::support::{self, generated_keystone, migrate_keystone, rows};

fn stamped(url: &DbUrl) -> bool {
    let Ok(mut db) = Db::connect(url, Access::ReadOnly) else { return false };
    db.table_names().unwrap().iter().any(|t| t == "migrate_version")
        && db.query_scalar("SELECT COUNT(*) FROM migrate_version", &[]).unwrap().as_i64() == Some(1)
}

#[test]
fn a_database_that_is_not_legacy_keystone_is_refused() {
    let server = &support::servers()[0];
    let empty = support::fresh_db(server, "empty");
    Db::connect(&empty.url, Access::ReadWrite).unwrap().execute("CREATE TABLE images (id INTEGER)", &[]).unwrap();
    let target = support::fresh_db(server, "t");
    let (code, _, err) = migrate_keystone(&empty.url, &target.url, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not a legacy Keystone database") && err.contains("images"), "{err}");

    // An Essex database given as the source.
    let source = generated_keystone(server, "src", &[]);
    let essex = support::fresh_db(server, "essex");
    assert!(migrate_keystone(&source.url, &essex.url, &[]).0 <= 1);
    let other = support::fresh_db(server, "t2");
    let (code, _, err) = migrate_keystone(&essex.url, &other.url, &[]);
    assert_eq!(code, 2);
    assert!(err.contains("already an Essex Keystone"), "{err}");

    // A file that is not a database at all.
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, b"this is not a database, just some text that is long enough to matter").unwrap();
    let (code, _, err) = migrate_keystone(&DbUrl::sqlite(&junk), &target.url, &[]);
    assert_eq!(code, 2);
    assert!(err.contains("not a SQLite database") || err.contains("not a database"), "{err}");
}

#[test]
fn unreachable_servers_are_reported_without_the_password() {
    let target = support::fresh_db(&support::servers()[0], "t");
    for url in ["mysql://keystone:hunter2secret@127.0.0.1:1/keystone", "postgresql://keystone:hunter2secret@127.0.0.1:1/keystone"] {
        let (code, out, err) = migrate_keystone(&DbUrl::parse(url).unwrap(), &target.url, &[]);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("cannot connect") && err.contains("keystone:****@127.0.0.1:1"), "{err}");
        assert!(!err.contains("hunter2") && !out.contains("hunter2"), "{err}");
    }
    // URLs that do not parse: without a scheme, a mistyped one, an image map without `://`.
    let target_url = target.url.expose_secret();
    for args in [
        vec!["db", "migrate", "keystone", "--from", "keystone:hunter2secret@db/keystone", "--to", &target_url],
        vec!["db", "migrate", "keystone", "--from", "mysql//keystone:hunter2secret@db/keystone", "--to", &target_url],
        vec!["db", "migrate", "nova", "--from", &target_url, "--to", &target_url, "--image-map", "mysql:root:hunter2secret@db/glance"],
    ] {
        let out = support::osmigrate().args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains("****"), "{args:?}: {err}");
        assert!(!err.contains("hunter2"), "{args:?}: {err}");
    }
}

#[test]
fn the_source_as_target_and_foreign_targets_are_refused() {
    support::each_server(|server| {
        let source = generated_keystone(&server, "src", &[]);
        let (code, _, err) = migrate_keystone(&source.url, &source.url, &[]);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("is the source database"), "{err}");

        let foreign = support::fresh_db(&server, "foreign");
        Db::create_database_if_missing(&foreign.url).unwrap();
        Db::connect(&foreign.url, Access::ReadWrite).unwrap().execute("CREATE TABLE something (id INTEGER)", &[]).unwrap();
        let (code, _, err) = migrate_keystone(&source.url, &foreign.url, &[]);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("did not write") && err.contains("something"), "{err}");
    });
}

#[test]
fn values_too_long_for_essex_are_refused_before_anything_is_written() {
    support::each_server(|server| {
        let long = "x".repeat(70);
        let source = generated_keystone(&server, "long", &[&format!("UPDATE users SET name = '{long}' WHERE id = 7")]);
        let target = support::fresh_db(&server, "t");
        let (code, _, err) = migrate_keystone(&source.url, &target.url, &[]);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("users row id=7, field `name`: 70 characters"), "{}: {err}", server.name());
        assert!(!stamped(&target.url));
        if server.backend == Backend::Sqlite {
            assert!(!target.url.path.as_ref().unwrap().exists(), "nothing written at all");
        }
    });
}

#[test]
fn names_that_collide_only_on_mysql_are_refused_there() {
    // A SQLite or PostgreSQL Diablo can hold `user-0` and `USER-0`; a MySQL Essex cannot.
    let source = generated_keystone(&support::servers()[0], "case", &["UPDATE users SET name = 'USER-0' WHERE name = 'user-1'"]);
    support::each_server(|server| {
        let target = support::fresh_db(&server, "t");
        let (code, _, err) = migrate_keystone(&source.url, &target.url, &[]);
        if server.backend == Backend::Mysql {
            assert_eq!(code, 2, "{err}");
            assert!(err.contains("`user-0`") && err.contains("`USER-0`") && err.contains("without case"), "{err}");
        } else {
            assert!(code <= 1, "{}: {err}", server.name());
            assert_eq!(rows(&target.url, "SELECT COUNT(*) FROM role WHERE name = 'Member'")[0][0], "1");
        }
    });
}

#[test]
fn text_that_is_not_utf8_names_table_row_and_field() {
    let server = &support::servers()[0];
    let source = generated_keystone(server, "utf8", &["UPDATE users SET email = CAST(X'61FF62' AS TEXT) WHERE id = 3"]);
    let target = support::fresh_db(server, "t");
    let (code, _, err) = migrate_keystone(&source.url, &target.url, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("users row 3, field `email`: not valid UTF-8"), "{err}");
    assert!(!stamped(&target.url), "a failed run leaves the target unstamped");
    // Running again still fails the same way, and never half-stamps.
    let (code, _, _) = migrate_keystone(&source.url, &target.url, &[]);
    assert_eq!(code, 2);
    assert!(!stamped(&target.url));
}

#[test]
fn orphans_duplicates_and_nulls_are_reported_not_dropped() {
    support::each_server(|server| {
        let source = generated_keystone(
            &server,
            "orphans",
            &[
                // Diablo on MyISAM has no foreign keys: orphans happen.
                match server.backend {
                    Backend::Sqlite => "PRAGMA foreign_keys = OFF",
                    Backend::Mysql => "SET FOREIGN_KEY_CHECKS = 0",
                    Backend::Postgres => "SET session_replication_role = replica",
                },
                "INSERT INTO user_roles (id, user_id, role_id, tenant_id) VALUES (900, 999, 1, 1)",
                "INSERT INTO user_roles (id, user_id, role_id, tenant_id) VALUES (901, 1, 999, 1)",
                "INSERT INTO user_roles (id, user_id, role_id, tenant_id) VALUES (902, 1, 2, 999)",
                "INSERT INTO user_roles (id, user_id, role_id, tenant_id) VALUES (903, NULL, 2, 1)",
                "INSERT INTO credentials (id, user_id, tenant_id, type, \"key\", secret) VALUES (900, 1, 1, 'EC2', 'admin-access', 'dup-secret')"
                    .replace('"', if server.backend == Backend::Mysql { "`" } else { "\"" })
                    .leak(),
                "INSERT INTO tenants (id, name, \"desc\", enabled) VALUES (900, NULL, NULL, NULL)"
                    .replace('"', if server.backend == Backend::Mysql { "`" } else { "\"" })
                    .leak(),
            ],
        );
        let target = support::fresh_db(&server, "t");
        let (code, out, err) = migrate_keystone(&source.url, &target.url, &["--json"]);
        assert_eq!(code, 1, "{}: {err}", server.name());
        let report: Json = serde_json::from_str(&out).unwrap();
        let finding = |code: &str| {
            report["findings"]
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f["code"] == code)
                .cloned()
                .unwrap_or_else(|| panic!("{code} in {report}"))
        };
        assert_eq!(finding("orphan_user")["count"], 2, "{}", server.name());
        assert_eq!(finding("orphan_role")["count"], 1);
        assert_eq!(finding("orphan_tenant")["count"], 1);
        assert_eq!(finding("ec2_duplicate_access_key")["count"], 1);
        assert_eq!(finding("enabled_null")["count"], 1);
        assert_eq!(finding("name_null")["count"], 1);
        assert!(finding("orphan_role")["rows"][0].as_str().unwrap().starts_with("id=901 user `admin`"));
        // Every user_roles row is accounted for: read = carried + skipped.
        let ur = report["tables"].as_array().unwrap().iter().find(|t| t["source_table"] == "user_roles").unwrap();
        assert_eq!(ur["skipped"], 4);
        assert_eq!(rows(&target.url, "SELECT name FROM tenant WHERE id = '900'")[0][0], "900");
        // The first credential kept its key.
        assert_eq!(rows(&target.url, "SELECT user_id FROM ec2_credential WHERE access = 'admin-access'"), vec![vec!["1".to_string()]]);
    });
}

#[test]
fn a_refused_write_never_shows_a_secret_it_held() {
    // Two live tokens that differ only in case: distinct on SQLite, one key in MySQL's collation,
    // whose duplicate-key message quotes the value.
    let (kept, twin) = ("live0000000000000000000000000000", "LIVE0000000000000000000000000000");
    let source = generated_keystone(
        &support::servers()[0],
        "token_case",
        &[&format!("UPDATE token SET id = '{twin}' WHERE id = 'live0000000000000000000000000001'")],
    );
    support::each_server(|server| {
        let target = support::fresh_db(&server, "t");
        let (code, out, err) = migrate_keystone(&source.url, &target.url, &[]);
        if server.backend != Backend::Mysql {
            assert!(code <= 1, "{}: {err}", server.name());
            return;
        }
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("token") && err.contains("Duplicate entry"), "the refusal names the table and the reason: {err}");
        for shown in [&out, &err] {
            assert!(!shown.to_lowercase().contains(kept), "a token id was shown: {shown}");
        }
        assert!(!stamped(&target.url));
    });
}

#[test]
fn a_token_whose_expiry_is_no_date_is_not_carried_forever() {
    // SQLite keeps 'never' as given; as text it sorts after every date, so it looks live.
    // Nor an epoch or a date in another spelling, which SQLite compares as what they are not; a
    // date with a `T` is a date, and expired.
    let token = "live0000000000000000000000000002";
    let source = generated_keystone(
        &support::servers()[0],
        "token_never",
        &[
            &format!("UPDATE token SET expires = 'never' WHERE id = '{token}'"),
            "UPDATE token SET expires = '2012-02-13T00:00:00' WHERE id = 'live0000000000000000000000000003'",
            "UPDATE token SET expires = 1429177600 WHERE id = 'live0000000000000000000000000000'",
            "UPDATE token SET expires = '02/20/2012' WHERE id = 'live0000000000000000000000000001'",
        ],
    );
    let target = support::fresh_db(&support::servers()[0], "t");
    let (code, out, err) = migrate_keystone(&source.url, &target.url, &["--json"]);
    assert!(code <= 1, "{err}");
    let report: Json = serde_json::from_str(&out).unwrap();
    let skipped = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "token_no_expiry" && f["message"].as_str().unwrap().contains("no date and time"))
        .unwrap_or_else(|| panic!("{report}"));
    assert_eq!(skipped["rows"], serde_json::json!(["token ****0000", "token ****0001", "token ****0002"]));
    assert!(!out.contains(token) && !err.contains(token), "the token is shown whole");
    assert_eq!(rows(&target.url, "SELECT COUNT(*) FROM token WHERE id LIKE 'live%0002' OR id LIKE 'live%0003'")[0][0], "0");
    let expired = report["findings"].as_array().unwrap().iter().find(|f| f["code"] == "token_expired").unwrap();
    let table = report["tables"].as_array().unwrap().iter().find(|t| t["source_table"] == "token").unwrap();
    let carried = rows(&target.url, "SELECT COUNT(*) FROM token")[0][0].parse::<u64>().unwrap();
    assert_eq!(table["read"].as_u64().unwrap(), carried + table["skipped"].as_u64().unwrap(), "{table}");
    assert!(expired["count"].as_u64().unwrap() >= 1, "{expired}");
}

#[test]
fn a_null_name_that_would_be_another_users_name_is_refused_before_anything_is_written() {
    // A user without a name is named after its id in Essex: here, the name of another user.
    let source = generated_keystone(
        &support::servers()[0],
        "null_name",
        &[
            "INSERT INTO users (id, name, password, enabled) VALUES (9104, NULL, 'pw', 1)",
            "INSERT INTO users (id, name, password, enabled) VALUES (9109, '9104', 'pw', 1)",
        ],
    );
    let target = support::fresh_db(&support::servers()[0], "t");
    let (code, _, err) = migrate_keystone(&source.url, &target.url, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("users row id=9104 name NULL (named after its id) and users row id=9109 name `9104`"), "{err}");
    let tables = Db::connect(&target.url, Access::ReadOnly).and_then(|mut db| db.table_names()).unwrap_or_default();
    assert!(tables.is_empty(), "nothing written: {tables:?}");
}

#[test]
fn enabled_as_text_is_carried_as_diablo_read_it() {
    // Diablo's `if not tenant.enabled` on SQLite's text: any text but '' is true, `no` included.
    let source = generated_keystone(
        &support::servers()[0],
        "enabled_text",
        &[
            "UPDATE tenants SET enabled = 'no' WHERE id = (SELECT MIN(id) FROM tenants)",
            "UPDATE users SET enabled = '' WHERE id = (SELECT MAX(id) FROM users)",
        ],
    );
    let tenant = rows(&source.url, "SELECT id, name FROM tenants WHERE id = (SELECT MIN(id) FROM tenants)")[0].clone();
    let user = rows(&source.url, "SELECT id, name FROM users WHERE id = (SELECT MAX(id) FROM users)")[0].clone();
    let target = support::fresh_db(&support::servers()[0], "t");
    let (code, out, err) = migrate_keystone(&source.url, &target.url, &["--json"]);
    assert!(code <= 1, "{err}");
    let report: Json = serde_json::from_str(&out).unwrap();
    let noted: Vec<&Json> = report["findings"].as_array().unwrap().iter().filter(|f| f["code"] == "enabled_text").collect();
    let shown: Vec<Json> = noted.iter().map(|f| f["rows"][0].clone()).collect();
    assert_eq!(
        shown,
        [
            serde_json::json!(format!("id={} `{}` enabled=`no`", tenant[0], tenant[1])),
            serde_json::json!(format!("id={} `{}` enabled=``", user[0], user[1]))
        ],
        "{report}"
    );
    let enabled = |table: &str, name: &str| -> Json {
        let extra = rows(&target.url, &format!("SELECT extra FROM {table} WHERE name = '{name}'"))[0][0].clone();
        serde_json::from_str::<Json>(&extra).unwrap()["enabled"].clone()
    };
    assert_eq!(enabled("tenant", &tenant[1]), Json::Bool(true), "`no` was enabled in Diablo");
    assert_eq!(enabled("\"user\"", &user[1]), Json::Bool(false), "'' was disabled in Diablo");
}
