//! check foresees, migrate refuses, verify proves: `check`'s findings and `migrate`'s report agree
//! (codes and counts) on Keystone and Nova-auth clouds on every backend; every late failure of the
//! past is a blocker `migrate` refuses up front with, changing nothing in the tree; `verify` checks
//! that the Essex services can open every file their configs name; the new databases belong to the
//! service users.

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use osmigrate::db::{Access, Backend, Db};
use serde_json::Value as Json;

use super::{build, build_cloud, cloud, essex, nova_auth_turn};
use crate::support::{self, Server};

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// Every entry under `root`: its type, mode and contents (what `migrate` must leave alone).
fn tree(root: &Path) -> BTreeMap<String, (u32, Vec<u8>)> {
    let mut out = BTreeMap::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let meta = std::fs::symlink_metadata(e.path()).unwrap();
            let rel = e.path().strip_prefix(root).unwrap().display().to_string();
            if meta.is_dir() {
                dirs.push(e.path());
                out.insert(rel, (meta.mode(), Vec::new()));
            } else {
                out.insert(rel, (meta.mode(), std::fs::read(e.path()).unwrap_or_default()));
            }
        }
    }
    out
}

fn findings(check: &Json) -> &Vec<Json> {
    check["findings"].as_array().unwrap()
}

/// `check` exits 2 with the blocker `code` (returned), and `migrate` refuses with it, writing nothing.
fn refused_up_front(root: &Path, code: &str) -> Json {
    let before = tree(root);
    let (status, check, err) = cloud("check", root, &[]);
    assert_eq!(status, 2, "check: {err} {check:#}");
    let blocker = findings(&check)
        .iter()
        .find(|f| f["code"] == code && f["severity"] == "blocker")
        .unwrap_or_else(|| panic!("no blocker {code}: {check:#}"))
        .clone();
    assert!(!blocker["fix"].as_str().unwrap().is_empty(), "{blocker}");
    let (status, _, err) = cloud("migrate", root, &["--no-services", "--yes"]);
    assert_eq!(status, 2, "migrate: {err}");
    // Rendered as every finding is: the verdict first, the blocker under its code, its fix.
    assert!(err.starts_with("migrate: refused — "), "{err}");
    assert!(err.contains(&format!("  blocker {code} (")) && err.contains("nothing was changed"), "{err}");
    assert!(err.contains(&format!("fix: {}", blocker["fix"].as_str().unwrap())), "{err}");
    let after = tree(root);
    let changed: Vec<&String> =
        after.keys().filter(|k| after.get(*k) != before.get(*k)).chain(before.keys().filter(|k| !after.contains_key(*k))).collect();
    assert!(changed.is_empty(), "check and a refused migrate changed {changed:?}");
    blocker
}

/// (step, code, count) of everything the migration reported, and of what check foresaw.
type Tally = BTreeMap<(String, String), u64>;

fn migration_tally(migrated: &Json) -> Tally {
    let mut t = Tally::new();
    for db in migrated["databases"].as_array().unwrap() {
        for f in db["findings"].as_array().unwrap() {
            *t.entry((format!("{}-db", db["service"].as_str().unwrap()), f["code"].as_str().unwrap().into())).or_default() +=
                f["count"].as_u64().unwrap();
        }
    }
    for c in migrated["configs"].as_array().unwrap() {
        for change in c["changes"].as_array().unwrap().iter().filter(|ch| ch["severity"] == "warning") {
            *t.entry((c["command"].as_str().unwrap().into(), change["code"].as_str().unwrap().into())).or_default() += 1;
        }
    }
    t
}

fn check_tally(check: &Json) -> Tally {
    let mut t = Tally::new();
    for f in findings(check).iter().filter(|f| f["reported_by"].is_string() && f["count"].is_u64()) {
        *t.entry((f["reported_by"].as_str().unwrap().into(), f["code"].as_str().unwrap().into())).or_default() +=
            f["count"].as_u64().unwrap();
    }
    t
}

