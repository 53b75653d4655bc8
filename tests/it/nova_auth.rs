//! `db migrate nova-auth`: Nova's own users, projects, roles and EC2 keys into an empty Essex
//! Keystone and into one the legacy Keystone import filled, by the real binary on every backend,
//! row by row; collisions refused with nothing written, an interrupted run leaving nothing behind,
//! re-runs no-ops.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;

use osmigrate::db::{Access, Backend, Db, DbUrl};
use osmigrate::essex_keystone::password;
use osmigrate::keystone_client::Client;
use osmigrate::keystone_client::db::DbTransport;
use serde_json::{Value as Json, json};

use crate::support::{self, FreshDb, Server, osmigrate, rows};

/// Runs `db migrate nova-auth --json`; returns (exit code, report or Null, stdout, stderr).
fn nova_auth(from: &DbUrl, to: &DbUrl, extra: &[&str], env: &[(&str, &str)]) -> (i32, Json, String, String) {
    let mut cmd = osmigrate();
    cmd.args(["db", "migrate", "nova-auth", "--from", &from.expose_secret(), "--to", &to.expose_secret(), "--json", "--batch-size", "3"]);
    cmd.args(extra);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let json = serde_json::from_str(&stdout).unwrap_or(Json::Null);
    (out.status.code().unwrap_or(-1), json, stdout, String::from_utf8_lossy(&out.stderr).into_owned())
}

fn exec(url: &DbUrl, statements: &[String]) {
    let mut db = Db::connect(url, Access::ReadWrite).unwrap();
    for s in statements {
        db.execute(s, &[]).unwrap_or_else(|e| panic!("{s}: {e}"));
    }
}

/// Insert statements for the Nova auth tables (booleans as SQL `true`/`false`).
fn user(id: &str, key: Option<&str>, secret: &str, admin: bool, deleted: bool) -> String {
    let key = key.map_or("NULL".to_string(), |k| format!("'{k}'"));
    format!(
        "INSERT INTO users (id, name, access_key, secret_key, is_admin, deleted) VALUES ('{id}', NULL, {key}, '{secret}', {admin}, {deleted})"
    )
}
fn project(id: &str, manager: &str) -> String {
    format!(
        "INSERT INTO projects (id, name, description, project_manager, deleted) VALUES ('{id}', '{id}', 'Project {id}', '{manager}', false)"
    )
}
fn member(user: &str, project: &str) -> String {
    format!("INSERT INTO user_project_association (user_id, project_id, deleted) VALUES ('{user}', '{project}', false)")
}
fn project_role(user: &str, project: &str, role: &str) -> String {
    format!(
        "INSERT INTO user_project_role_association (user_id, project_id, role, deleted) VALUES ('{user}', '{project}', '{role}', false)"
    )
}
fn global_role(user: &str, role: &str) -> String {
    format!("INSERT INTO user_role_association (user_id, role, deleted) VALUES ('{user}', '{role}', false)")
}

/// A Diablo Nova from the generator (admin, demo, user-0 in projects admin, demo, project-0), with
/// `extra` statements applied.
fn generated_nova(server: &Server, label: &str, extra: &[String]) -> FreshDb {
    let fresh = support::fresh_db(server, label);
    Db::create_database_if_missing(&fresh.url).unwrap();
    let now = osmigrate::db::value::parse_datetime("2012-02-14 00:00:00").unwrap();
    let shape = osmigrate::generate::nova::Shape {
        instances: 3,
        networks: 2,
        fixed_ips_per_network: 8,
        floating_ips: 2,
        volumes: 1,
        glance_images: 10,
        now,
        batch_size: 100,
        ..osmigrate::generate::nova::Shape::demo()
    };
    osmigrate::generate::nova::generate(&mut Db::connect(&fresh.url, Access::ReadWrite).unwrap(), &shape).unwrap();
    exec(&fresh.url, extra);
    fresh
}

/// An empty Diablo Nova (schema at 46, stamped) holding only `rows`.
fn bare_nova(server: &Server, label: &str, rows: &[String]) -> FreshDb {
    let fresh = support::fresh_db(server, label);
    Db::create_database_if_missing(&fresh.url).unwrap();
    let mut db = Db::connect(&fresh.url, Access::ReadWrite).unwrap();
    let schema = osmigrate::schema::diablo::nova(server.backend).unwrap();
    db.create_schema(&schema).unwrap();
    osmigrate::migrate::stamp_version(&mut db, &schema, schema.stamp.as_ref().unwrap()).unwrap();
    drop(db);
    exec(&fresh.url, rows);
    fresh
}

