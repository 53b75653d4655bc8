//! `install`: a whole Essex or Diablo control plane from one site file, on every backend — the
//! databases at their release's schema and stamp, Keystone's bootstrap rows, every rendered file
//! (snapshots, the same on every backend once the database URLs are named), a second run that
//! changes nothing, and the rehearsal install diablo → check → migrate → verify.

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;

use osmigrate::db::{Access, Backend, Db, DbUrl};
use serde_json::Value as Json;

use crate::support::{self, Server, osmigrate};

/// The secrets of the test site: none may ever show in any output. The admin's has a blank (a
/// password keeps it), nova's a `%(` (paste files must double its `%`).
const ADMIN_PW: &str = "Adm1n secret";
const NOVA_PW: &str = "N0va-pw%(x)s";
const GLANCE_PW: &str = "Gl4nce-pw";
const TOKEN: &str = "ServiceToken-8f3a1c";
const SERVICES: [&str; 3] = ["keystone", "glance", "nova"];

/// A site under a temporary directory: its secrets, its root (with the service users in
/// etc/passwd), its databases (SQLite under the root, or uniquely named ones on the server,
/// dropped at the end, their `_essex` siblings too).
struct Site {
    _dir: tempfile::TempDir,
    root: PathBuf,
    toml_file: PathBuf,
    server: Server,
    /// The databases on the server (none for SQLite).
    names: Vec<String>,
}

impl Drop for Site {
    fn drop(&mut self) {
        if let Some(url) = &self.server.url {
            for name in &self.names {
                let _ = Db::drop_database_if_exists(&url.with_database(name));
                let _ = Db::drop_database_if_exists(&url.with_database(&format!("{name}_essex")));
            }
        }
    }
}

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

