//! `config convert nova`, `config upgrade keystone|glance|nova-paste`, `config fix-ownership`:
//! a Diablo /etc tree built from the shipped Diablo files and a realistic flagfile, converted end to
//! end by the real binary, every rendered file read back the way Essex reads it and compared with
//! the values Diablo ran with, and snapshotted.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use osmigrate::db::{Access, Db, DbUrl};

use crate::support::{osmigrate, reference_dir};

/// The token of the shipped Diablo paste files, published in Keystone's sample data.
const SAMPLE_TOKEN: &str = "999888777666";
/// A service token an operator chose for the Diablo cloud.
const SITE_TOKEN: &str = "7c1e94b2d0a35f68-site-service-token";

const UUID_1: &str = "6f6a3c0e-1f1e-4f3b-9a59-0b1f4c3a2d11";
const UUID_3: &str = "2b8f1a4e-3c6d-4a4b-9f0e-0c1d2e3f4a5b";

/// The main flagfile: Ubuntu-style settings, an include, every kind of line gflags treats specially.
const NOVA_CONF: &str = "\
# Diablo nova.conf
--dhcpbridge_flagfile=/etc/nova/nova.conf
--dhcpbridge=/usr/bin/nova-dhcpbridge
--logdir=/var/log/nova
--state_path=/var/lib/nova
--lock_path=/var/lock/nova
--verbose
--nouse_ipv6
--sql_connection=mysql://nova:n0va-Secret@10.0.0.2/nova
--s3_host=10.0.0.1
--rabbit_host=10.0.0.2
--rabbit_password=r4bbit-Secret
--ec2_url=http://10.0.0.1:8773/services/Cloud
--api_paste_config=api-paste.ini
--image_service=nova.image.glance.GlanceImageService
--glance_api_servers=10.0.0.1:9292
--network_manager=nova.network.manager.FlatDHCPManager
--public_interface=eth0
--fixed_range=10.1.0.0/16
--enabled_apis= ec2 , osapi
--my_ip=10.0.0.1
--flagfile=nova-compute.conf
--osapi_listen_port=8774
--vncproxy_url=http://10.0.0.1:6080
--allow_admin_api
--use_deprecated_auth=false
--list_notifier_drivers=nova.notifier.rabbit_notifier
--list_notifier_drivers=nova.notifier.log_notifier
--notification_driver=nova.notifier.list_notifier
--vpn_image_id=3
--rescue_kernel_id=http://10.0.0.1:9292/v1/images/1
--default_project=\"admin\"
--ajax_console_proxy_url=http://10.0.0.1:8000
--keystone_ec2_url=http://10.0.0.2:5000/v2.0/ec2tokens
    # an indented comment: Diablo's getopt stopped here
--quota_instances=100
";

const NOVA_COMPUTE_CONF: &str = "\
--libvirt_type=kvm
--connection_type=libvirt
--my_ip=10.0.0.5
";

/// What each option was in Diablo, as Essex must read it from the converted file.
const DIABLO_VALUES: &[(&str, &[&str])] = &[
    ("dhcpbridge_flagfile", &["/etc/nova/nova.conf"]),
    ("logdir", &["/var/log/nova"]),
    ("state_path", &["/var/lib/nova"]),
    ("verbose", &["true"]),
    ("use_ipv6", &["false"]),
    ("sql_connection", &["mysql://nova:Ess3x-Secret@10.0.0.2/nova_essex"]),
    ("rabbit_password", &["r4bbit-Secret"]),
    ("glance_api_servers", &["10.0.0.1:9292"]),
    ("enabled_apis", &["ec2,osapi_compute,osapi_volume,metadata"]),
    ("my_ip", &["10.0.0.5"]),
    ("libvirt_type", &["kvm"]),
    ("connection_type", &["libvirt"]),
    ("osapi_compute_listen_port", &["8774"]),
    ("novncproxy_base_url", &["http://10.0.0.1:6080/vnc_auto.html"]),
    ("list_notifier_drivers", &["nova.notifier.rabbit_notifier", "nova.notifier.log_notifier"]),
    ("vpn_image_id", &[UUID_3]),
    ("default_project", &["\"admin\""]),
    ("keystone_ec2_url", &["http://10.0.0.2:5000/v2.0/ec2tokens"]),
    ("auth_strategy", &["keystone"]),
    ("vncserver_listen", &["0.0.0.0"]),
];

/// Never in the converted file: removed in Essex, renamed, or after the point Diablo stopped.
const ABSENT: &[&str] = &[
    "allow_admin_api",
    "use_deprecated_auth",
    "vncproxy_url",
    "osapi_listen_port",
    "ajax_console_proxy_url",
    "quota_instances",
    "flagfile",
];

