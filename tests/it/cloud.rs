//! The whole controller: check → plan → migrate → verify → rollback on every backend, and the
//! crash guarantee: a run killed at any step or batch boundary (failpoints), or by kill -9 at any
//! moment, finishes on the next run with exactly the databases and files of an uninterrupted run.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use osmigrate::db::introspect::{self, TableShape};
use osmigrate::db::{Access, Backend, Db, DbUrl};
use osmigrate::generate::{self, etc};
use osmigrate::schema::essex;
use serde_json::Value as Json;

use crate::support::{self, Server, osmigrate, rows};

mod operator;
mod preconditions;

/// A Diablo controller under `root`: the config tree and the three databases (SQLite files under
/// the root, or databases on the server named with `tag`).
fn build(root: &Path, server: &Server, tag: &str) -> Cloud {
    build_cloud(root, server, tag, false)
}

/// A test cloud's three source databases. On a server, they and the Essex databases migrated
/// next to them are dropped when this goes (`OSMIGRATE_TEST_KEEP` keeps them), so that a
/// server the tests share does not fill up.
#[must_use = "the cloud's databases are dropped with it"]
struct Cloud(Vec<DbUrl>);

impl std::ops::Deref for Cloud {
    type Target = [DbUrl];

    fn deref(&self) -> &[DbUrl] {
        &self.0
    }
}

impl Drop for Cloud {
    fn drop(&mut self) {
        if std::env::var_os("OSMIGRATE_TEST_KEEP").is_some() {
            return;
        }
        for db in self.0.iter().filter(|db| db.backend != Backend::Sqlite) {
            let _ = Db::drop_database_if_exists(db);
            let _ = Db::drop_database_if_exists(&essex(db));
        }
    }
}

/// A Nova-auth cloud's new Keystone is `keystone_essex` on Nova's server, whatever the test: the
/// tests that build one on a server take turns.
static NOVA_AUTH_ON_A_SERVER: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn nova_auth_turn(server: &Server) -> Option<std::sync::MutexGuard<'static, ()>> {
    server.url.is_some().then(|| NOVA_AUTH_ON_A_SERVER.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
}

/// As [`build`]; with `nova_auth`, a cloud that ran Nova's own auth: no Keystone at all.
fn build_cloud(root: &Path, server: &Server, tag: &str, nova_auth: bool) -> Cloud {
    if root.exists() {
        std::fs::remove_dir_all(root).unwrap();
    }
    let (host, local): (Vec<String>, Vec<DbUrl>) = match &server.url {
        None => {
            let paths = ["/var/lib/keystone/keystone.db", "/var/lib/glance/glance.sqlite", "/var/lib/nova/nova.sqlite"];
            (paths.iter().map(|p| format!("sqlite:///{p}")).collect(), paths.iter().map(|p| DbUrl::sqlite(&root.join(&p[1..]))).collect())
        }
        Some(url) => {
            let dbs: Vec<DbUrl> = ["keystone", "glance", "nova"]
                .iter()
                .map(|s| url.with_database(&format!("osm_{tag}_{}_{s}", std::process::id())))
                .collect();
            for db in &dbs {
                Db::drop_database_if_exists(db).unwrap();
                Db::drop_database_if_exists(&db.with_database(&format!("{}_essex", db.database.clone().unwrap()))).unwrap();
            }
            if nova_auth {
                // Only under the turn `nova_auth_turn` gives: another test's may be in use.
                Db::drop_database_if_exists(&dbs[2].with_database("keystone_essex")).unwrap();
            }
            (dbs.iter().map(osmigrate::db::DbUrl::expose_secret).collect(), dbs)
        }
    };
    let urls = etc::Urls { keystone: &host[0], glance: &host[1], nova: &host[2] };
    if nova_auth {
        etc::write_nova_auth_tree(root, &urls).unwrap();
    } else {
        etc::write_tree(root, &urls).unwrap();
    }
    for db in &local[1..] {
        Db::create_database_if_missing(db).unwrap();
    }
    let now = osmigrate::db::value::parse_datetime("2012-02-14 00:00:00").unwrap();
    if !nova_auth {
        Db::create_database_if_missing(&local[0]).unwrap();
        let ks = generate::keystone::Shape { now, ..generate::keystone::Shape::demo() };
        generate::keystone::generate(&mut Db::connect(&local[0], Access::ReadWrite).unwrap(), &ks).unwrap();
    }
    let variant =
        if server.backend == Backend::Postgres { generate::glance::Variant::Unversioned } else { generate::glance::Variant::Versioned };
    let gl = generate::glance::Shape { now, variant, ..generate::glance::Shape::demo() };
    generate::glance::generate(&mut Db::connect(&local[1], Access::ReadWrite).unwrap(), &gl).unwrap();
    let nv = generate::nova::Shape { now, glance_images: gl.images, batch_size: 5, ..generate::nova::Shape::demo() };
    let mut nova = Db::connect(&local[2], Access::ReadWrite).unwrap();
    generate::nova::generate(&mut nova, &nv).unwrap();
    if nova_auth {
        generate::nova::add_nova_auth_users(&mut nova).unwrap();
    }
    Cloud(local)
}

/// verify's exit on a migrated test tree: 1, done with warnings, because the tree's etc/passwd
/// has no service users (`service_user_unknown`).
pub const VERIFIED: i32 = 1;

fn cloud(command: &str, root: &Path, extra: &[&str]) -> (i32, Json, String) {
    let out = osmigrate().arg(command).args(["--root", root.to_str().unwrap(), "--json"]).args(extra).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code().unwrap_or(-1), serde_json::from_slice(&out.stdout).unwrap_or(Json::Null), stderr)
}

fn essex(url: &DbUrl) -> DbUrl {
    osmigrate::deploy::discover::essex_target(url)
}

/// Passwords hashed during the migration get a random salt each run, by design: compare them
/// without it (the keystone tests check that each one verifies).
fn without_salts(v: &str) -> String {
    let mut out = String::new();
    let mut rest = v;
    while let Some(i) = rest.find("$6$rounds=40000$") {
        out.push_str(&rest[..i]);
        out.push_str("$6$rounds=40000$<salted>");
        rest = &rest[i..];
        rest = rest.find('"').map_or("", |e| &rest[e..]);
    }
    out.push_str(rest);
    out
}

/// Everything a migration leaves: the Essex databases' rows (osmigrate's own journal aside) and
/// every file under etc/.
fn snapshot(root: &Path, sources: &[DbUrl]) -> BTreeMap<String, Vec<Vec<String>>> {
    let mut out = BTreeMap::new();
    for src in sources {
        let target = essex(src);
        let mut db = Db::connect(&target, Access::ReadOnly).unwrap();
        for t in db.table_names().unwrap().into_iter().filter(|t| t != "osmigrate_journal") {
            let mut r = rows(&target, &format!("SELECT * FROM {}", db.quote(&t)));
            for row in &mut r {
                for v in row.iter_mut() {
                    *v = without_salts(v);
                }
            }
            r.sort();
            out.insert(format!("{}:{t}", target.database.clone().unwrap_or_else(|| target.path.clone().unwrap().display().to_string())), r);
        }
    }
    let mut files: Vec<PathBuf> = Vec::new();
    let mut dirs = vec![root.join("etc")];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.path().is_dir() {
                dirs.push(e.path());
            } else {
                files.push(e.path());
            }
        }
    }
    // The admin token is new and random on each cloud built: named, not compared. A file with
    // another token than the one kept in the state directory still differs.
    let token = std::fs::read_to_string(root.join("var/lib/osmigrate/admin-token")).ok().map(|t| t.trim().to_string());
    for f in files {
        let mut text = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned();
        if let Some(t) = token.as_deref().filter(|t| !t.is_empty()) {
            text = text.replace(t, "<admin-token>");
        }
        out.insert(f.strip_prefix(root).unwrap().display().to_string(), vec![vec![text]]);
    }
    out
}