/// What a Diablo cloud holds that migrate reports and check used not to: orphan grants and
/// credentials, a deleted kernel image, Glance's auth_port other than Keystone's admin_port,
/// attached volumes whose connection_info cannot be built.
fn add_trouble(root: &Path, sources: &[osmigrate::db::DbUrl], with_keystone: bool) {
    if with_keystone {
        let mut ks = Db::connect(&sources[0], Access::ReadWrite).unwrap();
        // Diablo on MyISAM (or SQLite) had no foreign keys: orphans happen.
        let off = match ks.backend() {
            Backend::Sqlite => "PRAGMA foreign_keys = OFF",
            Backend::Mysql => "SET FOREIGN_KEY_CHECKS = 0",
            Backend::Postgres => "SET session_replication_role = replica",
        };
        ks.execute(off, &[]).unwrap();
        ks.execute("INSERT INTO user_roles (id, user_id, role_id, tenant_id) VALUES (901, 9999, 1, 1)", &[]).unwrap();
        let key = ks.quote("key");
        let ty = ks.quote("type");
        ks.execute(
            &format!("INSERT INTO credentials (id, user_id, tenant_id, {ty}, {key}, secret) VALUES (901, 9999, 1, 'EC2', 'orphan-access', 'orphan-secret')"),
            &[],
        )
        .unwrap();
    }
    let mut glance = Db::connect(&sources[1], Access::ReadWrite).unwrap();
    glance.execute("UPDATE images SET deleted = ? WHERE id = 1", &[true.into()]).unwrap();
    let conf = root.join("etc/glance/glance-api.conf");
    let text = std::fs::read_to_string(&conf).unwrap().replace("auth_port = 35357", "auth_port = 5001");
    std::fs::write(&conf, text).unwrap();
    // A volume driver Essex cannot build connection_info for: the attached volumes stay without one.
    let mut nova_conf = std::fs::OpenOptions::new().append(true).open(root.join("etc/nova/nova.conf")).unwrap();
    std::io::Write::write_all(&mut nova_conf, b"--volume_driver=nova.volume.driver.LoggingVolumeDriver\n").unwrap();
}

#[test]
fn check_foresees_what_migrate_reports_on_every_backend() {
    support::each_server(|server| {
        for nova_auth in [false, true] {
            let ctx = format!("{} {}", server.name(), if nova_auth { "nova-auth" } else { "keystone" });
            let dir = tempfile::tempdir().unwrap();
            let root = dir.path().join("cloud");
            let _turn = if nova_auth { nova_auth_turn(&server) } else { None };
            let sources = build_cloud(&root, &server, if nova_auth { "agree_na" } else { "agree" }, nova_auth);
            add_trouble(&root, &sources, !nova_auth);
            let (code, check, err) = cloud("check", &root, &[]);
            assert_eq!(code, 1, "{ctx}: {err} {check:#}");
            let (code, migrated, err) = cloud("migrate", &root, &["--no-services", "--yes"]);
            assert_eq!(code, 1, "{ctx}: {err}");
            let (foreseen, reported) = (check_tally(&check), migration_tally(&migrated));
            assert_eq!(foreseen, reported, "{ctx}: check's findings and migrate's report differ");
            let has = |step: &str, code: &str| foreseen.contains_key(&(step.to_string(), code.to_string()));
            for (step, code) in [
                ("glance-db", "image_reference_unknown"),
                ("glance-db", "image_reference_deleted"),
                ("nova-db", "image_ref_not_in_map"),
                ("nova-db", "bdm_without_connection_info"),
            ] {
                assert!(has(step, code), "{ctx}: check foresees {code}: {foreseen:?}");
            }
            if nova_auth {
                assert!(has("keystone catalog", "catalog_host_unknown"), "{ctx}: {foreseen:?}");
            } else {
                assert!(has("config upgrade glance", "auth_port"), "{ctx}: Glance's auth_port against Keystone's admin_port: {foreseen:?}");
                assert!(has("keystone-db", "orphan_user"), "{ctx}: the orphan grant and credential: {foreseen:?}");
                let orphans = findings(&check).iter().find(|f| f["code"] == "orphan_user").unwrap();
                assert!(orphans["rows"].to_string().contains("id=901"), "{ctx}: the rows are named: {orphans}");
            }
            if server.url.is_none() && running_as_root() {
                // The tree has no service users: every new database and file stays root's, and check says so first.
                assert!(has("nova-db files", "owner_not_set"), "{ctx}: {foreseen:?}");
            }
            // The disk space, from real sizes.
            let disk = findings(&check).iter().find(|f| f["code"] == "disk_space").unwrap();
            let message = disk["message"].as_str().unwrap();
            assert!(message.contains("needs about") && message.contains("free") && !message.contains(" 0 MB"), "{ctx}: {message}");
        }
    });
}