/// Essex's iniparser (2012.1), written again here from its rules so that the library's own reader
/// is not what checks the library: `(section, key)` → every value.
fn oslo(text: &str) -> BTreeMap<(String, String), Vec<String>> {
    let mut out: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    let mut section: Option<String> = None;
    let mut pending: Option<(String, Vec<String>)> = None;
    let flush =
        |out: &mut BTreeMap<(String, String), Vec<String>>, section: &Option<String>, pending: &mut Option<(String, Vec<String>)>| {
            if let Some((key, value)) = pending.take() {
                let section = section.clone().expect("Section must be started before assignment");
                out.entry((section, key)).or_default().push(value.join("\n"));
            }
        };
    for (n, raw) in text.split('\n').enumerate() {
        let line = raw.trim_end();
        if line.is_empty() {
            flush(&mut out, &section, &mut pending);
            continue;
        }
        if line.starts_with([' ', '\t']) {
            pending.as_mut().unwrap_or_else(|| panic!("line {}: unexpected continuation", n + 1)).1.push(line.trim_start().to_string());
            continue;
        }
        flush(&mut out, &section, &mut pending);
        if line.starts_with('[') {
            assert!(line.ends_with(']') && line.len() > 2, "line {}: bad section", n + 1);
            section = Some(line[1..line.len() - 1].to_string());
        } else if !line.starts_with(['#', ';']) {
            let at = match (line.find('='), line.find(':')) {
                (Some(e), Some(c)) => e.min(c),
                (Some(e), None) => e,
                (None, Some(c)) => c,
                (None, None) => panic!("line {}: no = or :", n + 1),
            };
            let key = line[..at].trim().to_string();
            assert!(!key.is_empty(), "line {}: empty key", n + 1);
            pending = Some((key, vec![line[at + 1..].trim().to_string()]));
        }
    }
    flush(&mut out, &section, &mut pending);
    out
}

fn last(map: &BTreeMap<(String, String), Vec<String>>, section: &str, key: &str) -> Option<String> {
    map.get(&(section.to_string(), key.to_string())).and_then(|v| v.last().cloned())
}

/// Python 2.7's ConfigParser as Paste Deploy uses it (keys keep their case; `%%` is `%` only in a
/// value that also holds `%(`): `(section, key)` → value, `[DEFAULT]` values seen everywhere.
fn configparser(text: &str) -> BTreeMap<(String, String), String> {
    let mut out = BTreeMap::new();
    let mut defaults = BTreeMap::new();
    let mut section: Option<String> = None;
    let mut key: Option<String> = None;
    for line in text.lines() {
        if line.trim().is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        if line.starts_with(char::is_whitespace) {
            let k = key.clone().expect("continuation");
            let s = section.clone().unwrap();
            let map = if s == "DEFAULT" { &mut defaults } else { &mut out };
            let entry: &mut String = map.entry((s, k)).or_default();
            entry.push('\n');
            entry.push_str(line.trim());
            continue;
        }
        if let Some(rest) = line.strip_prefix('[') {
            section = Some(rest[..rest.find(']').unwrap()].to_string());
            key = None;
            continue;
        }
        let at = line.find([':', '=']).expect("an option line");
        let k = line[..at].trim_end().to_string();
        let mut v = line[at + 1..].trim_start();
        if let Some(pos) = v.find(';').filter(|&p| p > 0 && v[..p].ends_with(char::is_whitespace)) {
            v = &v[..pos];
        }
        let s = section.clone().expect("a section");
        let map = if s == "DEFAULT" { &mut defaults } else { &mut out };
        map.insert((s, k.clone()), v.trim().to_string());
        key = Some(k);
    }
    let sections: Vec<String> = out.keys().map(|(s, _)| s.clone()).collect();
    for s in sections {
        for (k, v) in &defaults {
            out.entry((s.clone(), k.1.clone())).or_insert_with(|| v.clone());
        }
    }
    out.into_iter()
        .map(|(k, v)| {
            let v = if v.contains("%(") { v.replace("%%", "%") } else { v };
            (k, v)
        })
        .collect()
}

/// A Diablo host's /etc under a temporary root: the shipped Diablo files (Keystone-enabled), the
/// flagfiles above, the service users, an image map and the migrated Keystone's roles.
struct Tree {
    dir: tempfile::TempDir,
}

