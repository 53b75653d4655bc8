//! Shared test plumbing: which database servers are available, fresh databases on each, the
//! upstream fixtures loaded onto any backend, and the binary.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use osmigrate::db::introspect;
use osmigrate::db::{Access, Backend, Db, DbUrl, OnConflict, Value};
use osmigrate::schema::{ColType, Column, Table};

pub fn reference_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// A place to create databases: SQLite files in a temporary directory, or a server.
#[derive(Clone)]
pub struct Server {
    pub backend: Backend,
    /// Server URL without a database name (None for SQLite).
    pub url: Option<DbUrl>,
}

impl Server {
    pub fn name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "sqlite",
            Backend::Mysql => "mysql",
            Backend::Postgres => "postgresql",
        }
    }
}

/// SQLite always; MariaDB and PostgreSQL when `scripts/test` started them. Under CI a missing
/// server fails the test instead of skipping it.
pub fn servers() -> Vec<Server> {
    let mut out = vec![Server { backend: Backend::Sqlite, url: None }];
    for (var, backend) in [("OSMIGRATE_TEST_MYSQL_URL", Backend::Mysql), ("OSMIGRATE_TEST_POSTGRES_URL", Backend::Postgres)] {
        match std::env::var(var) {
            Ok(u) if !u.is_empty() => out.push(Server { backend, url: Some(DbUrl::parse(&u).expect("server URL parses")) }),
            _ => {
                assert!(std::env::var_os("CI").is_none(), "{var} is not set but CI is: the {backend} tests must run (use scripts/test)");
                eprintln!("note: {var} not set, {backend} part skipped (run scripts/test for every backend)");
            }
        }
    }
    out
}

/// Runs `case` on every available backend at once, each on its own thread, so that one backend's
/// failure neither hides nor stops another's; then fails naming every backend that failed.
pub fn each_server(case: impl Fn(Server) + Sync) {
    let servers = servers();
    let failed: Vec<String> = std::thread::scope(|scope| {
        let running: Vec<_> = servers
            .into_iter()
            .map(|server| {
                let name = server.name();
                let case = &case;
                (name, std::thread::Builder::new().name(name.into()).spawn_scoped(scope, move || case(server)).expect("spawn"))
            })
            .collect();
        running
            .into_iter()
            .filter_map(|(name, thread)| {
                let panic = thread.join().err()?;
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(ToString::to_string))
                    .unwrap_or_default();
                Some(format!("{name}: {message}"))
            })
            .collect()
    });
    assert!(failed.is_empty(), "failed on {} backend(s):\n{}", failed.len(), failed.join("\n"));
}