/// The generator's users plus: alice in four projects (one named like her, one whose id is too
/// long for an access string), mallory sharing alice's key by mistake, a user without projects,
/// an itsec officer, a deleted user, a user without a key.
fn rich_cloud(server: &Server) -> FreshDb {
    let long = "long-project-name-that-makes-access-strings-too-long";
    let extra = vec![
        user("alice", Some("alice-access-key-0001"), "alice-secret-0001", false, false),
        user("mallory", Some("alice-access-key-0001"), "mallory-secret", false, false),
        user("loner", Some("loner-access-key-0001"), "loner-secret", false, false),
        user("itsec-officer", Some("itsec-access-key-0001"), "itsec-secret", false, false),
        user("gone", Some("gone-access-key-0001"), "gone-secret", false, true),
        user("nokey", None, "", false, false),
        project("alice", "alice"),
        project(long, "alice"),
        member("alice", "alice"),
        member("alice", "demo"),
        member("alice", "project-0"),
        member("alice", long),
        member("mallory", "demo"),
        member("itsec-officer", "project-0"),
        member("gone", "demo"),
        member("nokey", "demo"),
        project_role("alice", "demo", "developer"),
        project_role("gone", "demo", "developer"),
        global_role("itsec-officer", "itsec"),
        global_role("gone", "cloudadmin"),
    ];
    generated_nova(server, "na_rich", &extra)
}

fn json_of(s: &str) -> Json {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

fn finding<'a>(report: &'a Json, code: &str) -> &'a Json {
    report["findings"].as_array().unwrap().iter().find(|f| f["code"] == code).unwrap_or_else(|| panic!("no finding {code}: {report:#}"))
}

fn role_ids(url: &DbUrl) -> BTreeMap<String, String> {
    rows(url, "SELECT name, id FROM role").into_iter().map(|r| (r[0].clone(), r[1].clone())).collect()
}

/// (user, tenant) → role names, from the metadata rows.
fn grants(url: &DbUrl) -> BTreeMap<(String, String), Vec<String>> {
    let names: BTreeMap<String, String> = role_ids(url).into_iter().map(|(n, i)| (i, n)).collect();
    rows(url, "SELECT user_id, tenant_id, data FROM metadata")
        .into_iter()
        .map(|r| {
            let roles = json_of(&r[2])["roles"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| names[v.as_str().expect("role ids are strings")].clone())
                .collect();
            ((r[0].clone(), r[1].clone()), roles)
        })
        .collect()
}

fn private_file(dir: &std::path::Path, name: &str, text: &str, mode: u32) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