impl Tree {
    fn new() -> Tree {
        let dir = tempfile::tempdir().unwrap();
        let shipped = reference_dir().join("config/diablo");
        let put = |rel: &str, text: &str| {
            let p = dir.path().join(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, text).unwrap();
        };
        // The service token this site chose (the shipped sample value is never carried: see
        // `a_published_sample_token_is_never_carried`).
        let copy = |from: &str, to: &str| put(to, &fs::read_to_string(shipped.join(from)).unwrap().replace(SAMPLE_TOKEN, SITE_TOKEN));
        copy("keystone.conf", "etc/keystone/keystone.conf");
        copy("keystone-example-glance-api.conf", "etc/glance/glance-api.conf");
        copy("keystone-example-glance-registry.conf", "etc/glance/glance-registry.conf");
        copy("keystone-example-nova-api-paste.ini", "etc/nova/api-paste.ini");
        put("etc/nova/nova.conf", NOVA_CONF);
        put("etc/nova/nova-compute.conf", NOVA_COMPUTE_CONF);
        put(
            "etc/passwd",
            "root:x:0:0:root:/root:/bin/bash\nnova:x:4101:4101::/var/lib/nova:/bin/false\nglance:x:4102:4102::/var/lib/glance:/bin/false\nkeystone:x:4103:4103::/var/lib/keystone:/bin/false\n",
        );
        put("etc/group", "root:x:0:\nnova:x:4101:\nglance:x:4102:\nkeystone:x:4103:\n");
        put("image-map.csv", &format!("old_id,new_id\n1,{UUID_1}\n3,{UUID_3}\n"));
        let roles = DbUrl::sqlite(&dir.path().join("keystone-essex.sqlite"));
        let mut db = Db::connect(&roles, Access::ReadWrite).unwrap();
        db.execute_script("CREATE TABLE role (id VARCHAR(64) PRIMARY KEY, name VARCHAR(255) UNIQUE, extra TEXT);\nINSERT INTO role VALUES ('1', 'admin', '{}');\nINSERT INTO role VALUES ('2', 'Member', '{}');").unwrap();
        Tree { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    fn root(&self) -> String {
        self.dir.path().display().to_string()
    }

    fn keystone_db(&self) -> String {
        format!("sqlite:///{}", self.path("keystone-essex.sqlite").display())
    }

    /// Runs osmigrate from `cwd` (relative to the root); returns (exit, stdout, stderr).
    fn run(&self, cwd: &str, args: &[&str]) -> (i32, String, String) {
        let out = osmigrate().current_dir(self.path(cwd)).args(args).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn upgrade(&self, service: &str, extra: &[&str]) -> (i32, serde_json::Value) {
        let root = self.root();
        let ks = self.keystone_db();
        let mut args = vec![
            "config",
            "upgrade",
            service,
            "--root",
            &root,
            "--keystone-db",
            &ks,
            "--glance-db",
            "mysql://glance:G1ance-Secret@10.0.0.2/glance_essex",
            "--json",
        ];
        args.extend_from_slice(extra);
        let (code, stdout, stderr) = self.run(".", &args);
        let json = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}{stderr}"));
        (code, json)
    }

    fn insta(&self) -> insta::Settings {
        let mut settings = insta::Settings::clone_current();
        settings.add_filter(&regex_escape(&self.root()), "[ROOT]");
        settings
    }
}

fn regex_escape(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '/' { c.to_string() } else { format!("\\{c}") }).collect()
}

/// The report's changes without the ones that depend on who runs the test.
fn changes(report: &serde_json::Value) -> serde_json::Value {
    let kept: Vec<_> = report["changes"].as_array().unwrap().iter().filter(|c| c["code"] != "owner_not_set").cloned().collect();
    serde_json::Value::Array(kept)
}

fn mode_and_owner(path: &Path) -> (u32, u32) {
    let m = fs::metadata(path).unwrap();
    (m.permissions().mode() & 0o777, m.uid())
}

fn running_as_root() -> bool {
    fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

#[test]
fn a_diablo_tree_converted_end_to_end() {
    let tree = Tree::new();
    let root = tree.root();
    let map = tree.path("image-map.csv").display().to_string();

    // nova.conf, in place, from nova's own directory (where its relative include and paste file are).
    let (code, stdout, stderr) = tree.run(
        "etc/nova",
        &[
            "config",
            "convert",
            "nova",
            "--in",
            "nova.conf",
            "--out",
            "nova.conf",
            "--image-map",
            &map,
            "--sql-connection",
            "mysql://nova:Ess3x-Secret@10.0.0.2/nova_essex",
            "--root",
            &root,
            "--json",
        ],
    );
    assert_eq!(code, 1, "warnings (a removed option set, quotes, the stop): {stderr}");
    for secret in ["n0va-Secret", "Ess3x-Secret", "r4bbit-Secret"] {
        assert!(!stdout.contains(secret) && !stderr.contains(secret), "{secret} in the output");
    }
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let converted = tree.read("etc/nova/nova.conf");
    let essex = oslo(&converted);
    for (key, values) in DIABLO_VALUES {
        let got = essex.get(&("DEFAULT".to_string(), key.to_string())).cloned().unwrap_or_default();
        assert_eq!(got, *values, "{key}");
    }
    assert_eq!(last(&essex, "DEFAULT", "rescue_kernel_id"), Some(format!("http://10.0.0.1:9292/v1/images/{UUID_1}")));
    for key in ABSENT {
        assert_eq!(last(&essex, "DEFAULT", key), None, "{key}");
    }
    assert_eq!(essex.keys().filter(|(s, _)| s != "DEFAULT").count(), 0);
    // The flagfile itself is kept, and the new file is the service's.
    assert_eq!(tree.read("etc/nova/nova.conf.osmigrate-backup"), NOVA_CONF);
    let (mode, uid) = mode_and_owner(&tree.path("etc/nova/nova.conf"));
    assert_eq!(mode, 0o640);
    if running_as_root() {
        assert_eq!(uid, 4101);
    }
    let settings = tree.insta();
    settings.bind(|| {
        insta::assert_snapshot!("essex_nova_conf", converted);
        insta::assert_json_snapshot!("essex_nova_conf_report", changes(&report));
    });

    // keystone, glance and nova's paste file, in place.
    let mut rendered = BTreeMap::new();
    for service in ["keystone", "glance", "nova-paste"] {
        let (code, report) = tree.upgrade(service, &[]);
        let expected = i32::from(service != "nova-paste");
        assert_eq!(code, expected, "{service}: {report:#}");
        for f in report["files"].as_array().unwrap() {
            let path = PathBuf::from(f["path"].as_str().unwrap());
            assert_eq!(mode_and_owner(&path).0, 0o640);
            rendered.insert(path.strip_prefix(tree.dir.path()).unwrap().display().to_string(), fs::read_to_string(&path).unwrap());
        }
        let text = serde_json::to_string(&report).unwrap();
        for secret in [SITE_TOKEN, "G1ance-Secret"] {
            assert!(!text.contains(secret), "{secret} in the {service} report");
        }
        settings.bind(|| insta::assert_json_snapshot!(format!("upgrade_{service}_report"), changes(&report)));
    }
    assert_eq!(
        rendered.keys().collect::<Vec<_>>(),
        [
            "etc/glance/glance-api-paste.ini",
            "etc/glance/glance-api.conf",
            "etc/glance/glance-registry-paste.ini",
            "etc/glance/glance-registry.conf",
            "etc/glance/policy.json",
            "etc/keystone/keystone.conf",
            "etc/keystone/policy.json",
            "etc/nova/api-paste.ini",
            "etc/nova/policy.json",
        ]
    );
    for (rel, text) in &rendered {
        settings.bind(|| insta::assert_snapshot!(format!("essex_{}", rel.trim_start_matches("etc/").replace('/', "_")), text));
    }

    // keystone.conf as keystone's cfg reads it, and as Paste Deploy reads its pipelines.
    let ks = oslo(&rendered["etc/keystone/keystone.conf"]);
    let ks_db = tree.keystone_db();
    for (section, key, value) in [
        ("DEFAULT", "admin_token", SITE_TOKEN),
        ("DEFAULT", "bind_host", "0.0.0.0"),
        ("DEFAULT", "public_port", "5000"),
        ("DEFAULT", "admin_port", "35357"),
        ("DEFAULT", "verbose", "False"),
        ("DEFAULT", "debug", "False"),
        ("sql", "connection", ks_db.as_str()),
        ("sql", "idle_timeout", "30"),
        ("identity", "driver", "keystone.identity.backends.sql.Identity"),
        ("token", "driver", "keystone.token.backends.sql.Token"),
        ("ec2", "driver", "keystone.contrib.ec2.backends.sql.Ec2"),
        ("catalog", "template_file", "/etc/keystone/default_catalog.templates"),
    ] {
        assert_eq!(last(&ks, section, key).as_deref(), Some(value), "keystone.conf [{section}] {key}");
    }
    assert!(configparser(&rendered["etc/keystone/keystone.conf"]).contains_key(&("pipeline:admin_api".into(), "pipeline".into())));

    // glance: the .conf files by glance's cfg, the paste files by Paste Deploy.
    for (conf, paste, app) in [
        ("etc/glance/glance-api.conf", "etc/glance/glance-api-paste.ini", "glance-api-keystone"),
        ("etc/glance/glance-registry.conf", "etc/glance/glance-registry-paste.ini", "glance-registry-keystone"),
    ] {
        let c = oslo(&rendered[conf]);
        assert_eq!(last(&c, "paste_deploy", "flavor").as_deref(), Some("keystone"), "{conf}");
        assert_eq!(last(&c, "DEFAULT", "admin_role").as_deref(), Some("admin"), "{conf}: the role as Keystone spells it");
        let p = configparser(&rendered[paste]);
        assert!(p.get(&(format!("pipeline:{app}"), "pipeline".into())).is_some_and(|v| v.contains("authtoken")), "{paste}");
        for (key, value) in [("auth_host", "127.0.0.1"), ("auth_port", "35357"), ("auth_protocol", "http"), ("admin_token", SITE_TOKEN)] {
            assert_eq!(p.get(&("filter:authtoken".into(), key.into())).map(String::as_str), Some(value), "{paste} {key}");
        }
        assert!(!p.contains_key(&("filter:authtoken".into(), "admin_user".into())), "{paste}: the placeholder user is gone");
    }
    let api = oslo(&rendered["etc/glance/glance-api.conf"]);
    for (key, value) in [
        ("swift_store_auth_version", "1"),
        ("swift_store_auth_address", "127.0.0.1:8080/v1.0/"),
        ("swift_store_user", "jdoe"),
        ("image_cache_dir", "/var/lib/glance/image-cache/"),
        ("image_cache_stall_time", "86400"),
        ("log_file", "/var/log/glance/api.log"),
        ("bind_port", "9292"),
    ] {
        assert_eq!(last(&api, "DEFAULT", key).as_deref(), Some(value), "glance-api.conf {key}");
    }
    let registry = oslo(&rendered["etc/glance/glance-registry.conf"]);
    assert_eq!(last(&registry, "DEFAULT", "sql_connection").as_deref(), Some("mysql://glance:G1ance-Secret@10.0.0.2/glance_essex"));

    // nova's api-paste.ini: Essex's pipelines, Diablo's authtoken.
    let nova_paste = configparser(&rendered["etc/nova/api-paste.ini"]);
    assert_eq!(nova_paste.get(&("filter:authtoken".into(), "admin_token".into())).map(String::as_str), Some(SITE_TOKEN));
    assert!(nova_paste.contains_key(&("composite:openstack_compute_api_v2".into(), "keystone".into())));

    // The Diablo originals are kept; running everything again writes nothing.
    assert_eq!(
        tree.read("etc/keystone/keystone.conf.osmigrate-backup"),
        fs::read_to_string(reference_dir().join("config/diablo/keystone.conf")).unwrap()
    );
    for service in ["keystone", "glance", "nova-paste"] {
        let (_, report) = tree.upgrade(service, &[]);
        assert!(report["files"].as_array().unwrap().iter().all(|f| f["unchanged"] == true), "{service}: {report:#}");
    }
    let (code, ..) = tree.run(
        "etc/nova",
        &["config", "convert", "nova", "--in", "nova.conf", "--out", "nova.conf", "--image-map", &map, "--sql-connection", "mysql://x@h/d"],
    );
    assert_eq!(code, 64, "nova.conf is INI now: converting it again is refused");
}

#[test]
fn without_out_the_file_goes_to_stdout_and_the_report_to_stderr() {
    let tree = Tree::new();
    let (code, stdout, stderr) = tree.run("etc/nova", &["config", "convert", "nova", "--in", "nova.conf", "--json"]);
    assert_eq!(code, 1);
    assert!(stdout.starts_with("# nova.conf for Essex"), "{stdout}");
    let report: serde_json::Value = serde_json::from_str(&stderr).unwrap();
    assert_eq!(report["command"], "config convert nova");
    assert!(report["files"].as_array().unwrap().is_empty());
    assert!(!stderr.contains("n0va-Secret"));
    let codes: Vec<&str> = report["changes"].as_array().unwrap().iter().map(|c| c["code"].as_str().unwrap()).collect();
    for code in ["sql_connection", "image_id_not_rewritten", "flagfile_stopped", "quoted_value", "removed", "renamed", "list_rejoined"] {
        assert!(codes.contains(&code), "{code} missing from {codes:?}");
    }
    let (code, stdout, stderr) = tree.run("etc/nova", &["config", "convert", "nova", "--in", "nova.conf"]);
    assert_eq!(code, 1);
    assert!(stdout.contains("auth_strategy=keystone"));
    assert!(stderr.starts_with("config convert nova: done, with warnings to read — 0 blockers, "), "{stderr}");
    assert!(stderr.contains("\nWarnings (") && stderr.contains("  warning removed ("), "{stderr}");
    assert!(!stderr.contains("stdout"), "the lines name the settings, not the output: {stderr}");
}

/// `--flagfile=/dev/zero` (or any endless include) is refused at once instead of read until
/// memory runs out; so is a file over 4 MiB.
#[test]
fn an_endless_or_huge_include_is_refused_at_once() {
    let tree = Tree::new();
    let line = NOVA_CONF.lines().count() + 1;
    for (include, why) in [("/dev/zero", "not a regular file"), ("huge.conf", "config files are read up to 4194304 bytes")] {
        fs::write(tree.path("etc/nova/nova.conf"), format!("{NOVA_CONF}--flagfile={include}\n")).unwrap();
        fs::File::create(tree.path("etc/nova/huge.conf")).unwrap().set_len(5 << 20).unwrap();
        let started = std::time::Instant::now();
        // With an address-space limit far below what reading /dev/zero to its end would take.
        let out = std::process::Command::new("sh")
            .current_dir(tree.path("etc/nova"))
            .args(["-c", "ulimit -v 2000000; exec \"$0\" \"$@\"", assert_cmd::cargo::cargo_bin("osmigrate").to_str().unwrap()])
            .args(["config", "convert", "nova", "--in", "nova.conf"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{include}: {err}");
        let named = format!("(named at {}:{line})", tree.path("etc/nova/nova.conf").display());
        assert!(err.contains(why) && err.contains(&named), "{include}: {err}");
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "{include}: refused at once");
    }
}

/// The shipped Diablo files' `999888777666` is public: as Essex's admin_token it would be full
/// admin on the new Keystone. Neither it nor a token in a filter no pipeline ran is carried; a
/// fresh random one is, kept 0600 in the state directory and named (never shown) in the report.
#[test]
fn a_published_sample_token_is_never_carried() {
    let tree = Tree::new();
    for rel in ["etc/nova/api-paste.ini", "etc/glance/glance-registry.conf"] {
        fs::write(tree.path(rel), tree.read(rel).replace(SITE_TOKEN, SAMPLE_TOKEN)).unwrap();
    }
    // glance-api ran without Keystone: its authtoken section, and the token there, were unused.
    let api = tree.read("etc/glance/glance-api.conf");
    let api = api.replace("pipeline = versionnegotiation authtoken context apiv1app", "pipeline = versionnegotiation context apiv1app");
    fs::write(tree.path("etc/glance/glance-api.conf"), api.replace(SITE_TOKEN, "unused-but-not-a-sample")).unwrap();
    let mut reports = Vec::new();
    for service in ["keystone", "glance", "nova-paste"] {
        let (code, report) = tree.upgrade(service, &[]);
        assert_eq!(code, 1, "{service}: the sample is warned about: {report:#}");
        reports.push(report);
    }
    let without_auth = reports[1]["changes"].as_array().unwrap().iter().find(|c| c["code"] == "glance_without_keystone");
    let without_auth = without_auth.unwrap_or_else(|| panic!("glance-api without Keystone auth is warned about: {:#}", reports[1]));
    assert_eq!((without_auth["severity"].as_str(), without_auth["file"].as_str()), (Some("warning"), Some("etc/glance/glance-api.conf")));
    let kept = tree.path("var/lib/osmigrate/admin-token");
    let token = tree.read("var/lib/osmigrate/admin-token").trim().to_string();
    assert_eq!(mode_and_owner(&kept).0, 0o600);
    assert!(token.len() == 40 && token.chars().all(|c| c.is_ascii_hexdigit()), "{token}");
    assert_eq!(last(&oslo(&tree.read("etc/keystone/keystone.conf")), "DEFAULT", "admin_token"), Some(token.clone()));
    for rel in ["etc/nova/api-paste.ini", "etc/glance/glance-api-paste.ini", "etc/glance/glance-registry-paste.ini"] {
        assert_eq!(configparser(&tree.read(rel)).get(&("filter:authtoken".into(), "admin_token".into())), Some(&token), "{rel}");
    }
    for report in &reports {
        let text = report.to_string();
        for secret in [token.as_str(), SAMPLE_TOKEN, "unused-but-not-a-sample"] {
            assert!(!text.contains(secret), "a token in a report: {text}");
        }
        let codes: Vec<&str> = report["changes"].as_array().unwrap().iter().map(|c| c["code"].as_str().unwrap()).collect();
        assert_eq!(codes.iter().filter(|c| **c == "admin_token_sample").count(), 2, "{codes:?}");
        assert!(codes.contains(&"admin_token_not_carried"), "{codes:?}");
        assert!(text.contains(&kept.display().to_string()), "the report names where the token is");
    }
    // Every later upgrade reads the same token back: running them again changes nothing.
    for service in ["keystone", "glance", "nova-paste"] {
        let (_, report) = tree.upgrade(service, &[]);
        assert!(report["files"].as_array().unwrap().iter().all(|f| f["unchanged"] == true), "{service}: {report:#}");
    }
}

#[test]
fn without_a_diablo_service_token_one_secret_is_shared() {
    let tree = Tree::new();
    for rel in ["etc/nova/api-paste.ini", "etc/glance/glance-api.conf", "etc/glance/glance-registry.conf"] {
        let text: String = tree.read(rel).lines().filter(|l| !l.starts_with("admin_token")).map(|l| format!("{l}\n")).collect();
        fs::write(tree.path(rel), text).unwrap();
    }
    let out = tree.path("essex");
    let out = out.display().to_string();
    let (_, keystone) = tree.upgrade("keystone", &["--out-dir", &out]);
    let (_, nova) = tree.upgrade("nova-paste", &["--out-dir", &out]);
    let (_, glance) = tree.upgrade("glance", &["--out-dir", &out]);
    let token = last(&oslo(&tree.read("essex/etc/keystone/keystone.conf")), "DEFAULT", "admin_token").unwrap();
    assert!(token.len() == 40 && token.chars().all(|c| c.is_ascii_hexdigit()), "{token}");
    for rel in ["essex/etc/nova/api-paste.ini", "essex/etc/glance/glance-api-paste.ini", "essex/etc/glance/glance-registry-paste.ini"] {
        assert_eq!(configparser(&tree.read(rel)).get(&("filter:authtoken".into(), "admin_token".into())), Some(&token), "{rel}");
    }
    for report in [&keystone, &nova, &glance] {
        assert!(!report.to_string().contains(&token), "the secret leaked into a report");
    }
    // Kept 0600 beside the files written, which every later upgrade reads back.
    let kept = tree.path("essex/var/lib/osmigrate/admin-token");
    assert_eq!((tree.read("essex/var/lib/osmigrate/admin-token"), mode_and_owner(&kept).0), (format!("{token}\n"), 0o600));
    assert!(keystone.to_string().contains(&kept.display().to_string()), "the report names the file");
    // The tree itself is untouched with --out-dir.
    assert!(!tree.path("etc/keystone/keystone.conf.osmigrate-backup").exists());
    assert!(!tree.path("var/lib/osmigrate").exists());
}

#[test]
fn upgrades_refuse_what_is_not_diablo() {
    let tree = Tree::new();
    fs::remove_file(tree.path("etc/keystone/keystone.conf")).unwrap();
    let root = tree.root();
    let (code, _, stderr) = tree.run(".", &["config", "upgrade", "keystone", "--root", &root]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("keystone.conf"), "{stderr}");
    fs::write(
        tree.path("etc/nova/api-paste.ini"),
        fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/config/essex/nova-api-paste.ini")).unwrap(),
    )
    .unwrap();
    let (code, _, stderr) = tree.run(".", &["config", "upgrade", "nova-paste", "--root", &root]);
    assert_eq!(code, 2);
    assert!(stderr.contains("not a Diablo file"), "{stderr}");
    let (code, ..) = tree.run(".", &["config", "upgrade", "swift", "--root", &root]);
    assert_eq!(code, 64);
}

#[test]
fn fix_ownership_gives_root_owned_logs_back() {
    let tree = Tree::new();
    for rel in ["var/log/glance/api.log", "var/log/glance/registry.log", "var/lib/glance/images/1", "var/log/nova/nova-api.log"] {
        fs::create_dir_all(tree.path(rel).parent().unwrap()).unwrap();
        fs::write(tree.path(rel), "log\n").unwrap();
    }
    let root = tree.root();
    let (code, stdout, stderr) = tree.run(".", &["config", "fix-ownership", "--root", &root, "--json"]);
    if !running_as_root() {
        // Only root can give files away; what was root's here is nothing, so nothing needs it.
        assert_eq!(code, 0, "{stderr}");
        return;
    }
    assert_eq!(code, 0, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let repaired = report["changes"].as_array().unwrap().iter().filter(|c| c["code"] == "owner_repaired").count();
    assert_eq!(repaired, 8, "{report:#}");
    assert_eq!(fs::metadata(tree.path("var/log/glance/api.log")).unwrap().uid(), 4102);
    assert_eq!(fs::metadata(tree.path("var/log/nova")).unwrap().uid(), 4101);
    let (code, stdout, _) = tree.run(".", &["config", "fix-ownership", "--root", &root]);
    assert_eq!(code, 0);
    assert!(!stdout.contains("owner_repaired"));
}

/// A keystone.conf whose keys stand above any section header: Diablo's ConfigParser raised
/// MissingSectionHeaderError on it (keystone's `load_paste_config` → "Error loading config"), so
/// Diablo's keystone never started with those keys. Each one is a warning naming the file, the line
/// and the key (never the value), none is carried, and the text shows them with the fix.
#[test]
fn keys_before_any_section_of_keystone_conf_are_warned_about_not_dropped() {
    let tree = Tree::new();
    let diablo = tree.read("etc/keystone/keystone.conf");
    let headless = diablo
        .strip_prefix("[DEFAULT]\n")
        .expect("the fixture starts with [DEFAULT]")
        .replace("log_file = keystone.log", "log_file = /var/log/keystone/headless.log");
    fs::write(tree.path("etc/keystone/keystone.conf"), &headless).unwrap();
    let (code, report) = tree.upgrade("keystone", &["--out-dir", &tree.path("essex").display().to_string()]);
    assert_eq!(code, 1, "{report:#}");
    let warned: Vec<(String, String)> = report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["code"] == "unparsable_line")
        .map(|c| {
            assert_eq!((c["severity"].as_str(), c["file"].as_str()), (Some("warning"), Some("etc/keystone/keystone.conf")), "{c}");
            (c["setting"].as_str().unwrap().to_string(), c["message"].as_str().unwrap().to_string())
        })
        .collect();
    let line_of = |key: &str| headless.lines().position(|l| l.starts_with(&format!("{key} "))).unwrap() + 1;
    for key in ["verbose", "log_file", "backends", "service-header-mappings", "service_host"] {
        let (_, message) = warned.iter().find(|(k, _)| k == key).unwrap_or_else(|| panic!("{key} not warned about: {warned:#?}"));
        assert!(message.contains(&format!("line {}: `{key}`", line_of(key))), "{message}");
    }
    assert!(!report.to_string().contains("headless.log"), "a value in the report");
    let essex = oslo(&tree.read("essex/etc/keystone/keystone.conf"));
    assert_ne!(
        last(&essex, "DEFAULT", "log_file").as_deref(),
        Some("/var/log/keystone/headless.log"),
        "carried from a file Diablo refused"
    );
    // The human report: the group, every key, its fix.
    let root = tree.root();
    let out = tree.path("essex2").display().to_string();
    let (code, stdout, stderr) = tree.run(".", &["config", "upgrade", "keystone", "--root", &root, "--out-dir", &out]);
    assert_eq!(code, 1, "{stderr}");
    let text = format!("{stdout}{stderr}");
    let group: String = text
        .lines()
        .skip_while(|l| !l.starts_with("  warning unparsable_line"))
        .take_while(|l| l.starts_with("  warning unparsable_line") || l.starts_with("    "))
        .map(|l| format!("{l}\n"))
        .collect();
    tree.insta().bind(|| insta::assert_snapshot!("upgrade_keystone_headless", group));
}

/// The `not_carried` findings of an upgrade report: (setting, severity).
fn not_carried(report: &serde_json::Value) -> Vec<(String, String)> {
    let changes = report["changes"].as_array().unwrap().iter().filter(|c| c["code"] == "not_carried");
    changes.map(|c| (c["setting"].as_str().unwrap().to_string(), c["severity"].as_str().unwrap().to_string())).collect()
}

/// Every Diablo setting not carried is a finding of its own, and a stock file yields none that is
/// no loss: the rest of `[keystone.backends.sqlalchemy]` (a stock `backend_entities` is what Essex's
/// sql drivers keep anyway).
#[test]
fn settings_not_carried_are_reported_each_and_stock_ones_are_not_noise() {
    let tree = Tree::new();
    let (_, stock) = tree.upgrade("keystone", &["--out-dir", &tree.path("stock").display().to_string()]);
    let sql = "[keystone.backends.sqlalchemy]";
    assert!(not_carried(&stock).iter().all(|(s, _)| !s.starts_with(sql)), "{:#?}", not_carried(&stock));
    let conf = tree.read("etc/keystone/keystone.conf").replace("sql_idle_timeout = 30", "sql_idle_timeout = 30\nsql_pool_size = 5");
    let entities = conf.find("backend_entities").unwrap();
    let end = entities + conf[entities..].find("'Service']").unwrap() + "'Service']".len();
    let conf = format!("{}backend_entities = ['User', 'Tenant']{}", &conf[..entities], &conf[end..]);
    fs::write(tree.path("etc/keystone/keystone.conf"), conf).unwrap();
    let (_, report) = tree.upgrade("keystone", &["--out-dir", &tree.path("essex").display().to_string()]);
    let found = not_carried(&report);
    for expected in [(format!("{sql} backend_entities"), "warning"), (format!("{sql} sql_pool_size"), "info")] {
        assert!(found.iter().any(|(s, v)| *s == expected.0 && v == expected.1), "{expected:?} not in {found:#?}");
    }

    // Glance: the paste settings of its own files; a stock pair yields none.
    let (_, stock) = tree.upgrade("glance", &["--out-dir", &tree.path("stock").display().to_string()]);
    let paste_sections = |found: Vec<(String, String)>| -> Vec<(String, String)> {
        found.into_iter().filter(|(s, _)| s.starts_with("[app:") || s.starts_with("[filter:")).collect()
    };
    assert_eq!(paste_sections(not_carried(&stock)), [], "{stock:#}");
    let api = tree.read("etc/glance/glance-api.conf").replace(
        "[app:apiv1app]\n",
        "[filter:ratelimit]\npaste.filter_factory = glance.example:filter_factory\n\n[app:apiv1app]\nlimit_param_default = 50\n",
    );
    fs::write(tree.path("etc/glance/glance-api.conf"), api).unwrap();
    let (_, report) = tree.upgrade("glance", &["--out-dir", &tree.path("essex").display().to_string()]);
    let expected =
        [("[filter:ratelimit]".to_string(), "info".to_string()), ("[app:apiv1app] limit_param_default".into(), "warning".into())];
    assert_eq!(paste_sections(not_carried(&report)), expected, "{report:#}");

    // Nova: a filter section no pipeline ran; the stock file's unused ones (other auth strategies)
    // have Essex equivalents and are not named.
    let (_, stock) = tree.upgrade("nova-paste", &["--out-dir", &tree.path("stock").display().to_string()]);
    let filters =
        |found: Vec<(String, String)>| -> Vec<(String, String)> { found.into_iter().filter(|(s, _)| s.starts_with("[filter:")).collect() };
    assert_eq!(filters(not_carried(&stock)), [], "{stock:#}");
    let paste = tree.read("etc/nova/api-paste.ini")
        + "\n[filter:sizelimit]\npaste.filter_factory = nova.api.sizelimit:RequestBodySizeLimiter.factory\n";
    fs::write(tree.path("etc/nova/api-paste.ini"), paste).unwrap();
    let (_, report) = tree.upgrade("nova-paste", &["--out-dir", &tree.path("essex").display().to_string()]);
    assert_eq!(filters(not_carried(&report)), [("[filter:sizelimit]".to_string(), "info".to_string())], "{report:#}");
    // A paste line ConfigParser cannot parse: named by its line, as Diablo refused the file.
    let paste = tree.read("etc/nova/api-paste.ini") + "half a line\n";
    let line = paste.lines().count();
    fs::write(tree.path("etc/nova/api-paste.ini"), paste).unwrap();
    let (code, report) = tree.upgrade("nova-paste", &["--out-dir", &tree.path("essex2").display().to_string()]);
    assert_eq!(code, 1, "{report:#}");
    let bad: Vec<&serde_json::Value> = report["changes"].as_array().unwrap().iter().filter(|c| c["code"] == "unparsable_line").collect();
    assert_eq!(bad.len(), 1, "{report:#}");
    assert!(bad[0]["message"].as_str().unwrap().starts_with(&format!("line {line}: neither")), "{}", bad[0]);
}