/// A database that does not exist yet (dropped if a previous run left it), removed on drop.
pub struct FreshDb {
    pub url: DbUrl,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for FreshDb {
    fn drop(&mut self) {
        if self.url.backend != Backend::Sqlite && std::env::var_os("OSMIGRATE_TEST_KEEP").is_none() {
            let _ = Db::drop_database_if_exists(&self.url);
        }
    }
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub fn fresh_db(server: &Server, label: &str) -> FreshDb {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let name = format!("osm_{}_{}_{}", label, std::process::id(), n);
    match &server.url {
        None => {
            let dir = tempfile::tempdir().expect("tempdir");
            let url = DbUrl::sqlite(&dir.path().join(format!("{name}.sqlite")));
            FreshDb { url, _dir: Some(dir) }
        }
        Some(server_url) => {
            let url = server_url.with_database(&name);
            Db::drop_database_if_exists(&url).expect("drop old test database");
            FreshDb { url, _dir: None }
        }
    }
}

/// A fresh database holding one of the upstream legacy Keystone fixtures (`d5`, `diablo`, `essex`).
pub fn keystone_fixture(server: &Server, fixture: &str) -> FreshDb {
    let db = fresh_db(server, &format!("ks_{fixture}"));
    let dir = reference_dir().join("keystone-fixtures");
    match server.backend {
        Backend::Sqlite => load_script(&db.url, &dir.join(format!("legacy_{fixture}.sqlite"))),
        Backend::Mysql => {
            Db::create_database_if_missing(&db.url).unwrap();
            load_script(&db.url, &dir.join(format!("legacy_{fixture}.mysql")));
        }
        Backend::Postgres => {
            // There is no PostgreSQL dump upstream: load the SQLite one and copy it over, with
            // booleans where a PostgreSQL Diablo has them.
            let tmp = tempfile::tempdir().unwrap();
            let lite = DbUrl::sqlite(&tmp.path().join("f.sqlite"));
            load_script(&lite, &dir.join(format!("legacy_{fixture}.sqlite")));
            Db::create_database_if_missing(&db.url).unwrap();
            copy_tables(&lite, &db.url, &["enabled@endpoint_templates", "is_global@endpoint_templates"]);
        }
    }
    db
}

pub fn load_script(url: &DbUrl, path: &Path) {
    let script = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut db = Db::connect(url, Access::ReadWrite).unwrap();
    db.execute_script(&script).unwrap_or_else(|e| panic!("loading {}: {e}", path.display()));
}

/// Copies every table of one database into another, column types mapped by name (`boolean_columns`
/// lists `column@table` that become BOOLEAN).
pub fn copy_tables(from: &DbUrl, to: &DbUrl, boolean_columns: &[&str]) {
    let mut src = Db::connect(from, Access::ReadOnly).unwrap();
    let mut dst = Db::connect(to, Access::ReadWrite).unwrap();
    for name in src.table_names().unwrap() {
        let cols = introspect::columns(&mut src, &name).unwrap();
        let columns: Vec<Column> = cols
            .iter()
            .map(|c| {
                let t = c.ty.to_ascii_lowercase();
                let ty = if boolean_columns.contains(&format!("{}@{name}", c.name).as_str()) {
                    ColType::Boolean
                } else if t.contains("int") {
                    ColType::Integer
                } else if let Some(n) = t.strip_prefix("varchar(").and_then(|r| r.strip_suffix(')')) {
                    ColType::String(n.parse().unwrap())
                } else if t.contains("date") || t.contains("time") {
                    ColType::DateTime
                } else {
                    ColType::Text
                };
                Column { name: c.name.clone(), ty, nullable: c.nullable, default: None, autoincrement: false, secret: false }
            })
            .collect();
        let pk = if cols.iter().any(|c| c.name == "id") { vec!["id".to_string()] } else { vec![] };
        let table = Table { columns, primary_key: pk, ..Table::new(&name) };
        dst.create_table(&table).unwrap();
        let names: Vec<&str> = table.column_names();
        let rows: Vec<Vec<Value>> = src
            .query(&format!("SELECT * FROM {}", src.quote(&name)), &[])
            .unwrap()
            .into_iter()
            .map(osmigrate::db::Row::into_values)
            .collect();
        dst.insert_rows(&table, &names, &rows, OnConflict::Fail).unwrap();
    }
}

/// All rows of a query, each value rendered as text (`NULL` for null).
pub fn rows(url: &DbUrl, sql: &str) -> Vec<Vec<String>> {
    let mut db = Db::connect(url, Access::ReadOnly).unwrap();
    db.query(sql, &[]).unwrap().into_iter().map(|r| r.values().iter().map(show).collect()).collect()
}

/// The `osmigrate` binary, with a fixed "now" and no colour or progress.
pub fn osmigrate() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("osmigrate").unwrap();
    cmd.env("OSMIGRATE_NOW", "2012-02-14 00:00:00").env_remove("OSMIGRATE_LOG");
    cmd
}

/// Runs the binary and parses its JSON report.
pub fn run_json(args: &[&str]) -> (i32, serde_json::Value, String) {
    let out = osmigrate().args(args).arg("--json").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let code = out.status.code().unwrap_or(-1);
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}); exit {code}; stderr: {stderr}"));
    (code, json, stderr)
}

/// A fresh database holding the generator's small legacy Keystone, changed by `sql` statements.
pub fn generated_keystone(server: &Server, label: &str, sql: &[&str]) -> FreshDb {
    let fresh = fresh_db(server, label);
    Db::create_database_if_missing(&fresh.url).unwrap();
    let mut db = Db::connect(&fresh.url, Access::ReadWrite).unwrap();
    let mut shape = osmigrate::generate::keystone::Shape::demo();
    shape.now = osmigrate::db::value::parse_datetime("2012-02-14 00:00:00").unwrap();
    osmigrate::generate::keystone::generate(&mut db, &shape).unwrap();
    for s in sql {
        db.execute(s, &[]).unwrap_or_else(|e| panic!("{s}: {e}"));
    }
    fresh
}

/// Runs `db migrate keystone` from one URL to another; returns (exit code, stdout, stderr).
pub fn migrate_keystone(from: &DbUrl, to: &DbUrl, extra: &[&str]) -> (i32, String, String) {
    let out = osmigrate()
        .args(["db", "migrate", "keystone", "--from", &from.expose_secret(), "--to", &to.expose_secret()])
        .args(extra)
        .output()
        .unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// A value as text, the same on every backend: datetimes as SQLAlchemy writes them to SQLite.
pub fn show(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::DateTime(d) => osmigrate::db::value::sqlite_datetime_text(d),
        Value::Text(t) => match osmigrate::db::value::parse_datetime(t) {
            Some(d) if t.len() >= 19 && t.as_bytes()[4] == b'-' => osmigrate::db::value::sqlite_datetime_text(&d),
            _ => t.clone(),
        },
        other => other.key_string().unwrap_or_else(|| format!("{other:?}")),
    }
}