#[test]
fn a_nova_auth_cloud_into_an_empty_keystone_on_every_backend() {
    support::each_server(|server| {
        let ctx = server.name();
        let source = rich_cloud(&server);
        let target = support::fresh_db(&server, "na_essex");
        let keys: BTreeMap<String, (String, String)> =
            rows(&source.url, "SELECT id, access_key, secret_key FROM users WHERE access_key IS NOT NULL")
                .into_iter()
                .map(|r| (r[0].clone(), (r[1].clone(), r[2].clone())))
                .collect();
        let dir = tempfile::tempdir().unwrap();
        let loner_hash = password::hash("loner-pw");
        let pw = private_file(dir.path(), "pw", &format!("# users that get a password\nalice:alice pw 1\nloner:{loner_hash}\n"), 0o600);
        let (code, report, stdout, stderr) = nova_auth(&source.url, &target.url, &["--password-file", pw.to_str().unwrap()], &[]);
        assert_eq!(code, 1, "{ctx}: {stderr}");
        assert_eq!(report["outcome"], "migrated");
        assert_eq!(report["service"], "nova-auth");
        assert_eq!(report["source_release"], "Diablo Nova auth (migrate version 46)");
        let t = &target.url;

        // Tenants: the projects with their ids, and the global-roles tenant.
        let tenants = rows(t, "SELECT id, name, extra FROM tenant ORDER BY name");
        let names: Vec<&str> = tenants.iter().map(|r| r[1].as_str()).collect();
        let long = "long-project-name-that-makes-access-strings-too-long";
        assert_eq!(names, ["admin", "alice", "demo", long, "project-0", "systenant"], "{ctx}");
        for r in &tenants[..5] {
            assert_eq!(r[0], r[1], "{ctx}: tenant ids are the project ids");
            assert_eq!(json_of(&r[2])["enabled"], json!(true));
        }
        assert_eq!(json_of(&tenants[2][2])["description"], "Demonstration project");
        let sys = tenants[5][0].clone();
        assert_eq!(sys.len(), 32, "{ctx}: a new uuid hex");

        // Users: the live ones, named by their ids; passwords only from the file.
        let users = rows(t, &format!("SELECT id, name, extra FROM {} ORDER BY id", quote(t, "user")));
        let ids: Vec<&str> = users.iter().map(|r| r[0].as_str()).collect();
        assert_eq!(ids, ["admin", "alice", "demo", "itsec-officer", "loner", "mallory", "nokey", "user-0"], "{ctx}");
        for r in &users {
            assert_eq!(r[0], r[1]);
            let extra = json_of(&r[2]);
            assert_eq!(extra["enabled"], json!(true));
            match r[0].as_str() {
                "alice" => assert!(password::verify("alice pw 1", extra["password"].as_str().unwrap()), "{ctx}: hashed"),
                "loner" => assert_eq!(extra["password"], json!(loner_hash), "{ctx}: a hash is kept verbatim"),
                _ => assert!(extra.get("password").is_none(), "{ctx}: {} has no password", r[0]),
            }
        }
        let default_tenant = |id: &str| json_of(&users.iter().find(|r| r[0] == id).unwrap()[2]).get("tenant_id").cloned();
        assert_eq!(default_tenant("alice"), Some(json!("alice")));
        assert_eq!(default_tenant("user-0"), None);

        // Roles: created as the grants need them; administrators get `admin`.
        let roles = role_ids(t);
        assert_eq!(
            roles.keys().map(String::as_str).collect::<Vec<_>>(),
            ["admin", "cloudadmin", "developer", "itsec", "netadmin", "projectmanager", "sysadmin"],
            "{ctx}"
        );

        // Memberships and grants.
        let mut expected_members: Vec<(&str, &str)> = vec![
            ("admin", "admin"),
            ("admin", "demo"),
            ("demo", "demo"),
            ("user-0", "project-0"),
            ("user-0", "demo"),
            ("alice", "alice"),
            ("alice", "demo"),
            ("alice", "project-0"),
            ("alice", long),
            ("mallory", "demo"),
            ("itsec-officer", "project-0"),
            ("nokey", "demo"),
            ("admin", &sys),
            ("demo", &sys),
            ("itsec-officer", &sys),
        ];
        expected_members.sort_unstable();
        let members = rows(t, "SELECT user_id, tenant_id FROM user_tenant_membership");
        let mut members: Vec<(&str, &str)> = members.iter().map(|r| (r[0].as_str(), r[1].as_str())).collect();
        members.sort_unstable();
        assert_eq!(members, expected_members, "{ctx}");
        let g = |u: &str, t: &str, roles: &[&str]| {
            ((u.to_string(), t.to_string()), roles.iter().map(std::string::ToString::to_string).collect::<Vec<_>>())
        };
        let expected: BTreeMap<_, _> = [
            g("admin", "admin", &["projectmanager"]),
            g("demo", "demo", &["projectmanager", "sysadmin"]),
            g("user-0", "project-0", &["netadmin"]),
            g("alice", "demo", &["developer"]),
            g("admin", &sys, &["cloudadmin", "admin"]),
            g("demo", &sys, &["netadmin"]),
            g("itsec-officer", &sys, &["itsec"]),
        ]
        .into_iter()
        .collect();
        assert_eq!(grants(t), expected, "{ctx}");

        // EC2: ACCESS:project per membership, the bare key for the project named like the user.
        let mut ec2 = rows(t, "SELECT access, secret, user_id, tenant_id FROM ec2_credential");
        ec2.sort_by(|a, b| (&a[2], &a[3], &a[0]).cmp(&(&b[2], &b[3], &b[0])));
        let mut want: Vec<Vec<String>> = Vec::new();
        let mut cred = |user: &str, project: &str, bare: bool| {
            let (key, secret) = &keys[user];
            let access = if bare { key.clone() } else { format!("{key}:{project}") };
            want.push(vec![access, secret.clone(), user.into(), project.into()]);
        };
        cred("admin", "admin", false);
        cred("admin", "admin", true);
        cred("admin", "demo", false);
        cred("alice", "alice", false);
        cred("alice", "alice", true);
        cred("alice", "demo", false);
        cred("alice", "project-0", false);
        cred("demo", "demo", false);
        cred("demo", "demo", true);
        cred("itsec-officer", "project-0", false);
        cred("user-0", "demo", false);
        cred("user-0", "project-0", false);
        want.sort_by(|a, b| (&a[2], &a[3], &a[0]).cmp(&(&b[2], &b[3], &b[0])));
        assert_eq!(ec2, want, "{ctx}");

        // The report: every row accounted for, secrets nowhere.
        assert_eq!(finding(&report, "upstream_access_form")["count"], 12);
        let shared = finding(&report, "ec2_access_key_shared");
        assert_eq!(shared["rows"][0], "`mallory` (the key stays with `alice`)");
        assert_eq!(finding(&report, "ec2_no_project")["rows"][0], "`loner`");
        assert!(finding(&report, "ec2_access_too_long")["rows"][0].as_str().unwrap().ends_with(&format!(":{long}")));
        let admins = finding(&report, "admin_not_member");
        assert_eq!(admins["rows"], json!(["`admin`: member of 2 of 5 projects", "`itsec-officer`: member of 1 of 5 projects"]));
        assert_eq!(finding(&report, "no_credentials")["rows"][0], "`nokey`");
        assert_eq!(finding(&report, "ec2_only_user")["count"], 5);
        assert_eq!(finding(&report, "password_set")["count"], 2);
        assert_eq!(finding(&report, "admin_granted")["rows"][0], "`admin` (is_admin)");
        assert_eq!(finding(&report, "global_role_moved")["count"], 3);
        assert_eq!(finding(&report, "project_manager")["count"], 5);
        // Diablo honoured a project role only with the same global role: none of these had it.
        assert_eq!(
            finding(&report, "project_role_alone")["rows"],
            json!([
                "user `admin` role `projectmanager` project `admin`",
                "user `alice` role `developer` project `demo`",
                "user `demo` role `projectmanager` project `demo`",
                "user `demo` role `sysadmin` project `demo`",
                "user `user-0` role `netadmin` project `project-0`",
            ]),
            "{ctx}"
        );
        let table = |name: &str| report["tables"].as_array().unwrap().iter().find(|t| t["source_table"] == name).unwrap().clone();
        assert_eq!(table("users")["read"], 9);
        assert_eq!(table("users")["skipped"], 1);
        assert_eq!(table("users")["written"], json!({"ec2_credential": 12, "role": 1, "user": 8}));
        assert_eq!(table("user_project_association")["read"], 13);
        assert_eq!(table("user_project_association")["skipped"], 1);
        assert_eq!(table("user_project_role_association")["read"], 6);
        assert_eq!(table("user_project_role_association")["skipped"], 1);
        assert_eq!(table("user_role_association")["read"], 4);
        assert_eq!(table("user_role_association")["skipped"], 1);
        for secret in
            ["alice-secret-0001", "mallory-secret", "loner-secret", "alice pw 1", "loner-pw", &loner_hash, "alice-access-key-0001"]
        {
            assert!(!stdout.contains(secret) && !stderr.contains(secret), "{ctx}: `{secret}` shown");
        }
        for (user, (key, secret)) in &keys {
            assert!(!stdout.contains(secret.as_str()), "{ctx}: {user}'s secret shown");
            assert!(!stdout.contains(key.as_str()), "{ctx}: {user}'s access key shown whole");
        }
        assert_eq!(rows(t, "SELECT repository_id, version FROM migrate_version"), [["keystone", "1"]], "{ctx}: stamped");

        // The Essex-side view: the admin client reads it as Essex would.
        let mut client = Client::new(Box::new(DbTransport::open(t, Access::ReadOnly, None).unwrap()));
        let held: Vec<(String, String)> =
            client.grants(Some("alice"), None).unwrap().into_iter().map(|g| (g.tenant.name, g.role.name)).collect();
        assert_eq!(held, [("demo".to_string(), "developer".to_string())], "{ctx}");

        // Running again: nothing to do; a changed source is refused.
        let (again, report2, _, stderr) = nova_auth(&source.url, &target.url, &["--password-file", pw.to_str().unwrap()], &[]);
        assert_eq!(again, 1, "{ctx}: {stderr}");
        assert_eq!(report2["outcome"], "already_complete");
        assert_eq!(report2["findings"], report["findings"]);
        exec(&source.url, &[user("late", Some("late-key"), "late-secret", false, false)]);
        let (code, _, _, stderr) = nova_auth(&source.url, &target.url, &[], &[]);
        assert_eq!(code, 2, "{ctx}");
        assert!(stderr.contains("source has changed since (table users)"), "{ctx}: {stderr}");
    });
}