#[test]
fn a_keystone_conf_without_its_database_is_refused_up_front() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cloud");
    let _cloud = build(&root, &support::servers()[0], "noconn");
    let conf = root.join("etc/keystone/keystone.conf");
    let text: String =
        std::fs::read_to_string(&conf).unwrap().lines().filter(|l| !l.starts_with("sql_connection")).map(|l| format!("{l}\n")).collect();
    std::fs::write(&conf, text).unwrap();
    let blocker = refused_up_front(&root, "keystone_conf_without_database");
    assert!(blocker["message"].as_str().unwrap().contains("etc/keystone/keystone.conf"), "{blocker}");
}

#[test]
fn a_half_written_api_paste_ini_is_refused_up_front() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cloud");
    let _cloud = build(&root, &support::servers()[0], "paste");
    let paste = root.join("etc/nova/api-paste.ini");
    let text = std::fs::read_to_string(&paste).unwrap();
    std::fs::write(&paste, &text[..text.find("[composite:osapi]").unwrap()]).unwrap();
    let blocker = refused_up_front(&root, "nova_config_fails");
    assert!(blocker["message"].as_str().unwrap().contains("api-paste.ini"), "{blocker}");
}

#[test]
fn a_corrupt_sqlite_page_is_refused_up_front() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cloud");
    let sources = build(&root, &support::servers()[0], "corrupt");
    let nova = sources[2].path.clone().unwrap();
    let (page, size) = {
        let mut db = Db::connect(&sources[2], Access::ReadOnly).unwrap();
        let page = db.query_scalar("SELECT rootpage FROM sqlite_master WHERE name = 'fixed_ips'", &[]).unwrap().as_i64().unwrap();
        (page as usize, db.query_scalar("PRAGMA page_size", &[]).unwrap().as_i64().unwrap() as usize)
    };
    let mut bytes = std::fs::read(&nova).unwrap();
    bytes[(page - 1) * size..page * size].fill(0xA5);
    std::fs::write(&nova, bytes).unwrap();
    let blocker = refused_up_front(&root, "nova_db_fails");
    assert!(blocker["message"].as_str().unwrap().contains("malformed"), "{blocker}");
}

#[test]
fn rows_that_are_not_utf8_are_refused_up_front() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cloud");
    let sources = build(&root, &support::servers()[0], "utf8");
    Db::connect(&sources[2], Access::ReadWrite)
        .unwrap()
        .execute("UPDATE instances SET display_name = CAST(X'66FF6F' AS TEXT) WHERE id = 3", &[])
        .unwrap();
    let blocker = refused_up_front(&root, "nova_db_fails");
    assert!(blocker["message"].as_str().unwrap().contains("instances row 3, field `display_name`: not valid UTF-8"), "{blocker}");
}

#[test]
fn a_state_dir_that_is_a_file_is_refused_up_front() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cloud");
    let _cloud = build(&root, &support::servers()[0], "statefile");
    std::fs::write(root.join("var/lib/osmigrate"), "not a directory\n").unwrap();
    let blocker = refused_up_front(&root, "state_dir_unusable");
    assert!(blocker["message"].as_str().unwrap().contains("var/lib/osmigrate is not a directory"), "{blocker}");
}

#[test]
fn a_missing_var_lib_keystone_is_refused_up_front() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cloud");
    let _cloud = build_cloud(&root, &support::servers()[0], "nokeystonedir", true);
    std::fs::remove_dir_all(root.join("var/lib/keystone")).unwrap();
    let blocker = refused_up_front(&root, "directory_missing");
    assert!(blocker["message"].as_str().unwrap().contains("var/lib/keystone"), "{blocker}");
    assert!(blocker["fix"].as_str().unwrap().contains("Essex keystone package"), "{blocker}");
}

/// A directory made read-only for this test (immutable as root, mode 0555 otherwise), put back on drop.
struct ReadOnly(PathBuf);

impl ReadOnly {
    fn new(dir: &Path) -> Option<ReadOnly> {
        if running_as_root() {
            let ok = std::process::Command::new("chattr").arg("+i").arg(dir).status().is_ok_and(|s| s.success());
            if !ok {
                eprintln!("note: chattr +i is not available here; the read-only directory case is skipped");
                return None;
            }
        } else {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555)).unwrap();
        }
        Some(ReadOnly(dir.to_path_buf()))
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        if running_as_root() {
            let _ = std::process::Command::new("chattr").arg("-i").arg(&self.0).status();
        } else {
            let _ = std::fs::set_permissions(&self.0, std::fs::Permissions::from_mode(0o755));
        }
    }
}