#[test]
fn check_plan_migrate_verify_rollback_on_every_backend() {
    support::each_server(|server| {
        let ctx = server.name();
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("cloud");
        let sources = build(&root, &server, "e2e");

        let (code, check, err) = cloud("check", &root, &[]);
        assert!(code <= 1, "{ctx}: check {code}: {err}");
        assert_eq!(check["databases"].as_array().unwrap().len(), 3);
        assert!(
            check["hosts"].as_array().unwrap().iter().any(|h| h.as_str().unwrap().starts_with("compute1: nova-compute")),
            "{ctx}: {check}"
        );

        let (code, plan, _) = cloud("plan", &root, &["--no-services"]);
        assert_eq!(code, 0);
        assert_eq!(plan["steps"].as_array().unwrap().len(), 11);
        let (_, plan, _) = cloud("plan", &root, &["--no-services", "--create-service-users"]);
        assert!(plan["steps"].as_array().unwrap().iter().any(|s| s["name"] == "service-users"));
        assert!(snapshot_is_untouched(&root), "{ctx}: plan changes nothing");

        let (code, migrated, err) = cloud("migrate", &root, &["--no-services", "--yes", "--create-service-users"]);
        assert!(code <= 1, "{ctx}: migrate {code}: {err}");
        // The service users: the Diablo Keystone already had nova and glance in `service`; the
        // step says so, keeps their passwords, and makes sure of the admin role there.
        let step = migrated["steps"].as_array().unwrap().iter().find(|s| s["name"] == "service-users").unwrap().clone();
        assert!(step["detail"].as_str().unwrap().contains("user nova was already there"), "{ctx}: {step}");
        assert!(!root.join("var/lib/osmigrate/service-users").exists(), "{ctx}: no password chosen for users that exist");
        let (code, verified, err) = cloud("verify", &root, &[]);
        assert_eq!(code, VERIFIED, "{ctx}: {verified} {err}");
        let keystone_conf = std::fs::read_to_string(root.join("etc/keystone/keystone.conf")).unwrap();
        assert!(keystone_conf.contains("[sql]") && keystone_conf.contains("keystone.token.backends.sql.Token"), "{ctx}: {keystone_conf}");
        assert_private_state_and_fresh_token(&root, &migrated, &err);
        if server.url.is_none() {
            // The tree is another machine's: its configs name host paths, not paths under --root.
            let nova_conf = std::fs::read_to_string(root.join("etc/nova/nova.conf")).unwrap();
            assert!(nova_conf.contains("sql_connection=sqlite:////var/lib/nova/nova-essex.sqlite"), "{ctx}: {nova_conf}");
            assert!(!keystone_conf.contains(root.to_str().unwrap()), "{ctx}: {keystone_conf}");
        }

        // Run again: nothing to do.
        let before = snapshot(&root, &sources);
        let (code, again, _) = cloud("migrate", &root, &["--no-services", "--yes"]);
        assert!(code <= 1);
        assert!(again["steps"].as_array().unwrap().iter().all(|s| s["status"] == "already done"), "{ctx}: {again}");
        assert_eq!(snapshot(&root, &sources), before, "{ctx}: a finished migration run again changes nothing");

        // Rollback: the Diablo configs back, the Diablo databases as they were.
        let (code, _, err) = cloud("rollback", &root, &[]);
        assert_eq!(code, 0, "{err}");
        let keystone_conf = std::fs::read_to_string(root.join("etc/keystone/keystone.conf")).unwrap();
        assert!(keystone_conf.contains("[keystone.backends.sqlalchemy]"), "{ctx}: Diablo keystone.conf restored");
        assert!(std::fs::read_to_string(root.join("etc/nova/nova.conf")).unwrap().starts_with("--"), "{ctx}: flagfile restored");
        let (code, _, _) = cloud("verify", &root, &[]);
        assert_eq!(code, 2, "{ctx}: after rollback, verify reports the configs");
        // And migrate again after a rollback.
        let (code, _, err) = cloud("migrate", &root, &["--no-services", "--yes"]);
        assert!(code <= 1, "{err}");
        assert_eq!(cloud("verify", &root, &[]).0, VERIFIED);
        let after = snapshot(&root, &sources);
        let differing: Vec<&String> =
            after.keys().filter(|k| after.get(*k) != before.get(*k)).chain(before.keys().filter(|k| !after.contains_key(*k))).collect();
        assert!(differing.is_empty(), "{ctx}: after rollback and migrate these differ: {differing:?}");
    });
}

/// Backups, state and the generated admin token are 0600; the Diablo tree's token (the published
/// sample `999888777666`, as the shipped files have it) is not Essex's admin_token: a fresh random
/// one is, kept in STATE/admin-token, and the report names that file, never the value.
fn assert_private_state_and_fresh_token(root: &Path, migrated: &Json, stderr: &str) {
    use std::os::unix::fs::MetadataExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).mode() & 0o777;
    let state = root.join("var/lib/osmigrate");
    for f in ["diablo-etc.tar", "journal.json", "admin-token", "glance-image-map.csv"] {
        assert_eq!(mode(&state.join(f)), 0o600, "{f}");
    }
    let mut backups = 0;
    for dir in ["etc/keystone", "etc/glance", "etc/nova"] {
        for e in std::fs::read_dir(root.join(dir)).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            assert!(!name.contains("osmigrate-tmp"), "{name}: a temporary file was left");
            if name.contains(".osmigrate-backup") {
                backups += 1;
                assert_eq!(mode(&e.path()), 0o600, "{name}: a backup holds the same secrets as the file");
            } else if !Path::new(&name).extension().is_some_and(|x| x == "json" || x == "templates") {
                assert_eq!(mode(&e.path()), 0o640, "{name}");
            }
        }
    }
    assert!(backups >= 5, "every replaced file was kept");
    let token = std::fs::read_to_string(state.join("admin-token")).unwrap().trim().to_string();
    assert!(token.len() == 40 && token.chars().all(|c| c.is_ascii_hexdigit()), "a fresh random token");
    let keystone = std::fs::read_to_string(root.join("etc/keystone/keystone.conf")).unwrap();
    assert!(keystone.contains(&format!("\nadmin_token = {token}\n")), "keystone.conf holds the token kept in the state directory");
    for paste in ["etc/nova/api-paste.ini", "etc/glance/glance-api-paste.ini", "etc/glance/glance-registry-paste.ini"] {
        let text = std::fs::read_to_string(root.join(paste)).unwrap();
        assert!(text.contains(&format!("admin_token = {token}\n")), "{paste}");
        assert!(!text.contains(generate::keystone::SERVICE_TOKEN), "{paste}");
    }
    assert!(!keystone.contains(generate::keystone::SERVICE_TOKEN), "the published sample token is never carried");
    let report = migrated.to_string();
    assert!(!report.contains(&token) && !stderr.contains(&token), "the token's value is never reported");
    assert!(
        report.contains("admin_token_sample") && report.contains(&state.join("admin-token").display().to_string()),
        "the report names the file"
    );
}