impl Site {
    fn new(server: &Server, tag: &str, extra: &str) -> Site {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let secrets = dir.path().join("secrets");
        std::fs::create_dir_all(&secrets).unwrap();
        for (name, value) in [("admin", ADMIN_PW), ("nova", NOVA_PW), ("glance", GLANCE_PW), ("token", TOKEN)] {
            std::fs::write(secrets.join(name), format!("{value}\n")).unwrap();
        }
        // The service users: real ones when root can give files away, else the runner itself.
        let me = std::fs::metadata("/proc/self").unwrap();
        let (mut passwd, mut group) = (String::new(), String::new());
        for (k, user) in SERVICES.iter().enumerate() {
            let (uid, gid) = if running_as_root() { (4101 + k as u32, 4201 + k as u32) } else { (me.uid(), me.gid()) };
            passwd.push_str(&format!("{user}:x:{uid}:{gid}::/var/lib/{user}:/bin/false\n"));
            group.push_str(&format!("{user}:x:{gid}:\n"));
        }
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.join("etc/passwd"), passwd).unwrap();
        std::fs::write(root.join("etc/group"), group).unwrap();
        let names: Vec<String> = match &server.url {
            None => Vec::new(),
            Some(_) => SERVICES.iter().map(|s| format!("osm_inst_{tag}_{}_{s}", std::process::id())).collect(),
        };
        let database = match &server.url {
            None => "server = \"sqlite\"\n".to_string(),
            Some(url) => format!(
                "server = \"{}\"\nnames = {{ keystone = \"{}\", glance = \"{}\", nova = \"{}\" }}\n",
                url.expose_secret(),
                names[0],
                names[1],
                names[2]
            ),
        };
        let site = dir.path().join("site.toml");
        std::fs::write(
            &site,
            format!(
                "region = \"RegionOne\"\n\n[hosts]\ncontroller = \"192.0.2.10\"\n\n[database]\n{database}\n\
                 [passwords]\nadmin_file = \"secrets/admin\"\nnova_file = \"secrets/nova\"\nglance_file = \"secrets/glance\"\n\
                 admin_token_file = \"secrets/token\"\n{extra}"
            ),
        )
        .unwrap();
        std::fs::set_permissions(&site, std::fs::Permissions::from_mode(0o600)).unwrap();
        let s = Site { _dir: dir, root, toml_file: site, server: server.clone(), names };
        for url in s.urls() {
            Db::drop_database_if_exists(&url).unwrap();
        }
        s
    }

    /// The databases as osmigrate reaches them: keystone, glance, nova.
    fn urls(&self) -> Vec<DbUrl> {
        match &self.server.url {
            None => ["keystone/keystone.db", "glance/glance.sqlite", "nova/nova.sqlite"]
                .iter()
                .map(|p| DbUrl::sqlite(&self.root.join("var/lib").join(p)))
                .collect(),
            Some(url) => self.names.iter().map(|n| url.with_database(n)).collect(),
        }
    }

    /// The databases as the config files name them.
    fn config_urls(&self) -> Vec<String> {
        match &self.server.url {
            None => ["keystone/keystone.db", "glance/glance.sqlite", "nova/nova.sqlite"]
                .iter()
                .map(|p| format!("sqlite:////var/lib/{p}"))
                .collect(),
            Some(_) => self.urls().iter().map(DbUrl::expose_secret).collect(),
        }
    }

    fn install(&self, release: &str) -> (i32, Json, String) {
        let out = osmigrate()
            .args(["install", "--release", release, "--site"])
            .arg(&self.toml_file)
            .arg("--root")
            .arg(&self.root)
            .arg("--json")
            .output()
            .unwrap();
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
        assert_no_secret(&format!("{stdout}{stderr}"));
        let json = serde_json::from_str(&stdout).unwrap_or(Json::Null);
        (out.status.code().unwrap_or(-1), json, stderr)
    }

    fn keystone(&self, args: &[&str]) -> Json {
        let out = osmigrate().args(["keystone", "--db", &self.urls()[0].expose_secret(), "--json"]).args(args).output().unwrap();
        assert!(out.status.success(), "keystone {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Every file under etc/ and root/ with its bytes, each checked to be 0640.
    fn files(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let mut dirs = vec![self.root.join("etc"), self.root.join("root")];
        while let Some(d) = dirs.pop() {
            let Ok(entries) = std::fs::read_dir(&d) else { continue };
            for e in entries.flatten() {
                let path = e.path();
                let rel = path.strip_prefix(&self.root).unwrap().display().to_string();
                if path.is_dir() {
                    dirs.push(path);
                } else if rel != "etc/passwd" && rel != "etc/group" {
                    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
                    assert_eq!(mode, 0o640, "{rel}");
                    out.insert(rel, std::fs::read_to_string(&path).unwrap());
                }
            }
        }
        out
    }

    /// A file's text with the database URLs named, so that every backend renders the same text.
    fn normalized(&self, text: &str) -> String {
        let mut text = text.to_string();
        for (url, service) in self.config_urls().iter().zip(SERVICES) {
            text = text.replace(url.as_str(), &format!("<{service} database>"));
        }
        text
    }

    fn version(&self, k: usize, repository: &str) -> Option<i64> {
        let mut db = Db::connect(&self.urls()[k], Access::ReadOnly).unwrap();
        if !db.table_names().unwrap().iter().any(|t| t == "migrate_version") {
            return None;
        }
        db.query_scalar("SELECT version FROM migrate_version WHERE repository_id = ?", &[repository.into()]).unwrap().as_i64()
    }

    /// Row counts of the given tables of database `k`.
    fn counts(&self, k: usize, tables: &[&str]) -> Vec<i64> {
        let mut db = Db::connect(&self.urls()[k], Access::ReadOnly).unwrap();
        tables.iter().map(|t| db.query_scalar(&format!("SELECT COUNT(*) FROM {}", db.quote(t)), &[]).unwrap().as_i64().unwrap()).collect()
    }
}

fn assert_no_secret(output: &str) {
    for secret in [ADMIN_PW, NOVA_PW, GLANCE_PW, TOKEN] {
        assert!(!output.contains(secret), "a secret in the output: {output}");
    }
}

fn statuses(report: &Json) -> Vec<String> {
    report["items"].as_array().unwrap().iter().map(|i| i["status"].as_str().unwrap().to_string()).collect()
}

fn items(report: &Json, kind: &str) -> Vec<String> {
    report["items"].as_array().unwrap().iter().filter(|i| i["kind"] == kind).map(|i| i["name"].as_str().unwrap().to_string()).collect()
}

/// (tenant, user, role) of every grant `user-role-list` shows.
fn grants(list: &Json) -> Vec<(String, String, String)> {
    let name = |g: &Json, k: &str| g[k]["name"].as_str().unwrap().to_string();
    list.as_array().unwrap().iter().map(|g| (name(g, "tenant"), name(g, "user"), name(g, "role"))).collect()
}

fn grant(tenant: &str, user: &str, role: &str) -> (String, String, String) {
    (tenant.into(), user.into(), role.into())
}

/// A second run: nothing created, every file byte for byte the same, no row added.
fn assert_second_run_changes_nothing(site: &Site, release: &str, before: &BTreeMap<String, String>, tables: &[(usize, &[&str])]) {
    let ctx = site.server.name();
    let rows: Vec<Vec<i64>> = tables.iter().map(|(k, t)| site.counts(*k, t)).collect();
    let (code, again, err) = site.install(release);
    assert_eq!(code, 0, "{ctx}: {err}");
    assert!(statuses(&again).iter().all(|s| s == "existing"), "{ctx}: {again}");
    assert!(again["files"]["files"].as_array().unwrap().iter().all(|f| f["unchanged"] == true), "{ctx}: {again}");
    assert_eq!(&site.files(), before, "{ctx}: a second run rewrote a file");
    assert_eq!(tables.iter().map(|(k, t)| site.counts(*k, t)).collect::<Vec<_>>(), rows, "{ctx}: a second run added rows");
}

#[test]
fn essex_install_on_every_backend_and_again() {
    support::each_server(|server| {
        let ctx = server.name();
        let site = Site::new(&server, "essex", "\n[ec2]\nusers = [\"admin\"]\n");
        let (code, report, err) = site.install("essex");
        assert_eq!(code, 0, "{ctx}: {report} {err}");
        assert!(statuses(&report).iter().all(|s| s == "created"), "{ctx}: {report}");
        assert_eq!(items(&report, "database").len(), 3, "{ctx}");

        // The schemas, stamped as Essex's own tooling stamps them.
        assert_eq!(site.version(0, "keystone"), Some(1), "{ctx}");
        assert_eq!(site.version(1, "Glance Migrations"), Some(13), "{ctx}");
        assert_eq!(site.version(2, "nova"), Some(82), "{ctx}");

        // Keystone's bootstrap, read back with the admin client.
        let mut g = grants(&site.keystone(&["user-role-list"]));
        g.sort();
        assert_eq!(
            g,
            vec![
                grant("admin", "admin", "Admin"),
                grant("service", "glance", "Admin"),
                grant("service", "nova", "Admin"),
                grant("systenant", "admin", "Admin")
            ],
            "{ctx}"
        );
        let names = |v: Json| v.as_array().unwrap().iter().map(|x| x["name"].as_str().unwrap().to_string()).collect::<Vec<_>>();
        assert_eq!(names(site.keystone(&["role-list"])), ["Admin", "Member"], "{ctx}");
        assert_eq!(names(site.keystone(&["tenant-list"])), ["admin", "service", "systenant"], "{ctx}");
        let users = site.keystone(&["user-list"]);
        assert_eq!(names(users.clone()), ["admin", "glance", "nova"], "{ctx}");
        let service_tenant = site.keystone(&["get-id", "tenant", "service"])["id"].clone();
        assert!(users.as_array().unwrap().iter().filter(|u| u["name"] != "admin").all(|u| u["tenant_id"] == service_tenant), "{ctx}");
        let mut db = Db::connect(&site.urls()[0], Access::ReadOnly).unwrap();
        let sql = format!("SELECT name, extra FROM {} ORDER BY name", db.quote("user"));
        for r in db.query(&sql, &[]).unwrap() {
            let extra: Json = serde_json::from_str(r.get("extra").as_str().unwrap()).unwrap();
            let pw = match r.get("name").as_str().unwrap() {
                "admin" => ADMIN_PW,
                "glance" => GLANCE_PW,
                _ => NOVA_PW,
            };
            assert!(osmigrate::essex_keystone::password::verify(pw, extra["password"].as_str().unwrap()), "{ctx}: {extra}");
        }

        // EC2: one key pair for admin on admin, its rc file holding exactly that one.
        let creds = site.keystone(&["ec2-credentials-list", "--user", "admin"]);
        let creds = creds.as_array().unwrap();
        assert_eq!(creds.len(), 1, "{ctx}");
        assert_eq!(creds[0]["tenant"]["name"], "admin");
        let rc = std::fs::read_to_string(site.root.join("root/ec2rc-admin")).unwrap();
        assert!(rc.contains(&format!("export EC2_ACCESS_KEY={}\n", creds[0]["access"].as_str().unwrap())), "{ctx}: {rc}");
        assert!(rc.contains("export EC2_URL=http://192.0.2.10:8773/services/Cloud"), "{ctx}");
        let secret = rc.lines().find_map(|l| l.strip_prefix("export EC2_SECRET_KEY=")).unwrap().to_string();
        assert!(!report.to_string().contains(&secret), "{ctx}: the EC2 secret is only in its file");

        // The catalog: the SQL tables and the templates file give the same endpoints; services are
        // named as a migration names them (SQL: the legacy name, the file: the description).
        let templates = site.root.join("etc/keystone/default_catalog.templates");
        let (mut sql_catalog, mut file_catalog) =
            (site.keystone(&["catalog"]), site.keystone(&["catalog", "--catalog-templates", templates.to_str().unwrap()]));
        let take_names = |catalog: &mut Json| -> Vec<String> {
            let entries = catalog.as_array_mut().unwrap();
            entries.iter_mut().map(|e| e.as_object_mut().unwrap().remove("name").unwrap().as_str().unwrap().to_string()).collect()
        };
        assert_eq!(take_names(&mut sql_catalog), ["nova", "ec2", "keystone", "glance", "nova-volume"], "{ctx}");
        assert_eq!(
            take_names(&mut file_catalog),
            ["Compute Service", "EC2 Service", "Identity Service", "Image Service", "Volume Service"]
        );
        assert_eq!(sql_catalog, file_catalog, "{ctx}");
        let types: Vec<&str> = sql_catalog.as_array().unwrap().iter().map(|e| e["service_type"].as_str().unwrap()).collect();
        assert_eq!(types, ["compute", "ec2", "identity", "image", "volume"], "{ctx}");

        // Nova's flavors, as `nova-manage db sync` leaves them (libvirt).
        let mut nova = Db::connect(&site.urls()[2], Access::ReadOnly).unwrap();
        let flavors: Vec<String> = nova
            .query("SELECT name, root_gb, ephemeral_gb, rxtx_factor, flavorid FROM instance_types ORDER BY id", &[])
            .unwrap()
            .iter()
            .map(|r| r.values().iter().map(support::show).collect::<Vec<_>>().join(" "))
            .collect();
        assert_eq!(
            flavors,
            ["m1.medium 10 40 1 3", "m1.tiny 0 0 1 1", "m1.large 10 80 1 4", "m1.xlarge 10 160 1 5", "m1.small 10 20 1 2"],
            "{ctx}"
        );

        // Every file, the same on every backend once the database URLs are named.
        let files = site.files();
        let mut rendered: Vec<&String> = files.keys().filter(|f| f.starts_with("etc/") && !f.ends_with("policy.json")).collect();
        rendered.sort();
        assert_eq!(rendered.len(), 8, "{ctx}: {rendered:?}");
        for rel in rendered {
            let name = format!("essex_{}", rel.trim_start_matches("etc/").replace('/', "_"));
            insta::assert_snapshot!(name, site.normalized(&files[rel]));
        }
        for service in SERVICES {
            assert!(files.contains_key(&format!("etc/{service}/policy.json")), "{ctx}");
        }
        if running_as_root() {
            assert_eq!(std::fs::metadata(site.root.join("etc/glance/glance-api.conf")).unwrap().uid(), 4102, "{ctx}");
            if server.backend == Backend::Sqlite {
                assert_eq!(std::fs::metadata(site.root.join("var/lib/nova/nova.sqlite")).unwrap().uid(), 4103, "{ctx}");
            }
        }

        let keystone_tables: &[&str] =
            &["user", "tenant", "role", "metadata", "user_tenant_membership", "ec2_credential", "service", "endpoint"];
        assert_second_run_changes_nothing(&site, "essex", &files, &[(0, keystone_tables), (2, &["instance_types"])]);
    });
}

#[test]
fn diablo_install_is_a_rehearsal_check_migrate_verify() {
    support::each_server(|server| {
        let ctx = server.name();
        let site = Site::new(&server, "diablo", "\n[ec2]\nusers = [\"admin\"]\n");
        let (code, report, err) = site.install("diablo");
        assert_eq!(code, 0, "{ctx}: {report} {err}");
        assert!(statuses(&report).iter().all(|s| s == "created"), "{ctx}: {report}");

        // The legacy Keystone as Diablo's keystone-manage bootstrap leaves it.
        let legacy = ["tenants", "users", "roles", "user_roles", "services", "endpoint_templates", "token", "credentials"];
        assert_eq!(site.counts(0, &legacy), [2, 3, 4, 6, 4, 4, 1, 1], "{ctx}");
        let globals = support::rows(
            &site.urls()[0],
            "SELECT r.name FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE ur.tenant_id IS NULL ORDER BY r.name",
        );
        assert_eq!(globals.concat(), ["Admin", "KeystoneAdmin", "KeystoneServiceAdmin"], "{ctx}");
        assert_eq!(support::rows(&site.urls()[0], "SELECT id FROM token"), [[TOKEN.to_string()]], "{ctx}");
        let glance_stamp = if server.backend == Backend::Postgres { None } else { Some(9) };
        assert_eq!(site.version(1, "Glance Migrations"), glance_stamp, "{ctx}");
        assert_eq!(site.version(2, "nova"), Some(46), "{ctx}");
        assert_eq!(site.counts(2, &["instance_types"]), [5], "{ctx}");

        let files = site.files();
        let rendered: Vec<&String> = files.keys().filter(|f| f.starts_with("etc/")).collect();
        assert_eq!(rendered.len(), 5, "{ctx}: {rendered:?}");
        for rel in rendered {
            let name = format!("diablo_{}", rel.trim_start_matches("etc/").replace('/', "_"));
            insta::assert_snapshot!(name, site.normalized(&files[rel]));
        }
        let legacy_tables: &[&str] = &legacy;
        assert_second_run_changes_nothing(&site, "diablo", &files, &[(0, legacy_tables), (2, &["instance_types"])]);

        // The rehearsal: the Diablo controller just installed migrates and verifies.
        let run = |command: &str, extra: &[&str]| {
            let out = osmigrate().arg(command).arg("--root").arg(&site.root).arg("--json").args(extra).output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            assert_no_secret(&format!("{}{stderr}", String::from_utf8_lossy(&out.stdout)));
            (out.status.code().unwrap_or(-1), stderr)
        };
        let (code, err) = run("check", &[]);
        assert!(code <= 1, "{ctx}: check {code}: {err}");
        let (code, err) = run("migrate", &["--no-services", "--yes"]);
        assert!(code <= 1, "{ctx}: migrate {code}: {err}");
        let (code, err) = run("verify", &[]);
        assert_eq!(code, 0, "{ctx}: verify: {err}");
        // The admin's global roles are on systenant now, and the service token still works.
        let essex = osmigrate::deploy::discover::essex_target(&site.urls()[0]);
        let out = osmigrate()
            .args(["keystone", "--db", &essex.expose_secret(), "--json", "user-role-list", "--tenant", "systenant"])
            .output()
            .unwrap();
        let on_systenant = grants(&serde_json::from_slice(&out.stdout).unwrap());
        assert_eq!(on_systenant.len(), 3, "{ctx}: {on_systenant:?}");
        let keystone_conf = std::fs::read_to_string(site.root.join("etc/keystone/keystone.conf")).unwrap();
        assert!(keystone_conf.contains(&format!("admin_token = {TOKEN}\n")), "{ctx}");
    });
}

#[test]
fn a_site_without_a_password_is_bad_usage_and_a_foreign_database_is_refused() {
    let server = Server { backend: Backend::Sqlite, url: None };
    let site = Site::new(&server, "refuse", "");
    let text = std::fs::read_to_string(&site.toml_file).unwrap().replace("glance_file = \"secrets/glance\"\n", "");
    std::fs::write(&site.toml_file, text).unwrap();
    let (code, _, err) = site.install("essex");
    assert_eq!(code, 64, "{err}");
    assert!(err.contains("[passwords] glance_file is missing"), "{err}");
    assert!(!site.root.join("var/lib/keystone").exists(), "nothing is made before the site is read");

    let site = Site::new(&server, "refuse", "");
    let nova = site.root.join("var/lib/nova/nova.sqlite");
    std::fs::create_dir_all(nova.parent().unwrap()).unwrap();
    Db::connect(&DbUrl::sqlite(&nova), Access::ReadWrite).unwrap().execute("CREATE TABLE mine (id INTEGER)", &[]).unwrap();
    let (code, _, err) = site.install("essex");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is not the Essex Nova schema") && err.contains("give an empty or new database"), "{err}");

    // An Essex database is not taken for a Diablo one.
    let site = Site::new(&server, "refuse", "");
    assert_eq!(site.install("essex").0, 0);
    let (code, _, err) = site.install("diablo");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is not the Diablo Keystone schema"), "{err}");
}

#[test]
fn inline_secrets_in_a_readable_site_file_are_warned_about_never_shown() {
    let server = Server { backend: Backend::Sqlite, url: None };
    let site = Site::new(&server, "inline", "");
    let text =
        std::fs::read_to_string(&site.toml_file).unwrap().replace("glance_file = \"secrets/glance\"", &format!("glance = \"{GLANCE_PW}\""));
    std::fs::write(&site.toml_file, text).unwrap();
    std::fs::set_permissions(&site.toml_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, report, _) = site.install("essex");
    assert_eq!(code, 1);
    let warnings = report["warnings"].to_string();
    assert!(warnings.contains("[passwords] glance is written in the site file"), "{warnings}");
    let paste = std::fs::read_to_string(site.root.join("etc/glance/glance-api-paste.ini")).unwrap();
    assert!(paste.contains(&format!("admin_password = {GLANCE_PW}\n")));
}

#[test]
fn a_user_kept_with_another_password_than_the_sites_is_warned_about() {
    let server = Server { backend: Backend::Sqlite, url: None };
    for release in ["essex", "diablo"] {
        let site = Site::new(&server, "repw", "");
        assert_eq!(site.install(release).0, 0, "{release}");
        std::fs::write(site.toml_file.parent().unwrap().join("secrets/nova"), "An0ther-pw\n").unwrap();
        let (code, report, _) = site.install(release);
        assert_eq!(code, 1, "{release}: {report}");
        let warnings = report["warnings"].to_string();
        assert!(warnings.contains("user `nova` was already there with a password other than the site's"), "{release}: {warnings}");
        assert!(!warnings.contains("An0ther-pw"), "{release}");
        assert_eq!(report["warnings"].as_array().unwrap().len(), 1, "{release}: only nova's changed: {warnings}");
    }
}

#[test]
fn a_schema_cut_short_is_made_again() {
    let server = Server { backend: Backend::Sqlite, url: None };
    let site = Site::new(&server, "cut", "");
    let nova = site.urls()[2].clone();
    std::fs::create_dir_all(nova.path.as_ref().unwrap().parent().unwrap()).unwrap();
    let out = osmigrate().args(["db", "create", "nova", "--release", "essex", &nova.expose_secret()]).output().unwrap();
    assert!(out.status.success());
    // Killed before the stamp: every table, no row, no stamp.
    Db::connect(&nova, Access::ReadWrite).unwrap().execute("DELETE FROM migrate_version", &[]).unwrap();
    let (code, report, err) = site.install("essex");
    assert_eq!(code, 0, "{err}");
    assert!(statuses(&report).iter().all(|s| s == "created"), "{report}");
    assert_eq!(site.version(2, "nova"), Some(82));
}