#[test]
fn a_read_only_config_directory_is_refused_up_front() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cloud");
    let _cloud = build(&root, &support::servers()[0], "readonly");
    let Some(_guard) = ReadOnly::new(&root.join("etc/nova")) else { return };
    let blocker = refused_up_front(&root, "not_writable");
    assert!(blocker["message"].as_str().unwrap().contains("etc/nova"), "{blocker}");
}

/// A small tmpfs over a directory of the tree, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn new(dir: &Path, bytes: u64) -> Option<Tmpfs> {
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={}k", bytes / 1024), "tmpfs"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            Some(Tmpfs(dir.to_path_buf()))
        } else {
            eprintln!("note: cannot mount a tmpfs here (needs root); the full-disk case is skipped");
            None
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_is_refused_up_front_with_real_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cloud");
    let sources = build(&root, &support::servers()[0], "fulldisk");
    // var/lib/nova on a filesystem that holds the Diablo database and little more.
    let nova_dir = root.join("var/lib/nova");
    let saved = dir.path().join("nova-saved");
    std::fs::rename(&nova_dir, &saved).unwrap();
    std::fs::create_dir(&nova_dir).unwrap();
    let size = std::fs::metadata(saved.join("nova.sqlite")).unwrap().len();
    let Some(_mount) = Tmpfs::new(&nova_dir, size + 64 * 1024) else { return };
    std::fs::copy(saved.join("nova.sqlite"), sources[2].path.clone().unwrap()).unwrap();
    let blocker = refused_up_front(&root, "disk_space");
    let message = blocker["message"].as_str().unwrap();
    assert!(message.contains("var/lib/nova: needs about") && message.contains(" free ("), "{message}");
    assert!(!message.contains(" 0 MB") && !message.contains(" 0 kB"), "real numbers: {message}");
}

/// The Essex services can open what their configs name: verify checks the catalog a Nova-auth
/// migration writes, and fails when it is gone.
#[test]
fn verify_checks_the_files_the_essex_services_open() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cloud");
    let _cloud = build_cloud(&root, &support::servers()[0], "startable", true);
    // Where Diablo's APIs were: nova.conf's own values (osapi_host is Diablo's default, $my_ip).
    let mut nova_conf = std::fs::OpenOptions::new().append(true).open(root.join("etc/nova/nova.conf")).unwrap();
    std::io::Write::write_all(&mut nova_conf, b"--my_ip=192.0.2.7\n--ec2_host=192.0.2.6\n--osapi_port=18774\n").unwrap();
    let (code, migrated, err) = cloud("migrate", &root, &["--no-services", "--yes"]);
    assert!(code <= 1, "{err}");
    assert!(!migrated.to_string().contains("catalog_host_unknown"), "every host is known: {migrated:#}");
    let catalog = root.join("etc/keystone/default_catalog.templates");
    let text = std::fs::read_to_string(&catalog).unwrap();
    for line in [
        "catalog.RegionOne.compute.publicURL = http://192.0.2.7:18774/v1.1/$(tenant_id)s",
        "catalog.RegionOne.volume.publicURL = http://192.0.2.7:8776/v1/$(tenant_id)s",
        "catalog.RegionOne.identity.publicURL = http://192.0.2.7:5000/v2.0",
        "catalog.RegionOne.identity.adminURL = http://192.0.2.7:35357/v2.0",
        "catalog.RegionOne.image.publicURL = http://127.0.0.1:9292/v1",
        "catalog.RegionOne.ec2.publicURL = http://192.0.2.6:8773/services/Cloud",
        "catalog.RegionOne.ec2.adminURL = http://192.0.2.6:8773/services/Admin",
    ] {
        assert!(text.contains(line), "{line} in {text}");
    }
    // Essex reads it back as written.
    let entries = osmigrate::essex_keystone::catalog::parse(&text).unwrap();
    assert_eq!(entries.len(), 5, "{entries:?}");
    let (code, verified, err) = cloud("verify", &root, &[]);
    assert_eq!(code, super::VERIFIED, "{err} {verified:#}");
    let names_catalog = |v: &Json| {
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["code"] == "service_file" && c["message"].as_str().unwrap().contains("default_catalog.templates"))
            .cloned()
    };
    assert_eq!(names_catalog(&verified).unwrap()["severity"], "info", "{verified:#}");
    std::fs::remove_file(&catalog).unwrap();
    let (code, verified, _) = cloud("verify", &root, &[]);
    assert_eq!(code, 2, "{verified:#}");
    let missing = names_catalog(&verified).unwrap();
    assert_eq!(missing["severity"], "blocker", "{missing}");
    assert!(missing["message"].as_str().unwrap().contains("is missing: keystone cannot start"), "{missing}");
}

