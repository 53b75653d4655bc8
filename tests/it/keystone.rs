//! The upstream legacy Keystone fixtures, migrated by the real binary on every backend, checked
//! row by row against what the upstream importer produces plus what it misses.

use std::os::unix::fs::PermissionsExt;

use osmigrate::db::{Access, Backend, Db, DbUrl};
use osmigrate::essex_keystone::password;
use serde_json::{Value as Json, json};

use crate::support::{self, Server, keystone_fixture, rows, run_json};

/// A service token of the cloud's own making, unlike the samples the shipped files carry.
const SERVICE_TOKEN: &str = "4c1d9b3f0a825e7a";

struct Expect {
    fixture: &'static str,
    tenants: &'static [(&'static str, &'static str)],
    users: &'static [(&'static str, &'static str)],
    roles: &'static [(&'static str, &'static str)],
    /// (user id, tenant id or "SYS" for the global-roles tenant, role ids)
    metadata: &'static [(&'static str, &'static str, &'static [&'static str])],
    /// (access, secret, user id, tenant id)
    ec2: &'static [(&'static str, &'static str, &'static str, &'static str)],
    /// (token id, user id, tenant id, roles)
    token: (&'static str, &'static str, &'static str, &'static [&'static str]),
    services: usize,
}

const DIABLO_TENANTS: &[(&str, &str)] = &[("1", "admin"), ("2", "demo"), ("3", "invisible_to_admin")];
const DIABLO_USERS: &[(&str, &str)] = &[("1", "admin"), ("2", "demo")];
const ADMIN_EC2: &[(&str, &str, &str, &str)] = &[("admin", "secrete", "1", "1"), ("demo", "secrete", "2", "2")];

const D5: Expect = Expect {
    fixture: "d5",
    tenants: DIABLO_TENANTS,
    users: DIABLO_USERS,
    roles: &[("1", "Admin"), ("2", "Member"), ("3", "KeystoneAdmin"), ("4", "KeystoneServiceAdmin")],
    metadata: &[("1", "1", &["1"]), ("1", "2", &["1"]), ("1", "SYS", &["1", "3", "4"]), ("2", "2", &["2"]), ("2", "3", &["2"])],
    ec2: ADMIN_EC2,
    token: ("secrete", "1", "1", &["1"]),
    services: 3,
};

const DIABLO: Expect = Expect {
    fixture: "diablo",
    tenants: DIABLO_TENANTS,
    users: DIABLO_USERS,
    roles: &[("1", "Admin"), ("2", "Member"), ("3", "KeystoneAdmin"), ("4", "KeystoneServiceAdmin"), ("5", "sysadmin"), ("6", "netadmin")],
    metadata: &[("1", "1", &["1"]), ("1", "2", &["1"]), ("1", "SYS", &["1", "3", "4"]), ("2", "2", &["2", "5", "6"]), ("2", "3", &["2"])],
    ec2: ADMIN_EC2,
    token: ("secrete", "1", "1", &["1"]),
    services: 4,
};

const T_ADMIN: &str = "182c1fbf7eef44eda162ff3fd30c0a76";
const T_DEMO: &str = "b1a7ea3a884f4d0685a98cd6e682a5da";
const T_INVISIBLE: &str = "f4d1eed9bb5d4d35a5f37af934f87574";
const U_ADMIN: &str = "c93b19ea3fa94484824213db8ac0afce";
const U_DEMO: &str = "04c6697e88ff4667820903fcce05d904";

const ESSEX3: Expect = Expect {
    fixture: "essex",
    tenants: &[(T_ADMIN, "admin"), (T_DEMO, "demo"), (T_INVISIBLE, "invisible_to_admin")],
    users: &[(U_ADMIN, "admin"), (U_DEMO, "demo")],
    roles: &[("1", "admin"), ("2", "Member"), ("3", "KeystoneAdmin"), ("4", "KeystoneServiceAdmin"), ("5", "sysadmin"), ("6", "netadmin")],
    metadata: &[
        (U_ADMIN, T_ADMIN, &["1"]),
        (U_ADMIN, T_DEMO, &["1"]),
        (U_ADMIN, "SYS", &["1", "3", "4"]),
        (U_DEMO, T_DEMO, &["2", "5", "6"]),
        (U_DEMO, T_INVISIBLE, &["2"]),
    ],
    ec2: &[],
    token: ("123123123123123123123", U_ADMIN, T_ADMIN, &["1"]),
    services: 5,
};

fn json_of(s: &str) -> Json {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

fn sorted(mut v: Vec<Vec<String>>) -> Vec<Vec<String>> {
    v.sort();
    v
}

fn check(server: &Server, e: &Expect) {
    let ctx = format!("{} fixture on {}", e.fixture, server.name());
    let source = keystone_fixture(server, e.fixture);
    let target = support::fresh_db(server, &format!("ks_{}_essex", e.fixture));
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("default_catalog.templates");
    // Beside the fixture's token: one long expired and one without an expiry, neither carried.
    let token_table = if e.fixture == "essex" { "tokens" } else { "token" };
    Db::connect(&source.url, Access::ReadWrite)
        .unwrap()
        .execute(
            &format!(
                "INSERT INTO {token_table} (id, user_id, tenant_id, expires) \
                 VALUES ('expired-token', 1, 1, '2011-01-01 00:00:00'), ('endless-token', 1, 1, NULL)"
            ),
            &[],
        )
        .unwrap();
    let before = rows(&source.url, "SELECT COUNT(*) FROM users");

    let (code, report, stderr) = run_json(&[
        "db",
        "migrate",
        "keystone",
        "--from",
        &source.url.expose_secret(),
        "--to",
        &target.url.expose_secret(),
        "--catalog-out",
        catalog.to_str().unwrap(),
    ]);
    assert!(code == 0 || code == 1, "{ctx}: exit {code}: {stderr}");
    assert_eq!(
        code == 1,
        report["findings"].as_array().unwrap().iter().any(|f| f["severity"] == "warning"),
        "{ctx}: exit status matches warnings"
    );
    let t = &target.url;
    let finding_count = |code: &str| report["findings"].as_array().unwrap().iter().find(|f| f["code"] == code).map(|f| f["count"].clone());

    // Tenants: ids by the legacy id rule, enabled as a JSON boolean, plus the global-roles tenant.
    let tenants = rows(t, "SELECT id, name, extra FROM tenant ORDER BY name");
    let sys = tenants.iter().find(|r| r[1] == "systenant").unwrap_or_else(|| panic!("{ctx}: systenant created")).clone();
    let mut expected: Vec<(String, String)> = e.tenants.iter().map(|(i, n)| (i.to_string(), n.to_string())).collect();
    expected.push((sys[0].clone(), "systenant".into()));
    expected.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(tenants.iter().map(|r| (r[0].clone(), r[1].clone())).collect::<Vec<_>>(), expected, "{ctx}: tenants");
    for r in &tenants {
        assert_eq!(json_of(&r[2])["enabled"], json!(true), "{ctx}: tenant {} enabled is a JSON boolean", r[1]);
    }

    // Users: same ids, passwords in sha512_crypt form, admin logs in with `secrete`.
    let users = rows(t, "SELECT id, name, extra FROM \"user\" ORDER BY name".replace('"', quote_char(t)).as_str());
    assert_eq!(users.iter().map(|r| (r[0].as_str(), r[1].as_str())).collect::<Vec<_>>(), e.users.to_vec(), "{ctx}: users");
    let admin_extra = json_of(&users[0][2]);
    let hash = admin_extra["password"].as_str().unwrap();
    assert!(password::verify("secrete", hash), "{ctx}: admin's password verifies against {hash}");
    assert_eq!(admin_extra["enabled"], json!(true));

    // Roles: ids kept as strings, names with their case.
    let roles = rows(t, "SELECT id, name FROM role ORDER BY id");
    assert_eq!(roles.iter().map(|r| (r[0].as_str(), r[1].as_str())).collect::<Vec<_>>(), e.roles.to_vec(), "{ctx}: roles");

    // Metadata: role ids as JSON strings; global roles on systenant; memberships to match.
    let sys_id = |x: &str| if x == "SYS" { sys[0].clone() } else { x.to_string() };
    let metadata = sorted(rows(t, "SELECT user_id, tenant_id, data FROM metadata"));
    let mut want: Vec<Vec<String>> =
        e.metadata.iter().map(|(u, tn, roles)| vec![u.to_string(), sys_id(tn), json!({ "roles": roles }).to_string()]).collect();
    want.sort();
    let got: Vec<Vec<String>> = metadata.iter().map(|r| vec![r[0].clone(), r[1].clone(), json_of(&r[2]).to_string()]).collect();
    assert_eq!(got, want, "{ctx}: metadata");
    let memberships = sorted(rows(t, "SELECT user_id, tenant_id FROM user_tenant_membership"));
    let want_members: Vec<Vec<String>> = want.iter().map(|m| vec![m[0].clone(), m[1].clone()]).collect();
    assert_eq!(memberships, want_members, "{ctx}: memberships");

    // EC2 credentials with mapped ids.
    let ec2 = sorted(rows(t, "SELECT access, secret, user_id, tenant_id FROM ec2_credential"));
    let want_ec2: Vec<Vec<String>> =
        e.ec2.iter().map(|(a, s, u, tn)| vec![a.to_string(), s.to_string(), u.to_string(), tn.to_string()]).collect();
    assert_eq!(ec2, want_ec2, "{ctx}: ec2");

    // The unexpired token, with the snapshot Essex keeps; a published sample value (the Diablo
    // fixtures' `secrete`) is not carried, since anyone could present it.
    let tokens = rows(t, "SELECT id, extra FROM token");
    if osmigrate::secret::is_sample_token(e.token.0) {
        assert!(tokens.is_empty(), "{ctx}: a sample token is not carried: {tokens:?}");
        assert_eq!(finding_count("token_sample_value"), Some(json!(1)), "{ctx}: the sample token is reported");
        return;
    }
    assert_eq!(tokens.len(), 1, "{ctx}: tokens");
    assert_eq!(tokens[0][0], e.token.0);
    let extra = json_of(&tokens[0][1]);
    assert_eq!(extra["user"]["id"], json!(e.token.1), "{ctx}: token user");
    assert_eq!(extra["tenant"]["id"], json!(e.token.2), "{ctx}: token tenant");
    assert_eq!(extra["metadata"]["roles"], json!(e.token.3), "{ctx}: token roles");
    assert!(extra["user"].get("password").is_none(), "{ctx}: no password in the token snapshot");

    // SQL catalog: every service and template, with the lower-case URL keys Essex reads.
    assert_eq!(rows(t, "SELECT COUNT(*) FROM service")[0][0], e.services.to_string(), "{ctx}: services");
    let endpoints = rows(t, "SELECT id, region, service_id, extra FROM endpoint ORDER BY id");
    assert_eq!(endpoints.len(), e.services, "{ctx}: endpoints");
    for ep in &endpoints {
        let x = json_of(&ep[3]);
        for k in ["publicurl", "internalurl", "adminurl"] {
            let url = x[k].as_str().unwrap_or_else(|| panic!("{ctx}: endpoint {} has {k}", ep[0]));
            assert!(!url.contains("%tenant_id%"), "{ctx}: {url} translated");
        }
    }
    let compute = endpoints.iter().find(|ep| json_of(&ep[3])["publicurl"].as_str().unwrap().contains(":8774/")).unwrap();
    assert!(json_of(&compute[3])["publicurl"].as_str().unwrap().ends_with("/v1.1/$(tenant_id)s"), "{ctx}: compute URL");

    // The templates file: the Essex parser's view of it.
    let text = std::fs::read_to_string(&catalog).unwrap();
    let keys: Vec<&str> = text.lines().filter(|l| l.contains(" = ")).map(|l| l.split(" = ").next().unwrap()).collect();
    assert_eq!(keys.len(), e.services * 5, "{ctx}: five keys per service in the templates file:\n{text}");
    assert!(keys.contains(&"catalog.RegionOne.compute.publicURL"), "{ctx}: {text}");
    assert!(text.contains("catalog.RegionOne.compute.publicURL = http://") && text.contains("$(tenant_id)s"), "{ctx}: {text}");

    // Stamped, and the report accounts for every source row.
    assert_eq!(rows(t, "SELECT repository_id, version FROM migrate_version"), vec![vec!["keystone".to_string(), "1".to_string()]]);
    let user_roles = report["tables"].as_array().unwrap().iter().find(|x| x["source_table"] == "user_roles").unwrap();
    assert_eq!(user_roles["read"], json!(e.metadata.iter().map(|m| m.2.len()).sum::<usize>()), "{ctx}: user_roles read");
    assert_eq!(finding_count("token_expired"), Some(json!(1)), "{ctx}: the expired token reported");
    assert_eq!(finding_count("token_no_expiry"), Some(json!(1)), "{ctx}: the token without an expiry reported");
    let token = report["tables"].as_array().unwrap().iter().find(|x| x["source_table"] == token_table).unwrap();
    assert_eq!(token["read"], json!(3), "{ctx}: every source token read");
    assert_eq!(
        token["written"].as_object().unwrap().values().map(|n| n.as_u64().unwrap()).sum::<u64>() + token["skipped"].as_u64().unwrap(),
        3,
        "{ctx}: every token carried or skipped: {token}"
    );
    assert_eq!(finding_count("global_role_moved"), Some(json!(3)), "{ctx}: three global roles reported");

    // The source is untouched, and a second run is a no-op.
    assert_eq!(rows(&source.url, "SELECT COUNT(*) FROM users"), before);
    let (code2, again, _) =
        run_json(&["db", "migrate", "keystone", "--from", &source.url.expose_secret(), "--to", &target.url.expose_secret()]);
    assert_eq!(again["outcome"], json!("already_complete"), "{ctx}: second run");
    assert_eq!(code2, code, "{ctx}: second run, same status");
    assert_eq!(rows(t, "SELECT COUNT(*) FROM metadata")[0][0], e.metadata.len().to_string());
}

fn quote_char(url: &DbUrl) -> &'static str {
    if url.backend == osmigrate::db::Backend::Mysql { "`" } else { "\"" }
}

#[test]
fn d5_fixture_on_every_backend() {
    support::each_server(|s| {
        check(&s, &D5);
    });
}

#[test]
fn diablo_fixture_on_every_backend() {
    support::each_server(|s| {
        check(&s, &DIABLO);
    });
}

#[test]
fn essex3_fixture_on_every_backend() {
    support::each_server(|s| {
        check(&s, &ESSEX3);
    });
}

#[test]
fn essex3_hashes_are_kept_verbatim() {
    let server = &support::servers()[0];
    let source = keystone_fixture(server, "essex");
    let target = support::fresh_db(server, "ks_hash");
    let (code, _, stderr) =
        run_json(&["db", "migrate", "keystone", "--from", &source.url.expose_secret(), "--to", &target.url.expose_secret()]);
    assert!(code <= 1, "{stderr}");
    let old = rows(&source.url, "SELECT password FROM users WHERE name = 'admin'")[0][0].clone();
    let mut db = Db::connect(&target.url, Access::ReadOnly).unwrap();
    let extra = db.query_scalar("SELECT extra FROM user WHERE name = 'admin'", &[]).unwrap();
    assert_eq!(json_of(extra.as_str().unwrap())["password"], json!(old));
}

#[test]
fn an_interrupted_run_resumes_and_a_changed_source_is_refused() {
    support::each_server(|server| {
        let source = support::generated_keystone(&server, "resume", &[]);
        let target = support::fresh_db(&server, "t");
        let (code, out, err) = support::migrate_keystone(&source.url, &target.url, &["--json"]);
        assert!(code <= 1, "{err}");
        let first: Json = serde_json::from_str(&out).unwrap();
        // Cut the run short after the grants: later steps unjournaled, half their rows written, no stamp.
        let mut db = Db::connect(&target.url, Access::ReadWrite).unwrap();
        db.execute("DELETE FROM osmigrate_journal WHERE step IN ('tokens', 'catalog', 'finished')", &[]).unwrap();
        db.execute("DELETE FROM migrate_version", &[]).unwrap();
        db.execute("DELETE FROM endpoint", &[]).unwrap();
        db.execute("DELETE FROM token WHERE id LIKE 'live%'", &[]).unwrap();
        drop(db);
        let (code, out, err) = support::migrate_keystone(&source.url, &target.url, &["--json"]);
        assert!(code <= 1, "{}: {err}", server.name());
        let resumed: Json = serde_json::from_str(&out).unwrap();
        assert_eq!(resumed["outcome"], "resumed");
        let counts = |report: &Json| -> Vec<Json> {
            report["tables"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| serde_json::json!([t["source_table"], t["read"], t["written"], t["skipped"]]))
                .collect()
        };
        assert_eq!(counts(&resumed), counts(&first), "{}: the same rows, counted once", server.name());
        assert_eq!(
            rows(&target.url, "SELECT COUNT(*) FROM token")[0][0],
            "4",
            "the live tokens; the sample service token is never carried"
        );
        assert_eq!(rows(&target.url, "SELECT version FROM migrate_version")[0][0], "1");

        // A SQLite source written in a way that keeps every count and largest id (a password
        // changed) is seen by the file's change counter; a server's is not (README).
        if server.backend == Backend::Sqlite {
            let mut src = Db::connect(&source.url, Access::ReadWrite).unwrap();
            src.execute("UPDATE users SET password = 'rotated' WHERE id = (SELECT MIN(id) FROM users)", &[]).unwrap();
            drop(src);
            let (code, _, err) = support::migrate_keystone(&source.url, &target.url, &[]);
            assert_eq!(code, 2, "{err}");
            assert!(err.contains("source has changed since (a write that kept every table's row count"), "{err}");
        }
        // Now the source changes: the finished target is no longer a no-op.
        let mut src = Db::connect(&source.url, Access::ReadWrite).unwrap();
        src.execute("INSERT INTO tenants (id, name, enabled) VALUES (500, 'late', 1)", &[]).unwrap();
        drop(src);
        let (code, _, err) = support::migrate_keystone(&source.url, &target.url, &[]);
        assert_eq!(code, 2);
        assert!(err.contains("source has changed since (table tenants)"), "{err}");
    });
}

#[test]
fn secrets_never_appear_and_service_tokens_are_named() {
    support::each_server(|server| {
        // A service token of the cloud's own (the generator's is the public sample, never carried).
        let own_token = format!("UPDATE token SET id = '{SERVICE_TOKEN}' WHERE id = '999888777666'");
        let source = support::generated_keystone(&server, "secrets", &[own_token.as_str()]);
        let target = support::fresh_db(&server, "t");
        let dir = tempfile::tempdir().unwrap();
        let paste = dir.path().join("api-paste.ini");
        std::fs::write(&paste, format!("[filter:authtoken]\nadmin_token = {SERVICE_TOKEN}\n")).unwrap();
        let saved = dir.path().join("report.json");
        for json in [false, true] {
            let mut args = vec!["--paste", paste.to_str().unwrap(), "--report", saved.to_str().unwrap()];
            if json {
                // The debug log too: an event per step's table and per batch, with no secret.
                args.extend(["--json", "-vv"]);
            }
            if saved.exists() {
                // A report file left world-readable is replaced, not rewritten in place.
                std::fs::set_permissions(&saved, std::fs::Permissions::from_mode(0o644)).unwrap();
            }
            let fresh = support::fresh_db(&server, "t");
            let (code, out, err) = support::migrate_keystone(&source.url, &fresh.url, &args);
            assert!(code <= 1, "{err}");
            let saved_text = std::fs::read_to_string(&saved).unwrap();
            for text in [&out, &err, &saved_text] {
                for secret in [SERVICE_TOKEN, "-ec2-secret", "osmigrate-pw", "password-1", "secrete"] {
                    assert!(!text.contains(secret), "{}: `{secret}` leaked:\n{text}", server.name());
                }
            }
            assert!(out.contains("****5e7a"), "the service token is named by its last four characters:\n{out}");
            if json {
                let log: String = err.lines().map(without_ansi_styles).collect::<Vec<_>>().join("\n");
                assert!(log.contains(r#"batch written step="tokens" table="token" batch=1 rows="#), "{log}");
                assert!(log.contains(r#"table token done step="tokens" table=token read="#), "{log}");
            }
            assert_eq!(std::fs::metadata(&saved).unwrap().permissions().mode() & 0o777, 0o600, "the report is its owner's only");
        }
        drop(target);
        // The service token itself is carried, and still names its user and tenant.
        let fresh = support::fresh_db(&server, "t");
        assert!(support::migrate_keystone(&source.url, &fresh.url, &[]).0 <= 1);
        let extra = rows(&fresh.url, &format!("SELECT extra FROM token WHERE id = '{SERVICE_TOKEN}'"));
        let extra = json_of(&extra[0][0]);
        assert_eq!(extra["user"]["name"], "admin");
        assert_eq!(extra["tenant"]["name"], "admin");
    });
}

#[test]
fn global_roles_go_to_an_existing_tenant_and_mysql_merges_role_names_without_case() {
    let source = support::generated_keystone(
        &support::servers()[0],
        "ops",
        &[
            "INSERT INTO tenants (id, name, enabled) VALUES (77, 'ops', 1)",
            "INSERT INTO roles (id, name) VALUES (8, 'member')",
            "INSERT INTO user_roles (id, user_id, role_id, tenant_id) VALUES (800, 2, 8, 2)",
        ],
    );
    support::each_server(|server| {
        let target = support::fresh_db(&server, "t");
        let (code, out, err) = support::migrate_keystone(&source.url, &target.url, &["--global-roles-tenant", "ops", "--json"]);
        assert!(code <= 1, "{err}");
        let report: Json = serde_json::from_str(&out).unwrap();
        assert!(report["findings"].as_array().unwrap().iter().all(|f| f["code"] != "global_roles_tenant_created"));
        assert_eq!(
            rows(&target.url, "SELECT data FROM metadata WHERE user_id = '1' AND tenant_id = '77'"),
            vec![vec![json!({"roles": ["1", "3", "4"]}).to_string()]]
        );
        let demo_roles = json_of(&rows(&target.url, "SELECT data FROM metadata WHERE user_id = '2' AND tenant_id = '2'")[0][0]);
        let member_roles = rows(&target.url, "SELECT id FROM role WHERE name IN ('Member', 'member') ORDER BY id");
        if server.backend == osmigrate::db::Backend::Mysql {
            // `member` is `Member` on MySQL: one role, its grant moved to id 2.
            assert_eq!(member_roles, vec![vec!["2".to_string()]]);
            assert_eq!(demo_roles, json!({"roles": ["2", "5"]}));
        } else {
            assert_eq!(member_roles, vec![vec!["2".to_string()], vec!["8".to_string()]]);
            assert_eq!(demo_roles, json!({"roles": ["2", "5", "8"]}));
        }
    });
}

#[test]
fn the_human_report_and_the_catalog_file_read_well() {
    let server = &support::servers()[0];
    let source = keystone_fixture(server, "diablo");
    let target = support::fresh_db(server, "t");
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("default_catalog.templates");
    let (code, out, err) = support::migrate_keystone(&source.url, &target.url, &["--catalog-out", catalog.to_str().unwrap()]);
    assert_eq!(code, 1, "the fixture's sample token, not carried, is a warning: {err}");
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"sqlite:///\S+", "sqlite:///[path]");
    settings.add_filter(r"id=[0-9a-f]{32}", "id=[uuid]");
    settings.add_filter(r"/\S+/default_catalog.templates", "[dir]/default_catalog.templates");
    settings.add_filter(r"(?m) +\d+\.\d\d$", " [seconds]");
    settings.bind(|| {
        insta::assert_snapshot!("diablo_fixture_report", out);
        insta::assert_snapshot!("diablo_fixture_catalog", std::fs::read_to_string(&catalog).unwrap());
    });
}

#[test]
fn database_urls_can_come_from_the_environment() {
    let server = &support::servers()[0];
    let source = support::generated_keystone(server, "envurl", &[]);
    let target = support::fresh_db(server, "t");
    let out = support::osmigrate()
        .args(["db", "migrate", "keystone", "--json"])
        .env("OSMIGRATE_FROM", source.url.expose_secret())
        .env("OSMIGRATE_TO", target.url.expose_secret())
        .output()
        .unwrap();
    assert!(out.status.code().unwrap_or(-1) <= 1, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(rows(&target.url, "SELECT COUNT(*) FROM user"), rows(&source.url, "SELECT COUNT(*) FROM users"));
}

/// A log line without its terminal colours (`ESC [ … m`).
fn without_ansi_styles(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(i) = rest.find('\u{1b}') {
        out.push_str(&rest[..i]);
        rest = rest[i..].find('m').map_or("", |end| &rest[i + end + 1..]);
    }
    out.push_str(rest);
    out
}