/// `plan` wrote nothing: no state directory, no Essex file.
fn snapshot_is_untouched(root: &Path) -> bool {
    !root.join("var/lib/osmigrate").exists() && !root.join("etc/keystone/keystone.conf.osmigrate-backup").exists()
}

/// Where a run can die: every step of the workflow, steps and batches inside each database.
const FAILPOINTS: &[&str] = &[
    "deploy:stop-services",
    "deploy:backup-configs",
    "deploy:keystone-db",
    "step:tenants",
    "step:grants",
    "batch:token:1",
    "deploy:glance-db",
    "step:image_map",
    "batch:image_properties:1",
    "deploy:nova-db",
    "batch:s3_images:1",
    "batch:instances:1",
    "batch:fixed_ips:1",
    "step:fixed_ips",
    "batch:instance_info_caches:1",
    "step:virtual_storage_arrays",
    "file:osmigrate/journal.json",
    "file:osmigrate/diablo-etc.tar",
    "file:keystone/default_catalog.templates",
    "file:osmigrate/glance-image-map.csv",
    "deploy:keystone-config",
    "file:osmigrate/admin-token",
    "file:keystone/keystone.conf.osmigrate-backup",
    "file:keystone/keystone.conf",
    "deploy:glance-config",
    "file:glance/glance-api.conf",
    "file:glance/glance-registry-paste.ini",
    "deploy:nova-config",
    "file:nova/nova.conf.osmigrate-backup",
    "file:nova/nova.conf",
    "file:nova/api-paste.ini",
    "deploy:start-services",
];

#[test]
fn a_run_killed_anywhere_ends_like_an_uninterrupted_run() {
    let server = &support::servers()[0];
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cloud");
    let sources = build(&root, server, "crash");
    let (code, _, err) = cloud("migrate", &root, &["--no-services", "--yes"]);
    assert!(code <= 1, "{err}");
    let whole = snapshot(&root, &sources);
    let whole_schema = schemas(&sources);

    for point in FAILPOINTS {
        let sources = build(&root, server, "crash");
        let out = osmigrate()
            .args(["migrate", "--root", root.to_str().unwrap(), "--no-services", "--yes"])
            .env("OSMIGRATE_FAILPOINT", point)
            .output()
            .unwrap();
        assert!(
            !out.status.success() && out.status.code().is_none(),
            "{point}: the run was killed there: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (code, _, err) = cloud("migrate", &root, &["--no-services", "--yes"]);
        assert!(code <= 1, "{point}: the next run finishes: {err}");
        assert_eq!(cloud("verify", &root, &[]).0, VERIFIED, "{point}");
        let after = snapshot(&root, &sources);
        for (k, v) in &whole {
            assert_eq!(after.get(k), Some(v), "{point}: {k} differs from the uninterrupted run");
        }
        assert_eq!(after.len(), whole.len(), "{point}");
        assert!(schemas(&sources) == whole_schema, "{point}: the schema differs from the uninterrupted run's");
    }

    // kill -9 of the real binary at moments spread over the run.
    let mut killed = Vec::new();
    for delay_ms in [30u64, 120, 250, 500, 900] {
        let sources = build(&root, server, "crash");
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("osmigrate"))
            .args(["migrate", "--root", root.to_str().unwrap(), "--no-services", "--yes"])
            .env("OSMIGRATE_NOW", "2012-02-14 00:00:00")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        if std::os::unix::process::ExitStatusExt::signal(&child.wait().unwrap()) == Some(9) {
            killed.push(delay_ms);
        }
        let (code, _, err) = cloud("migrate", &root, &["--no-services", "--yes"]);
        assert!(code <= 1, "kill after {delay_ms} ms: {err}");
        let after = snapshot(&root, &sources);
        let differing: Vec<&String> =
            after.keys().filter(|k| after.get(*k) != whole.get(*k)).chain(whole.keys().filter(|k| !after.contains_key(*k))).collect();
        assert!(differing.is_empty(), "kill after {delay_ms} ms: these differ from the uninterrupted run: {differing:?}");
        assert!(schemas(&sources) == whole_schema, "kill after {delay_ms} ms: the schema differs from the uninterrupted run's");
    }
    // A run that finished before its kill proves nothing: the early ones must have landed.
    assert!(killed.contains(&30) && killed.contains(&120), "SIGKILL landed after {killed:?} ms only");
}

/// Every Essex target's schema as introspection reads it, osmigrate's own tables included.
fn schemas(sources: &[DbUrl]) -> BTreeMap<String, TableShape> {
    let mut out = BTreeMap::new();
    for src in sources {
        let target = essex(src);
        let mut db = Db::connect(&target, Access::ReadOnly).unwrap();
        for t in db.table_names().unwrap() {
            out.insert(format!("{}:{t}", target.database.clone().unwrap_or_default()), introspect::shape(&mut db, &t).unwrap());
        }
    }
    out
}