/// A tree whose etc/passwd has the service users, their directories theirs as the packages make
/// them: the new SQLite databases and the catalog belong to the services, and verify checks each
/// service can use its files (and says which it cannot).
#[test]
fn the_new_databases_belong_to_the_service_users() {
    let server: Server = support::servers()[0].clone();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cloud");
    let sources = build(&root, &server, "owners");
    if !running_as_root() {
        eprintln!("note: not running as root, so files cannot be given to the service users: the ownership case is skipped");
        return;
    }
    let users = [("keystone", 4101u32, 4201u32), ("glance", 4102, 4202), ("nova", 4103, 4203)];
    let passwd: String = users.iter().map(|(u, uid, gid)| format!("{u}:x:{uid}:{gid}::/var/lib/{u}:/bin/false\n")).collect();
    let group: String = users.iter().map(|(u, _, gid)| format!("{u}:x:{gid}:\n")).collect();
    std::fs::write(root.join("etc/passwd"), passwd).unwrap();
    std::fs::write(root.join("etc/group"), group).unwrap();
    for (u, uid, gid) in users {
        for d in [format!("var/lib/{u}"), format!("var/log/{u}")].into_iter().filter(|d| d != "var/log/nova") {
            std::os::unix::fs::chown(root.join(d), Some(uid), Some(gid)).unwrap();
        }
    }
    // check foresees what verify would find: nova cannot make its logs in a directory left root's.
    let (_, check, _) = cloud("check", &root, &[]);
    let logs = findings(&check).iter().find(|f| f["code"] == "service_directory").unwrap_or_else(|| panic!("{check:#}"));
    assert!(logs["message"].as_str().unwrap().contains("nova (uid 4103) cannot make files in it (owner 0:0, mode 0755)"), "{logs}");
    assert!(logs["message"].as_str().unwrap().contains("var/log/nova (nova.conf logdir)"), "{logs}");
    std::os::unix::fs::chown(root.join("var/log/nova"), Some(4103), Some(4203)).unwrap();
    let (code, check, err) = cloud("check", &root, &[]);
    assert!(!findings(&check).iter().any(|f| f["code"] == "service_directory"), "{check:#}");
    assert!(code <= 1, "{err}");
    assert!(!findings(&check).iter().any(|f| f["code"] == "owner_not_set"), "every file has its user: {check:#}");
    let (code, _, err) = cloud("migrate", &root, &["--no-services", "--yes"]);
    assert!(code <= 1, "{err}");
    for ((u, uid, gid), source) in users.iter().zip(sources.iter()) {
        let db = essex(source).path.unwrap();
        let meta = std::fs::metadata(&db).unwrap();
        assert_eq!((meta.uid(), meta.gid(), meta.mode() & 0o777), (*uid, *gid, 0o640), "{u}: {}", db.display());
    }
    let catalog = std::fs::metadata(root.join("etc/keystone/default_catalog.templates")).unwrap();
    assert_eq!((catalog.uid(), catalog.mode() & 0o777), (4101, 0o640));
    let (code, verified, err) = cloud("verify", &root, &[]);
    assert_eq!(code, 0, "{err} {verified:#}");
    let can_use = verified["checks"].as_array().unwrap().iter().filter(|c| c["message"].as_str().unwrap().contains(") can use ")).count();
    assert!(can_use >= 15, "every file checked against its user: {verified:#}");
    // A database root took back is one nova cannot open.
    let nova_db = essex(&sources[2]).path.unwrap();
    std::os::unix::fs::chown(&nova_db, Some(0), Some(0)).unwrap();
    let (code, verified, _) = cloud("verify", &root, &[]);
    assert_eq!(code, 2, "{verified:#}");
    let denied = verified["checks"].as_array().unwrap().iter().find(|c| c["severity"] == "blocker").unwrap();
    let message = denied["message"].as_str().unwrap();
    assert!(
        message.contains("nova (uid 4103) cannot read and write it (owner 0:0, mode 0640)") && message.contains("nova-essex.sqlite"),
        "{message}"
    );
}