fn quote(url: &DbUrl, name: &str) -> String {
    osmigrate::db::quote_ident(url.backend, name)
}

/// The legacy Keystone from the generator, migrated by the binary (tenants 1 admin, 2 demo, 3
/// service, 4–6 project-N; users 1 admin … with EC2 keys `NAME-access` / `NAME-ec2-secret`).
fn legacy_keystone(server: &Server) -> (FreshDb, FreshDb) {
    let legacy = support::generated_keystone(server, "na_legacy", &[]);
    let target = support::fresh_db(server, "na_ks");
    let (code, _, err) = support::migrate_keystone(&legacy.url, &target.url, &["--json"]);
    assert!(code <= 1, "{err}");
    (legacy, target)
}

/// Every row of the identity tables, to compare a target before and after.
fn snapshot(url: &DbUrl) -> Vec<Vec<Vec<String>>> {
    ["tenant", "user", "role", "user_tenant_membership", "metadata", "ec2_credential", "osmigrate_journal", "migrate_version"]
        .iter()
        .map(|t| rows(url, &format!("SELECT * FROM {} ORDER BY 1, 2", quote(url, t))))
        .collect()
}

#[test]
fn into_a_keystone_the_legacy_import_filled_merging_only_the_same_identity() {
    support::each_server(|server| {
        let ctx = server.name();
        let (legacy, target) = legacy_keystone(&server);
        let t = &target.url;
        let before = snapshot(t);

        // The generator's Nova: its users and projects collide with the legacy ones by name.
        let colliding = generated_nova(&server, "na_collide", &[]);
        let (code, _, stdout, stderr) = nova_auth(&colliding.url, t, &[], &[]);
        assert_eq!(code, 2, "{ctx}: {stdout}");
        for expected in [
            "user `admin`: Keystone already has a user named `admin` (id 1) that is not the same identity",
            "user `demo`: Keystone already has a user named `demo` (id 2)",
            "project `admin` (tenant name `admin`): Keystone already has tenant `admin` (id `1`)",
            "project `project-0` (tenant name `project-0`): Keystone already has tenant `project-0` (id `4`)",
            "nothing was written",
        ] {
            assert!(stderr.contains(expected), "{ctx}: `{expected}` in {stderr}");
        }
        assert!(stderr.contains("user `user-0`: Keystone already has a user named `user-0`"), "{ctx}: {stderr}");
        assert_eq!(snapshot(t), before, "{ctx}: refused before anything was written");

        // A Nova whose admin is the legacy admin (same name, same EC2 key pair) and whose projects are new.
        let rows_sql = vec![
            user("admin", Some("admin-access"), "admin-ec2-secret", true, false),
            user("carol", Some("carol-key"), "carol-secret", false, false),
            user("dave", Some("dave-key"), "dave-secret", false, false),
            project("research", "carol"),
            project("ops", "dave"),
            member("admin", "research"),
            member("carol", "research"),
            member("carol", "ops"),
            member("dave", "ops"),
            project_role("carol", "research", "sysadmin"),
            project_role("dave", "ops", "netadmin"),
            project_role("carol", "ops", "developer"),
            global_role("admin", "cloudadmin"),
            global_role("carol", "itsec"),
        ];
        let source = bare_nova(&server, "na_merge", &rows_sql);

        // Cut short inside the transaction (the process aborts after the grants): nothing is kept.
        let (code, _, _, stderr) = nova_auth(&source.url, t, &[], &[("OSMIGRATE_FAILPOINT", "step:nova-auth/grants")]);
        assert_ne!(code, 0, "{ctx}: {stderr}");
        assert!(stderr.contains("failpoint step:nova-auth/grants reached"), "{ctx}: {stderr}");
        // (A writer's first read rolls back what the aborted transaction left; SQLite's read-only
        // connections cannot.)
        Db::connect(t, Access::ReadWrite).unwrap().query("SELECT COUNT(*) FROM tenant", &[]).unwrap();
        assert_eq!(snapshot(t), before, "{ctx}: an interrupted run leaves the target as it was");

        let (code, report, _, stderr) = nova_auth(&source.url, t, &[], &[]);
        assert_eq!(code, 1, "{ctx}: {stderr}");
        assert_eq!(report["outcome"], "migrated");
        let merged = finding(&report, "user_merged");
        assert_eq!(merged["severity"], "warning");
        assert_eq!(merged["rows"], json!(["`admin` → Keystone id 1"]));

        let tenants = rows(t, "SELECT id, name FROM tenant ORDER BY id");
        let sys = tenants.iter().find(|r| r[1] == "systenant").unwrap()[0].clone();
        assert_eq!(tenants.len(), 9, "{ctx}: six legacy tenants, systenant, and two new: {tenants:?}");
        assert!(
            tenants.contains(&vec!["research".to_string(), "research".to_string()]) && tenants.contains(&vec!["ops".into(), "ops".into()])
        );
        let users = rows(t, &format!("SELECT id, name FROM {} WHERE name IN ('admin', 'carol', 'dave') ORDER BY id", quote(t, "user")));
        assert_eq!(users, [["1", "admin"], ["carol", "carol"], ["dave", "dave"]], "{ctx}");
        let roles = role_ids(t);
        assert_eq!(roles["sysadmin"], "5", "{ctx}: existing roles are reused by name");
        assert_eq!(roles["netadmin"], "6");
        assert!(roles.contains_key("developer") && roles.contains_key("cloudadmin") && roles.contains_key("itsec"), "{roles:?}");
        assert!(!roles.contains_key("admin"), "{ctx}: the legacy `Admin` is Essex's admin role (compared without case)");

        let all = grants(t);
        let get = |u: &str, tenant: &str| all.get(&(u.to_string(), tenant.to_string())).cloned().unwrap_or_default();
        assert_eq!(get("1", &sys), ["Admin", "KeystoneAdmin", "KeystoneServiceAdmin", "cloudadmin"], "{ctx}: added to the legacy grant");
        assert_eq!(get("carol", "research"), ["sysadmin"]);
        assert_eq!(get("carol", "ops"), ["developer"]);
        assert_eq!(get("dave", "ops"), ["netadmin"]);
        assert_eq!(get("carol", &sys), ["itsec"]);
        assert!(get("1", "research").is_empty());
        let members = rows(t, "SELECT user_id, tenant_id FROM user_tenant_membership WHERE tenant_id IN ('research', 'ops') ORDER BY 1, 2");
        assert_eq!(members, [["1", "research"], ["carol", "ops"], ["carol", "research"], ["dave", "ops"]], "{ctx}");

        let ec2 = rows(
            t,
            "SELECT access, secret, user_id, tenant_id FROM ec2_credential WHERE secret IN ('admin-ec2-secret', 'carol-secret', 'dave-secret') ORDER BY access",
        );
        assert_eq!(
            ec2,
            [
                ["admin-access", "admin-ec2-secret", "1", "1"],
                ["admin-access:research", "admin-ec2-secret", "1", "research"],
                ["carol-key:ops", "carol-secret", "carol", "ops"],
                ["carol-key:research", "carol-secret", "carol", "research"],
                ["dave-key:ops", "dave-secret", "dave", "ops"],
            ],
            "{ctx}: the legacy bare key kept, the new strings added"
        );

        // Both migrations are finished: each re-run is a no-op.
        let (code, out, err) = support::migrate_keystone(&legacy.url, t, &["--json"]);
        assert!(code <= 1, "{ctx}: {err}");
        assert_eq!(json_of(&out)["outcome"], "already_complete");
        let (code, again, _, stderr) = nova_auth(&source.url, t, &[], &[]);
        assert_eq!(code, 1, "{ctx}: {stderr}");
        assert_eq!(again["outcome"], "already_complete");

        // Another Nova, whose `carol` is someone else (another key), is refused.
        let other = bare_nova(&server, "na_other", &[user("carol", Some("other-key"), "other-secret", false, false)]);
        let after = snapshot(t);
        let (code, _, _, stderr) = nova_auth(&other.url, t, &[], &[]);
        assert_eq!(code, 2, "{ctx}");
        assert!(stderr.contains("source has changed since"), "{ctx}: the target holds this import already: {stderr}");
        assert_eq!(snapshot(t), after);
    });
}