/// The tables of a source's Essex target, sorted; none when it does not exist yet.
fn target_tables(source: &DbUrl) -> Vec<String> {
    let mut tables = Db::connect(&essex(source), Access::ReadOnly).and_then(|mut db| db.table_names()).unwrap_or_default();
    tables.sort();
    tables
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        if e.path().is_dir() {
            copy_tree(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// Back to the cloud as built, without building it again (the sources are never written): the
/// Essex targets dropped, the state directory removed, the Diablo etc/ copied back.
fn reset(root: &Path, pristine_etc: &Path, sources: &[DbUrl]) {
    for src in sources {
        let target = essex(src);
        Db::drop_database_if_exists(&target).unwrap();
        if let Some(path) = &target.path {
            // A killed SQLite run may leave its rollback journal: it must not meet a new file.
            let _ = std::fs::remove_file(format!("{}-journal", path.display()));
        }
    }
    let _ = std::fs::remove_dir_all(root.join("var/lib/osmigrate"));
    std::fs::remove_dir_all(root.join("etc")).unwrap();
    copy_tree(pristine_etc, &root.join("etc"));
}

/// Runs `migrate`, paused at the failpoint `point`, and kills it there with SIGKILL.
fn kill_at(root: &Path, point: &str) {
    use std::io::BufRead;
    use std::os::unix::process::ExitStatusExt;
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("osmigrate"))
        .args(["migrate", "--root", root.to_str().unwrap(), "--no-services", "--yes"])
        .env("OSMIGRATE_NOW", "2012-02-14 00:00:00")
        .env("OSMIGRATE_FAILPOINT", point)
        .env("OSMIGRATE_FAILPOINT_PAUSE", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap() == 0 {
            let status = child.wait().unwrap();
            panic!("{point}: the run ended ({status}) without reaching the point: {seen}");
        }
        if line.trim_end() == format!("{}{point}", osmigrate::failpoint::PAUSED) {
            break;
        }
        seen.push_str(&line);
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(9), "{point}: the run died of SIGKILL ({status})");
}

/// The points between DDL statements where a killed run leaves a table without some of its
/// indexes (after its CREATE TABLE, after each CREATE INDEX but its last), and PostgreSQL's
/// sequences made before their table.
fn ddl_points(backend: Backend) -> Vec<String> {
    let mut points = Vec::new();
    for schema in [essex::keystone(backend).unwrap(), essex::glance(backend).unwrap(), essex::nova(backend).unwrap()] {
        for t in &schema.tables {
            if backend == Backend::Postgres {
                points.extend(t.sequences.iter().map(|s| format!("ddl:sequence:{s}")));
            }
            if let Some((_, first)) = t.indexes.split_last() {
                points.push(format!("ddl:{}", t.name));
                points.extend(first.iter().map(|i| format!("ddl:{}:{}", t.name, i.name)));
            }
        }
    }
    points
}

/// A run killed (SIGKILL) between a CREATE TABLE and its CREATE INDEX statements, run again,
/// ends with the rows and the whole schema of an uninterrupted run, and verify passes; an index
/// dropped from a finished target fails verify, named, and `db migrate` run again creates it.
#[test]
fn a_run_killed_between_ddl_statements_ends_with_the_whole_schema_on_every_backend() {
    for server in support::servers() {
        let ctx = server.name();
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("cloud");
        let sources = build(&root, &server, "ddl");
        let pristine = dir.path().join("pristine-etc");
        copy_tree(&root.join("etc"), &pristine);
        let (code, _, err) = cloud("migrate", &root, &["--no-services", "--yes"]);
        assert!(code <= 1, "{ctx}: {err}");
        let (whole, whole_schema) = (snapshot(&root, &sources), schemas(&sources));
        let whole_tables: Vec<Vec<String>> = sources.iter().map(target_tables).collect();

        // Every such point on SQLite; on the servers a few kinds: a table without any of its
        // indexes (`fixed_ips`: MySQL's own), one with some (MySQL: its unique index still to
        // come), a sequence made before its table, and `instances` without the unique index on
        // `uuid` that a later table's foreign key needs (PostgreSQL).
        let all = ddl_points(server.backend);
        let points: Vec<String> = match server.backend {
            Backend::Sqlite => all.clone(),
            Backend::Mysql => {
                ["ddl:images", "ddl:image_properties:ix_image_properties_deleted", "ddl:fixed_ips"].map(String::from).to_vec()
            }
            Backend::Postgres => {
                ["ddl:sequence:images_id_seq", "ddl:image_members:ix_image_members_deleted", "ddl:instances"].map(String::from).to_vec()
            }
        };
        assert!(points.iter().all(|p| all.contains(p)), "{ctx}: {points:?} are among {all:?}");
        for point in &points {
            reset(&root, &pristine, &sources);
            kill_at(&root, point);
            if server.backend != Backend::Mysql {
                // DDL is transactional there: a target holds all of its tables or none.
                for (source, whole) in sources.iter().zip(&whole_tables) {
                    let tables = target_tables(source);
                    assert!(tables.is_empty() || tables == *whole, "{ctx} {point}: {} holds part of its schema: {tables:?}", essex(source));
                }
            }
            let (code, _, err) = cloud("migrate", &root, &["--no-services", "--yes"]);
            assert!(code <= 1, "{ctx} {point}: the next run finishes: {err}");
            let (code, verified, err) = cloud("verify", &root, &[]);
            assert_eq!(code, VERIFIED, "{ctx} {point}: {verified} {err}");
            let (after, after_schema) = (snapshot(&root, &sources), schemas(&sources));
            let differing: Vec<&String> =
                whole_schema.keys().chain(after_schema.keys()).filter(|k| whole_schema.get(*k) != after_schema.get(*k)).collect();
            assert!(differing.is_empty(), "{ctx} {point}: these tables differ from the uninterrupted run's: {differing:?}");
            let differing: Vec<&String> = whole.keys().chain(after.keys()).filter(|k| whole.get(*k) != after.get(*k)).collect();
            assert!(differing.is_empty(), "{ctx} {point}: these rows or files differ from the uninterrupted run's: {differing:?}");
        }

        // A finished target without an index: verify names it; `db migrate glance` creates it again.
        let glance = essex(&sources[1]);
        let mut db = Db::connect(&glance, Access::ReadWrite).unwrap();
        let on = if server.backend == Backend::Mysql { " ON images" } else { "" };
        db.execute(&format!("DROP INDEX {}{on}", db.quote("ix_images_deleted")), &[]).unwrap();
        drop(db);
        let (code, verified, _) = cloud("verify", &root, &[]);
        assert_eq!(code, 2, "{ctx}: {verified}");
        let failed: Vec<&Json> = verified["checks"].as_array().unwrap().iter().filter(|c| c["severity"] == "blocker").collect();
        assert_eq!(failed.len(), 1, "{ctx}: {failed:?}");
        assert_eq!(failed[0]["code"], "essex_schema", "{ctx}");
        let message = failed[0]["message"].as_str().unwrap();
        assert!(message.ends_with("table images: index ix_images_deleted (deleted) is missing"), "{ctx}: {message}");
        let (code, report, err) =
            support::run_json(&["db", "migrate", "glance", "--from", &sources[1].expose_secret(), "--to", &glance.expose_secret()]);
        assert!(code <= 1, "{ctx}: {err}");
        assert_eq!(report["outcome"], "already_complete", "{ctx}");
        let completed = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["code"] == "schema_completed")
            .unwrap_or_else(|| panic!("{ctx}: {report}"));
        assert_eq!(completed["rows"], serde_json::json!(["table images: index ix_images_deleted (deleted) is missing"]), "{ctx}");
        assert_eq!(cloud("verify", &root, &[]).0, VERIFIED, "{ctx}");
        assert!(schemas(&sources) == whole_schema, "{ctx}: the index is back as it was");
    }
}

#[test]
fn a_second_run_verify_and_rollback_are_refused_while_the_first_holds_the_lock() {
    let server = &support::servers()[0];
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cloud");
    let _cloud = build(&root, server, "lock");
    let state = root.join("var/lib/osmigrate");
    // A live holder: this test process, through the library's own lock. migrate, rollback and
    // verify are each refused with the holder's pid, and exit 2.
    let held = osmigrate::deploy::Lock::acquire(&state).unwrap();
    for command in ["migrate", "verify", "rollback"] {
        let extra: &[&str] = if command == "migrate" { &["--yes"] } else { &[] };
        let (code, _, err) = cloud(command, &root, extra);
        assert_eq!(code, 2, "{command}: {err}");
        assert!(err.contains(&format!("another osmigrate (pid {})", std::process::id())), "{command}: {err}");
        assert!(err.contains("a migration or rollback is running"), "{command}: {err}");
    }
    assert!(!state.join("journal.json").exists() && !root.join("etc/nova/nova.conf.osmigrate-backup").exists(), "nothing was done");
    drop(held);
    // A lock file left by a killed run (no holder) is no obstacle.
    std::fs::write(state.join("lock"), "999999999\n").unwrap();
    let (code, _, err) = cloud("migrate", &root, &["--no-services", "--yes"]);
    assert!(code <= 1, "{err}");
    assert!(!state.join("lock").exists(), "the lock is released");
}

#[test]
fn a_database_user_without_create_rights_is_a_blocker() {
    let Some(server) = support::servers().into_iter().find(|s| s.backend == Backend::Mysql) else { return };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cloud");
    let sources = build(&root, &server, "nocreate");
    let admin = server.url.clone().unwrap();
    let mut db = Db::connect(&admin.with_database("mysql"), Access::ReadWrite).unwrap();
    db.execute("DROP USER IF EXISTS 'limited'@'%'", &[]).unwrap();
    db.execute("CREATE USER 'limited'@'%' IDENTIFIED BY 'limited-pw'", &[]).unwrap();
    for s in sources.iter() {
        db.execute(&format!("GRANT SELECT ON `{}`.* TO 'limited'@'%'", s.database.clone().unwrap()), &[]).unwrap();
    }
    // The Nova config names the limited user.
    let conf = root.join("etc/nova/nova.conf");
    let text = std::fs::read_to_string(&conf).unwrap().replace(&sources[2].expose_secret(), &{
        let mut u = DbUrl::parse(&sources[2].expose_secret().replace("osmigrate:osmigrate-pw", "limited:limited-pw")).unwrap();
        u.query.clear();
        u.expose_secret()
    });
    std::fs::write(&conf, text).unwrap();
    let (code, check, _) = cloud("check", &root, &[]);
    assert_eq!(code, 2, "{check}");
    let blocker = check["findings"].as_array().unwrap().iter().find(|f| f["code"] == "cannot_create_database").unwrap();
    assert!(!blocker.to_string().contains("limited-pw"), "{blocker}");
    // Following the fix clears the blocker.
    let fix = blocker["fix"].as_str().unwrap();
    let name = fix.strip_prefix("create the empty database ").and_then(|r| r.split(' ').next()).unwrap();
    db.execute(&format!("CREATE DATABASE `{name}`"), &[]).unwrap();
    db.execute(&format!("GRANT ALL PRIVILEGES ON `{name}`.* TO 'limited'@'%'"), &[]).unwrap();
    let (_, check, _) = cloud("check", &root, &[]);
    let findings = check["findings"].as_array().unwrap();
    assert!(!findings.iter().any(|f| f["code"] == "cannot_create_database"), "{check}");
    db.execute(&format!("DROP DATABASE `{name}`"), &[]).unwrap();
}

#[test]
fn a_half_done_run_is_resumed_only_by_its_build_and_plan_and_a_later_flag_takes_effect() {
    let server = &support::servers()[0];
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cloud");
    let sources = build(&root, server, "journal");
    let killed = osmigrate()
        .args(["migrate", "--root", root.to_str().unwrap(), "--no-services", "--yes"])
        .env("OSMIGRATE_FAILPOINT", "deploy:nova-auth-db")
        .output()
        .unwrap();
    assert_eq!(killed.status.code(), None, "{}", String::from_utf8_lossy(&killed.stderr));
    let path = root.join("var/lib/osmigrate/journal.json");
    let journal: Json = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(journal["osmigrate"], osmigrate::VERSION, "{journal}");
    assert_eq!(journal["plan"].as_str().unwrap().len(), 16, "{journal}");
    assert!(journal["steps"]["keystone-db"].is_string(), "{journal}");

    let edited = |field: &str, value: &str| {
        let mut j = journal.clone();
        j[field] = Json::from(value);
        std::fs::write(&path, serde_json::to_vec(&j).unwrap()).unwrap();
    };
    edited("osmigrate", "0.0.9 (0123456789ab)");
    let (code, _, err) = cloud("migrate", &root, &["--no-services", "--yes"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("half-done migration") && err.contains("0.0.9 (0123456789ab)") && err.contains(osmigrate::VERSION), "{err}");
    assert!(err.contains("osmigrate rollback"), "{err}");
    edited("plan", "0000000000000000");
    let (code, _, err) = cloud("migrate", &root, &["--no-services", "--yes"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("the plan changed") && err.contains("0000000000000000"), "{err}");
    // Options are part of the plan: the same build with another flag is refused too.
    std::fs::write(&path, serde_json::to_vec(&journal).unwrap()).unwrap();
    let (code, _, err) = cloud("migrate", &root, &["--no-services", "--yes", "--create-service-users"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("the plan changed"), "{err}");

    // The same build and plan finish the run.
    let (code, done, err) = cloud("migrate", &root, &["--no-services", "--yes"]);
    assert!(code <= 1, "{err}");
    let status =
        |report: &Json, step: &str| report["steps"].as_array().unwrap().iter().find(|s| s["name"] == step).unwrap()["status"].clone();
    assert_eq!(status(&done, "keystone-db"), "already done", "{done}");
    assert_eq!(status(&done, "nova-db"), "already done", "{done}");
    assert_eq!(status(&done, "nova-auth-db"), "done", "{done}");
    // After the finished run, --create-service-users runs its step instead of being ignored.
    let (code, again, err) = cloud("migrate", &root, &["--no-services", "--yes", "--create-service-users"]);
    assert!(code <= 1, "{err}");
    assert_eq!(status(&again, "service-users"), "done", "{again}");
    assert_eq!(status(&again, "nova-db"), "already done", "{again}");
    let users = support::rows(&essex(&sources[0]), "SELECT name FROM user WHERE name IN ('nova', 'glance') ORDER BY name");
    assert_eq!(users, [["glance"], ["nova"]], "{again}");
}

/// The files a migrate report names as written under the tree's etc/.
fn written_config_files(root: &Path, report: &Json) -> BTreeSet<String> {
    let etc = root.join("etc").display().to_string();
    let configs = report["configs"].as_array().unwrap().iter().flat_map(|c| c["files"].as_array().unwrap()).map(|f| &f["path"]);
    let databases = report["databases"].as_array().unwrap().iter().flat_map(|d| d["files"].as_array().unwrap());
    configs.chain(databases).filter_map(|p| p.as_str()).filter(|p| p.starts_with(&etc)).map(str::to_string).collect()
}

#[test]
fn plan_lists_what_migrate_runs_and_writes() {
    let server = &support::servers()[0];
    for nova_auth in [false, true] {
        let _turn = if nova_auth { nova_auth_turn(server) } else { None };
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("cloud");
        let _cloud = build_cloud(&root, server, "plan", nova_auth);
        let flags = ["--no-services", "--create-service-users"];
        let (code, plan, err) = cloud("plan", &root, &flags);
        assert_eq!(code, 0, "{err}");
        let (code, migrated, err) = cloud("migrate", &root, &[&flags[..], &["--yes"]].concat());
        assert!(code <= 1, "{err}");
        let names = |r: &Json| r["steps"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap().to_string()).collect::<Vec<_>>();
        assert_eq!(names(&plan), names(&migrated), "nova_auth {nova_auth}");
        let planned: BTreeSet<String> = plan["files"].as_array().unwrap().iter().map(|f| f.as_str().unwrap().to_string()).collect();
        assert_eq!(planned, written_config_files(&root, &migrated), "nova_auth {nova_auth}: {plan}");
        assert!(planned.iter().filter(|f| f.ends_with("policy.json")).count() == 3, "{planned:?}");
        let describe = |name: &str| plan["steps"].as_array().unwrap().iter().find(|s| s["name"] == name).unwrap()["description"].clone();
        assert!(describe("service-users").as_str().unwrap().starts_with("create the Essex `service` tenant"), "{plan}");
        assert_eq!(describe("nova-auth-db").as_str().unwrap().starts_with("import Nova's own users"), nova_auth, "{plan}");
    }
}

#[test]
fn a_panic_unwinds_so_the_scratch_directory_is_removed_and_exits_70() {
    let server = &support::servers()[0];
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cloud");
    let _cloud = build(&root, server, "panic");
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    // The point is passed inside check's rehearsal, while its scratch copy of the databases exists.
    let out = osmigrate()
        .args(["check", "--root", root.to_str().unwrap()])
        .env("TMPDIR", &tmp)
        .env("OSMIGRATE_FAILPOINT", "step:images")
        .env("OSMIGRATE_FAILPOINT_PANIC", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(70), "{stderr}");
    assert!(stderr.contains("osmigrate: internal error (a bug; please report it)") && stderr.contains("step:images"), "{stderr}");
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "the scratch directory outlived the panic: {left:?}");
}

#[test]
fn check_names_what_the_migration_would_refuse() {
    let server = &support::servers()[0];
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cloud");
    let sources = build(&root, server, "refuse");
    let long = "x".repeat(70);
    Db::connect(&sources[0], Access::ReadWrite).unwrap().execute(&format!("UPDATE users SET name = '{long}' WHERE id = 7"), &[]).unwrap();
    let (code, check, _) = cloud("check", &root, &[]);
    assert_eq!(code, 2, "{check}");
    let blocker = check["findings"].as_array().unwrap().iter().find(|f| f["code"] == "keystone_db_fails").unwrap();
    assert!(blocker["message"].as_str().unwrap().contains("users row id=7, field `name`: 70 characters"), "{blocker}");
    // migrate refuses too, before writing any database.
    let (code, _, err) = cloud("migrate", &root, &["--no-services", "--yes"]);
    assert_eq!(code, 2, "{err}");
    assert!(!essex(&sources[0]).path.unwrap().exists());
}

#[test]
fn a_cloud_that_ran_novas_own_auth_moves_its_users_into_keystone_on_every_backend() {
    support::each_server(|server| {
        let ctx = server.name();
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("cloud");
        let _turn = nova_auth_turn(&server);
        let sources = build_cloud(&root, &server, "novaauth", true);
        let (code, check, err) = cloud("check", &root, &[]);
        assert!(code <= 1, "{ctx}: {err} {check}");
        let auth =
            check["findings"].as_array().unwrap().iter().find(|f| f["code"] == "auth_nova").unwrap_or_else(|| panic!("{ctx}: {check}"));
        assert!(auth["message"].as_str().unwrap().contains("5 user(s)"), "{ctx}: {auth}");
        let (_, plan, _) = cloud("plan", &root, &["--no-services"]);
        assert!(plan["steps"].as_array().unwrap().iter().any(|s| s["name"] == "nova-auth-db"), "{ctx}");

        let (code, migrated, err) = cloud("migrate", &root, &["--no-services", "--yes"]);
        assert!(code <= 1, "{ctx}: {err}");
        let (code, verified, err) = cloud("verify", &root, &[]);
        assert_eq!(code, VERIFIED, "{ctx}: {verified} {err}");
        assert!(verified["checks"].as_array().unwrap().iter().any(|c| c["code"] == "nova_users_arrived"), "{ctx}");

        // Keystone holds Nova's users under their ids, with the access strings Diablo's clients send.
        let keystone = osmigrate::deploy::discover(&root).unwrap().keystone_target;
        let q = if server.backend == Backend::Mysql { "`user`" } else { "\"user\"" };
        let users: Vec<String> = rows(&keystone, &format!("SELECT id FROM {q} ORDER BY id")).into_iter().map(|r| r[0].clone()).collect();
        for u in ["admin", "copycat", "demo", "ops", "user-0"] {
            assert!(users.contains(&u.to_string()), "{ctx}: {u} in Keystone: {users:?}");
        }
        let key = rows(&sources[2], "SELECT access_key FROM users WHERE id = 'user-0'")[0][0].clone();
        let access = rows(&keystone, &format!("SELECT access, user_id FROM ec2_credential WHERE access = '{key}:project-0'"));
        // The key copycat shares by mistake stays with the user Diablo's lookup (no ORDER BY) found:
        // `user-0`, inserted first, in SQLite's rowid and PostgreSQL's heap order; `copycat`, the
        // lower primary key, on InnoDB. The other holder is reported.
        let diablo =
            rows(&sources[2], &format!("SELECT id FROM users WHERE access_key = '{key}' AND deleted = false LIMIT 1"))[0][0].clone();
        let keeper = if server.backend == Backend::Mysql { "copycat" } else { "user-0" };
        assert_eq!(diablo, keeper, "{ctx}");
        assert_eq!(access, vec![vec![format!("{key}:project-0"), keeper.to_string()]], "{ctx}: one owner for a shared key");
        let other = if keeper == "copycat" { "user-0" } else { "copycat" };
        assert!(
            migrated.to_string().contains(&format!("`{other}` (the key stays with `{keeper}`)")),
            "{ctx}: the other holder is reported"
        );
        assert!(migrated.to_string().contains("nova-auth"), "{ctx}");

        // nova.conf now asks Keystone.
        let conf = std::fs::read_to_string(root.join("etc/nova/nova.conf")).unwrap();
        assert!(conf.lines().any(|l| l.trim() == "auth_strategy = keystone" || l.trim() == "auth_strategy=keystone"), "{ctx}: {conf}");
        let keystone_conf = std::fs::read_to_string(root.join("etc/keystone/keystone.conf")).unwrap();
        assert!(keystone_conf.contains("keystone.token.backends.sql.Token"), "{ctx}: an Essex keystone.conf was written");

        // verify checks the owner: the shared key held by the other user is a mismatch.
        let sql = format!("UPDATE ec2_credential SET user_id = '{other}' WHERE access LIKE '{key}%'");
        Db::connect(&keystone, Access::ReadWrite).unwrap().execute(&sql, &[]).unwrap();
        let (code, verified, _) = cloud("verify", &root, &[]);
        assert_eq!(code, 2, "{ctx}: {verified}");
        let keys = verified["checks"].as_array().unwrap().iter().find(|c| c["code"] == "nova_keys_arrived").unwrap();
        assert_eq!(keys["severity"], "blocker", "{ctx}: {keys}");
    });
}

/// A rollback killed after any file it restores leaves every config whole — the Diablo file or
/// the Essex one, never missing, empty or partial — and `rollback` run again ends exactly where an
/// uninterrupted rollback ends.
#[test]
fn a_rollback_killed_between_files_leaves_each_whole_and_finishes_when_run_again() {
    let server = &support::servers()[0];
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cloud");
    let _cloud = build(&root, server, "rollback");
    let diablo = snapshot(&root, &[]);
    let (code, _, err) = cloud("migrate", &root, &["--yes"]);
    assert!(code <= 1, "{err}");
    let essex = snapshot(&root, &[]);
    let (code, out, err) = cloud("rollback", &root, &[]);
    assert_eq!(code, 0, "{err}");
    let rolled_back = snapshot(&root, &[]);
    let restored: Vec<PathBuf> = out["restored"].as_array().unwrap().iter().map(|p| PathBuf::from(p.as_str().unwrap())).collect();
    assert_eq!(restored.len(), 5, "{out}");
    for file in &restored {
        let point = format!(
            "file:{}/{}",
            file.parent().unwrap().file_name().unwrap().to_string_lossy(),
            file.file_name().unwrap().to_string_lossy()
        );
        let (code, _, err) = cloud("migrate", &root, &["--yes"]);
        assert!(code <= 1, "{point}: {err}");
        assert_eq!(snapshot(&root, &[]), essex, "{point}: migrating again after a rollback writes the same files");
        let killed = osmigrate().args(["rollback", "--root", root.to_str().unwrap()]).env("OSMIGRATE_FAILPOINT", &point).output().unwrap();
        assert!(killed.status.code().is_none(), "{point}: killed there: {}", String::from_utf8_lossy(&killed.stderr));
        let now = snapshot(&root, &[]);
        assert_eq!(now.keys().collect::<Vec<_>>(), essex.keys().collect::<Vec<_>>(), "{point}: no file missing, none left over");
        for (name, text) in &now {
            assert!(!text[0][0].is_empty(), "{point}: {name} is empty");
            assert!(
                diablo.get(name) == Some(text) || essex.get(name) == Some(text),
                "{point}: {name} is neither the Diablo nor the Essex file"
            );
        }
        assert_ne!(now, essex, "{point}: the rollback had begun");
        assert_eq!(cloud("verify", &root, &[]).0, 2, "{point}: a half rolled back tree does not verify");
        let (code, _, err) = cloud("rollback", &root, &[]);
        assert_eq!(code, 0, "{point}: {err}");
        assert_eq!(snapshot(&root, &[]), rolled_back, "{point}: rollback run again ends like an uninterrupted one");
    }
}

/// A rehearsal (`--root` other than `/`) never reaches the host: no systemctl or service call even
/// without --no-services, the tree's own `--flagfile=/etc/…` include, and no `..` out of the tree.
#[test]
fn a_rehearsal_never_reaches_outside_its_tree() {
    use std::os::unix::fs::PermissionsExt;
    let server = &support::servers()[0];
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cloud");
    let sources = build(&root, server, "rehearsal");

    // The Nova database is named in an include given by its absolute host path, which only the
    // tree has.
    let conf = root.join("etc/nova/nova.conf");
    let text = std::fs::read_to_string(&conf).unwrap();
    let sql = text.lines().find(|l| l.starts_with("--sql_connection=")).unwrap().to_string();
    std::fs::write(root.join("etc/nova/nova-db.conf"), format!("{sql}\n")).unwrap();
    std::fs::write(&conf, text.replace(&sql, "--flagfile=/etc/nova/nova-db.conf")).unwrap();

    // A systemctl and a service that record every call, first in PATH.
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let calls = dir.path().join("calls");
    for tool in ["systemctl", "service"] {
        std::fs::write(bin.join(tool), format!("#!/bin/sh\necho \"{tool} $*\" >> '{}'\n", calls.display())).unwrap();
        std::fs::set_permissions(bin.join(tool), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let run = |command: &str, extra: &[&str]| {
        let out =
            osmigrate().arg(command).args(["--root", root.to_str().unwrap(), "--json"]).args(extra).env("PATH", &path).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            serde_json::from_slice::<Json>(&out.stdout).unwrap_or(Json::Null),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // `..` that climbs out of the tree: refused, naming the file and line, or the file and URL.
    let diablo_nova = std::fs::read_to_string(&conf).unwrap();
    std::fs::write(&conf, format!("{diablo_nova}--flagfile=../../../../../../../../etc/hostname\n")).unwrap();
    let (code, _, err) = run("check", &[]);
    assert_eq!(code, 2, "{err}");
    let line = diablo_nova.lines().count() + 1;
    assert!(err.contains(&format!("{}:{line}: `/etc/nova/../../", conf.display())) && err.contains("leads outside the tree"), "{err}");
    std::fs::write(&conf, &diablo_nova).unwrap();
    let registry = root.join("etc/glance/glance-registry.conf");
    let diablo_registry = std::fs::read_to_string(&registry).unwrap();
    let escape = "sqlite:////var/lib/glance/../../../../../../../tmp/glance.sqlite";
    std::fs::write(
        &registry,
        diablo_registry.replace("sql_connection = sqlite:////var/lib/glance/glance.sqlite", &format!("sql_connection = {escape}")),
    )
    .unwrap();
    let (code, _, err) = run("check", &[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!("{}: sql_connection {escape}", registry.display())) && err.contains("`..` climbs above the top of the tree"),
        "{err}"
    );
    std::fs::write(&registry, &diablo_registry).unwrap();

    // An endless include is refused at once, in bounded memory: a FIFO (opening it would wait
    // forever) and, as root, the tree's own /dev/zero.
    std::fs::create_dir_all(root.join("dev")).unwrap();
    let fifo = root.join("dev/fifo");
    rustix::fs::mknodat(rustix::fs::CWD, &fifo, rustix::fs::FileType::Fifo, rustix::fs::Mode::from_raw_mode(0o600), 0).unwrap();
    let mut endless = vec!["/dev/fifo"];
    let zero = rustix::fs::makedev(1, 5);
    if rustix::fs::mknodat(
        rustix::fs::CWD,
        root.join("dev/zero"),
        rustix::fs::FileType::CharacterDevice,
        rustix::fs::Mode::from_raw_mode(0o666),
        zero,
    )
    .is_ok()
    {
        endless.push("/dev/zero");
    }
    for include in endless {
        std::fs::write(&conf, format!("{diablo_nova}--flagfile={include}\n")).unwrap();
        let started = std::time::Instant::now();
        let out = std::process::Command::new("sh")
            .args(["-c", "ulimit -v 2000000; exec \"$0\" \"$@\"", assert_cmd::cargo::cargo_bin("osmigrate").to_str().unwrap()])
            .args(["check", "--root", root.to_str().unwrap()])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{include}: {err}");
        assert!(
            err.contains(&format!("{}: not a regular file (named at {}:{line})", root.join(&include[1..]).display(), conf.display())),
            "{include}: {err}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "{include}: refused at once");
    }
    std::fs::write(&conf, &diablo_nova).unwrap();

    let (code, check, err) = run("check", &[]);
    assert!(code <= 1, "{err}");
    let nova = check["databases"].as_array().unwrap().iter().find(|d| d["service"] == "nova").unwrap().clone();
    assert_eq!(nova["source"].as_str().unwrap(), sources[2].to_string(), "the tree's include named the database");
    let (_, plan, _) = run("plan", &[]);
    assert!(plan["steps"][0]["description"].as_str().unwrap().contains("not on a rehearsal tree"), "{plan}");
    let (code, migrated, err) = run("migrate", &["--yes"]);
    assert!(code <= 1, "{err}");
    for step in ["stop-services", "start-services"] {
        let s = migrated["steps"].as_array().unwrap().iter().find(|s| s["name"] == step).unwrap();
        assert!(s["detail"].as_str().unwrap().starts_with("not on a rehearsal tree"), "{s}");
    }
    assert_eq!(run("verify", &[]).0, VERIFIED);
    assert_eq!(run("rollback", &[]).0, 0);
    assert!(!calls.exists(), "a rehearsal called the host's service manager: {}", std::fs::read_to_string(&calls).unwrap_or_default());
}

/// What a [`osmigrate::migrate::Progress`] was told, in order.
#[derive(Default)]
struct Recorded {
    steps: std::sync::Mutex<Vec<String>>,
    rows: std::sync::atomic::AtomicU64,
}

impl osmigrate::migrate::Progress for Recorded {
    fn step(&self, name: &str) {
        self.steps.lock().unwrap().push(name.to_string());
    }

    fn rows(&self, n: u64) {
        self.rows.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    }

    fn beside(&self, step: &str) -> Box<dyn osmigrate::migrate::Progress + Send + Sync + '_> {
        Box::new(Beside { recorded: self, step: step.to_string() })
    }
}

/// What a step that runs beside the others tells its own line, recorded as `STEP/what`.
struct Beside<'a> {
    recorded: &'a Recorded,
    step: String,
}

impl osmigrate::migrate::Progress for Beside<'_> {
    fn step(&self, name: &str) {
        self.recorded.step(&format!("{}/{name}", self.step));
    }

    fn rows(&self, n: u64) {
        self.recorded.rows(n);
    }
}

/// The whole-controller migrate tells its progress (the CLI's bars on a terminal) every workflow
/// step in order, the tables within the database steps, and their rows (keystone-db's on a line
/// of its own: it runs beside glance-db and nova-db); the binary, whose stderr
/// is no terminal here, draws no bar.
#[test]
fn migrate_reports_steps_tables_and_rows_to_its_progress() {
    let server = &support::servers()[0];
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cloud");
    let _cloud = build(&root, server, "progress");
    let opts = osmigrate::deploy::MigrateOptions {
        root: root.clone(),
        state_dir: root.join("var/lib/osmigrate"),
        services: false,
        create_service_users: false,
    };
    let progress = Recorded::default();
    let osmigrate::deploy::Migrated::Done(report) = osmigrate::deploy::migrate(&opts, &progress).unwrap() else { panic!("refused") };
    let told = progress.steps.into_inner().unwrap();
    let ran: Vec<&str> = report.steps.iter().map(|s| s.name.as_str()).collect();
    let workflow: Vec<&str> = told.iter().map(String::as_str).filter(|t| ran.contains(t)).collect();
    assert_eq!(workflow, ran, "every step, in order: {told:?}");
    let nova_db = told.iter().position(|t| t == "nova-db").unwrap();
    assert!(told[nova_db + 1..].iter().any(|t| t.contains("instances")), "the tables within nova-db: {told:?}");
    assert!(told.iter().any(|t| t.starts_with("keystone-db/")), "keystone-db ran beside, on a line of its own: {told:?}");
    assert!(progress.rows.into_inner() > 0, "rows told");

    let _cloud = build(&root, server, "progress");
    let (code, _, err) = cloud("migrate", &root, &["--no-services", "--yes"]);
    assert!(code <= 1, "{err}");
    assert!(!err.contains(" rows ("), "a progress bar drawn without a terminal: {err}");
}

#[test]
fn check_warns_of_keystone_conf_keys_diablo_never_read() {
    let server = &support::servers()[0];
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cloud");
    let _cloud = build(&root, server, "headless");
    let conf = root.join("etc/keystone/keystone.conf");
    let text = std::fs::read_to_string(&conf).unwrap();
    let headless = text.replacen("[DEFAULT]\n", "", 1);
    assert_ne!(headless, text, "the tree's keystone.conf has a [DEFAULT] header");
    std::fs::write(&conf, &headless).unwrap();
    let (code, check, err) = cloud("check", &root, &[]);
    assert_eq!(code, 1, "{err}{check}");
    let line = headless.lines().position(|l| l.starts_with("verbose ")).unwrap() + 1;
    let finding = check["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "unparsable_line" && f["message"].as_str().unwrap().contains("`verbose`"))
        .unwrap_or_else(|| panic!("no unparsable_line for verbose: {check:#}"));
    assert_eq!(finding["severity"], "warning", "{finding}");
    assert!(finding["message"].as_str().unwrap().contains(&format!("line {line}")), "{finding}");
}

/// Rows put by hand into a half-made target are cleared by the run that resumes it, in a table
/// no step fills too; rows deleted from a finished target, or its saved report lost, fail verify,
/// named.
#[test]
fn hand_made_changes_to_a_target_are_cleared_on_resume_and_caught_by_verify() {
    let server = &support::servers()[0];
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cloud");
    let sources = build(&root, server, "tamper");
    kill_at(&root, "step:instances");
    let (glance, nova) = (essex(&sources[1]), essex(&sources[2]));
    let mut db = Db::connect(&nova, Access::ReadWrite).unwrap();
    db.execute("INSERT INTO instance_faults (deleted, instance_uuid, code) VALUES (0, 'by-hand', 500)", &[]).unwrap();
    drop(db);
    let (code, _, err) = cloud("migrate", &root, &["--no-services", "--yes"]);
    assert!(code <= 1, "{err}");
    assert_eq!(support::rows(&nova, "SELECT COUNT(*) FROM instance_faults")[0][0], "0", "the row put by hand is gone");
    let (code, verified, err) = cloud("verify", &root, &[]);
    assert_eq!(code, VERIFIED, "{verified} {err}");
    let kept = |v: &Json| v["checks"].as_array().unwrap().iter().filter(|c| c["code"] == "target_rows_kept").cloned().collect::<Vec<_>>();
    assert_eq!(kept(&verified).len(), 3, "one per service: {verified}");

    let blockers = |v: &Json| -> Vec<String> {
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["severity"] == "blocker")
            .map(|c| format!("{} {}", c["code"], c["message"]))
            .collect()
    };
    let mut db = Db::connect(&glance, Access::ReadWrite).unwrap();
    db.execute("DELETE FROM image_properties WHERE id = (SELECT MIN(id) FROM image_properties)", &[]).unwrap();
    drop(db);
    let (code, verified, _) = cloud("verify", &root, &[]);
    assert_eq!(code, 2, "{verified}");
    let failed = blockers(&verified);
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(failed[0].contains("target_rows_kept") && failed[0].contains("image_properties holds"), "{failed:?}");

    // A grant naming a role that is not there (a role renamed in Diablo between a killed run and
    // the run that finished it, with the roles step done) would fail every token it scopes.
    let mut db = Db::connect(&essex(&sources[0]), Access::ReadWrite).unwrap();
    let n =
        db.execute("UPDATE metadata SET data = '{\"roles\": [\"999\"]}' WHERE user_id = (SELECT MIN(user_id) FROM metadata)", &[]).unwrap();
    drop(db);
    let (code, verified, _) = cloud("verify", &root, &[]);
    assert_eq!(code, 2, "{verified}");
    let failed = blockers(&verified);
    let named = format!("roles granted that do not exist: {n}");
    assert!(n > 0 && failed.iter().any(|f| f.contains("grants_resolve") && f.contains(&named)), "{failed:?}");

    let mut db = Db::connect(&nova, Access::ReadWrite).unwrap();
    db.execute("DELETE FROM osmigrate_journal WHERE step = 'finished'", &[]).unwrap();
    drop(db);
    let (code, verified, _) = cloud("verify", &root, &[]);
    assert_eq!(code, 2, "{verified}");
    let failed = blockers(&verified);
    assert!(failed.iter().any(|f| f.contains("rows_accounted") && f.contains("no saved report")), "{failed:?}");
}

/// A target that holds tables osmigrate did not write, or a file that is no database, is a
/// blocker of `check`, named, before `migrate` would stop anything; on every backend.
#[test]
fn check_refuses_a_target_osmigrate_did_not_make_on_every_backend() {
    for server in support::servers() {
        let ctx = server.name();
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("cloud");
        let sources = build(&root, &server, "foreign");
        let glance = essex(&sources[1]);
        Db::create_database_if_missing(&glance).unwrap();
        Db::connect(&glance, Access::ReadWrite).unwrap().execute("CREATE TABLE foo (x INTEGER)", &[]).unwrap();
        if server.backend == Backend::Sqlite {
            std::fs::write(essex(&sources[2]).path.unwrap(), "not a database, by far: some bytes that SQLite cannot read").unwrap();
        }
        let (code, check, err) = cloud("check", &root, &[]);
        assert_eq!(code, 2, "{ctx}: {check} {err}");
        let refused: Vec<&str> = check["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["code"] == "target_not_ours")
            .map(|f| f["message"].as_str().unwrap())
            .collect();
        let expected = if server.backend == Backend::Sqlite { 2 } else { 1 };
        assert_eq!(refused.len(), expected, "{ctx}: {refused:?}");
        assert!(refused[0].contains("already holds 1 table(s) that osmigrate did not write (foo)"), "{ctx}: {refused:?}");
        if server.backend == Backend::Sqlite {
            assert!(refused[1].contains("the new nova database's file exists and is no SQLite database"), "{refused:?}");
        }
    }
}