#[test]
fn a_keystone_import_cannot_follow_and_foreign_or_unfinished_targets_are_refused() {
    let server = &support::servers()[0];
    let source = bare_nova(
        server,
        "na_order",
        &[user("carol", Some("carol-key"), "carol-secret", false, false), project("ops", "carol"), member("carol", "ops")],
    );
    let target = support::fresh_db(server, "na_first");
    let (code, _, _, stderr) = nova_auth(&source.url, &target.url, &[], &[]);
    assert_eq!(code, 0, "{stderr}");
    let legacy = support::generated_keystone(server, "na_legacy2", &[]);
    let (code, _, err) = support::migrate_keystone(&legacy.url, &target.url, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("holds an osmigrate nova-auth import, not keystone; give an empty or new database"), "{err}");

    // A Keystone import cut short: finish it first.
    let unfinished = support::fresh_db(server, "na_unfinished");
    let (code, _, err) = support::migrate_keystone(&legacy.url, &unfinished.url, &[]);
    assert!(code <= 1, "{err}");
    exec(&unfinished.url, &["DELETE FROM osmigrate_journal WHERE step = 'finished'".to_string()]);
    let (code, _, _, stderr) = nova_auth(&source.url, &unfinished.url, &[], &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("is unfinished: run `osmigrate db migrate keystone` again"), "{stderr}");

    // Another service's target, a foreign database, the source itself, not a Nova.
    let (code, _, _, stderr) = nova_auth(&source.url, &legacy.url, &[], &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("osmigrate did not write"), "{stderr}");
    let (code, _, _, stderr) = nova_auth(&source.url, &source.url, &[], &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("is the source database"), "{stderr}");
    let fresh = support::fresh_db(server, "na_t");
    let (code, _, _, stderr) = nova_auth(&legacy.url, &fresh.url, &[], &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("legacy Keystone database, not Nova"), "{stderr}");

    // An Essex Keystone with its schema and no rows (`db create`, or keystone-manage db_sync) is empty.
    let created = support::fresh_db(server, "na_created");
    let out = osmigrate().args(["db", "create", "keystone", "--release", "essex", &created.url.expose_secret()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (code, report, _, stderr) = nova_auth(&source.url, &created.url, &[], &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(report["outcome"], "migrated");
    assert_eq!(rows(&created.url, "SELECT id FROM tenant"), [["ops"]]);
    assert_eq!(rows(&created.url, "SELECT repository_id, version FROM migrate_version"), [["keystone", "1"]]);
}

#[test]
fn password_files_are_checked_and_never_echoed() {
    let server = &support::servers()[0];
    let source = bare_nova(
        server,
        "na_pw",
        &[user("carol", Some("carol-key"), "carol-secret", false, false), project("carol", "carol"), member("carol", "carol")],
    );
    let dir = tempfile::tempdir().unwrap();
    let open = private_file(dir.path(), "open", "carol:hunter2-open\n", 0o644);
    let target = support::fresh_db(server, "na_pw_t");
    let (code, _, stdout, stderr) = nova_auth(&source.url, &target.url, &["--password-file", open.to_str().unwrap()], &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("open to other users (mode 0644)"), "{stderr}");
    let unknown = private_file(dir.path(), "unknown", "carol:hunter2-a\nzed:hunter2-b\n", 0o600);
    let (code, _, stdout2, stderr2) = nova_auth(&source.url, &target.url, &["--password-file", unknown.to_str().unwrap()], &[]);
    assert_eq!(code, 2, "{stderr2}");
    assert!(stderr2.contains("the password file names `zed`, which is no Nova user"), "{stderr2}");
    let tables = Db::connect(&target.url, Access::ReadWrite).unwrap().table_names().unwrap();
    assert!(tables.is_empty(), "a refused run into an empty target leaves it empty: {tables:?}");
    let bad = private_file(dir.path(), "bad", "carol:ok\nhunter2-line\n", 0o640);
    let (code, _, stdout3, stderr3) = nova_auth(&source.url, &target.url, &["--password-file", bad.to_str().unwrap()], &[]);
    assert_eq!(code, 64, "{stderr3}");
    assert!(stderr3.contains("line 2 is not `name:password`"), "{stderr3}");
    for text in [stdout, stderr, stdout2, stderr2, stdout3, stderr3] {
        assert!(!text.contains("hunter2"), "{text}");
    }
    let (code, report, _, stderr) = nova_auth(&source.url, &target.url, &[], &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(finding(&report, "ec2_only_user")["rows"][0], "`carol`");
    let ec2 = rows(&target.url, "SELECT access, tenant_id FROM ec2_credential ORDER BY access");
    assert_eq!(ec2, [["carol-key", "carol"], ["carol-key:carol", "carol"]]);
}

/// The user Diablo's `user_get_by_access_key` found, asked here with the test's own statement (no
/// ORDER BY, as Diablo's query had none).
fn diablo_first(url: &DbUrl, key: &str) -> String {
    rows(url, &format!("SELECT id FROM users WHERE access_key = '{key}' AND deleted = false LIMIT 1"))[0][0].clone()
}

#[test]
fn a_shared_key_stays_with_the_user_diablo_authenticated_on_every_backend() {
    for server in support::servers() {
        let ctx = server.name();
        // `zed` is inserted before `abe`, and `mia` before `bob`, then `mia` is updated (on
        // PostgreSQL the new row version goes to the heap's end, behind `bob`).
        let source = bare_nova(
            &server,
            "na_shared",
            &[
                user("zed", Some("shared-key-one"), "zed-secret", false, false),
                user("abe", Some("shared-key-one"), "abe-secret", false, false),
                user("mia", Some("shared-key-two"), "mia-secret", false, false),
                user("bob", Some("shared-key-two"), "bob-secret", false, false),
                "UPDATE users SET name = 'Mia' WHERE id = 'mia'".to_string(),
                project("ops", "zed"),
                member("zed", "ops"),
                member("abe", "ops"),
                member("mia", "ops"),
                member("bob", "ops"),
            ],
        );
        let keepers = [
            ("shared-key-one", diablo_first(&source.url, "shared-key-one")),
            ("shared-key-two", diablo_first(&source.url, "shared-key-two")),
        ];
        // Each backend's own order: SQLite's rowid (insertion) order, so the key is not the lowest
        // id's; InnoDB's primary key `users.id`, so it is; PostgreSQL's heap, where the updated
        // `mia` now comes after `bob`.
        let expected = match server.backend {
            Backend::Sqlite => ["zed", "mia"],
            Backend::Mysql => ["abe", "bob"],
            Backend::Postgres => ["zed", "bob"],
        };
        assert_eq!([keepers[0].1.as_str(), keepers[1].1.as_str()], expected, "{ctx}");
        let target = support::fresh_db(&server, "na_shared_t");
        let (code, report, stdout, stderr) = nova_auth(&source.url, &target.url, &[], &[]);
        assert_eq!(code, 1, "{ctx}: {stderr}");
        let mut reported: Vec<String> = Vec::new();
        for (key, keeper) in &keepers {
            let secret = format!("{keeper}-secret");
            let held = rows(&target.url, &format!("SELECT user_id, secret FROM ec2_credential WHERE access = '{key}:ops'"));
            assert_eq!(held, [[keeper.clone(), secret]], "{ctx}: {key} stays with the user Diablo authenticated");
            let other = ["zed", "abe", "mia", "bob"]
                .into_iter()
                .find(|u| u != keeper && rows(&source.url, &format!("SELECT access_key FROM users WHERE id = '{u}'"))[0][0] == *key)
                .unwrap();
            reported.push(format!("`{other}` (the key stays with `{keeper}`)"));
        }
        let mut rows_of: Vec<String> =
            finding(&report, "ec2_access_key_shared")["rows"].as_array().unwrap().iter().map(|r| r.as_str().unwrap().to_string()).collect();
        rows_of.sort();
        reported.sort();
        assert_eq!(rows_of, reported, "{ctx}");
        assert_eq!(rows(&target.url, "SELECT COUNT(*) FROM ec2_credential"), [["2"]], "{ctx}: one credential per key");
        assert!(!stdout.contains("-secret") && !stderr.contains("-secret"), "{ctx}: secrets stay out of the report");
    }
}

#[test]
fn orphans_without_foreign_keys_are_reported_not_carried() {
    // SQLite Diablo databases do not enforce the foreign keys: roles and memberships may name nothing.
    let server = &support::servers()[0];
    let source = bare_nova(
        server,
        "na_orphans",
        &[
            "PRAGMA foreign_keys = OFF".to_string(),
            user("carol", Some("carol-key"), "carol-secret", false, false),
            project("ops", "carol"),
            member("carol", "ops"),
            member("ghost", "ops"),
            member("carol", "nowhere"),
            project_role("carol", "ops", "netadmin"),
            project_role("carol", "nowhere-else", "sysadmin"),
            global_role("ghost", "cloudadmin"),
            "INSERT INTO users (id, access_key, secret_key, is_admin, deleted) VALUES ('limbo', 'limbo-key', 'limbo-secret', false, NULL)"
                .to_string(),
        ],
    );
    let target = support::fresh_db(server, "na_orphans_t");
    let (code, report, _, stderr) = nova_auth(&source.url, &target.url, &[], &[]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(finding(&report, "role_without_membership")["rows"][0], "user `carol` role `sysadmin` project `nowhere-else`");
    let orphans: Vec<&Json> =
        report["findings"].as_array().unwrap().iter().filter(|f| f["code"] == "orphan_user" || f["code"] == "orphan_project").collect();
    let rows_of: Vec<String> =
        orphans.iter().flat_map(|f| f["rows"].as_array().unwrap().iter().map(|r| r.as_str().unwrap().to_string())).collect();
    assert!(rows_of.contains(&"user `ghost` project `ops`".to_string()), "{rows_of:?}");
    assert!(rows_of.contains(&"user `carol` project `nowhere`".to_string()), "{rows_of:?}");
    assert!(rows_of.contains(&"user `ghost` role `cloudadmin`".to_string()), "{rows_of:?}");
    assert_eq!(finding(&report, "deleted")["rows"][0], "`limbo`");
    assert_eq!(rows(&target.url, "SELECT name FROM role"), [["netadmin"]], "only the roles of carried grants");
    assert_eq!(rows(&target.url, "SELECT COUNT(*) FROM tenant"), [["1"]], "no global grant of a live user: no systenant");
}

#[test]
fn names_that_differ_only_in_case_are_refused_or_merged_on_a_mysql_target() {
    // A SQLite (or PostgreSQL) Nova can hold `bob` and `Bob`, and roles `netadmin` and `Netadmin`.
    let servers = support::servers();
    let Some(mysql) = servers.iter().find(|s| s.backend == osmigrate::db::Backend::Mysql) else {
        return;
    };
    let lite = &servers[0];
    let both = bare_nova(lite, "na_case", &[user("bob", Some("k1"), "s1", false, false), user("Bob", Some("k2"), "s2", false, false)]);
    let target = support::fresh_db(mysql, "na_case_t");
    let (code, _, _, stderr) = nova_auth(&both.url, &target.url, &[], &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("users `Bob` (id `Bob`) and `bob` (id `bob`) would be one name in Essex (MySQL compares names"), "{stderr}");
    let roles = bare_nova(
        lite,
        "na_case_roles",
        &[
            user("bob", Some("k1"), "s1", false, false),
            project("ops", "bob"),
            member("bob", "ops"),
            project_role("bob", "ops", "netadmin"),
            project_role("bob", "ops", "Netadmin"),
        ],
    );
    let (code, report, _, stderr) = nova_auth(&roles.url, &target.url, &[], &[]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(finding(&report, "role_merged")["rows"][0], "`netadmin` → `Netadmin`");
    assert_eq!(rows(&target.url, "SELECT name FROM role"), [["Netadmin"]]);
    assert_eq!(grants(&target.url).into_values().collect::<Vec<_>>(), [["Netadmin"]]);
}
