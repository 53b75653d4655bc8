//! The command line's promises: exit statuses, refusals with exact messages, no secrets.

use crate::support::{osmigrate, run_json};

#[test]
fn help_and_version_exit_zero_and_bad_usage_exits_64() {
    osmigrate().arg("--help").assert().code(0);
    osmigrate().arg("--version").assert().code(0);
    osmigrate().args(["db", "migrate", "keystone"]).assert().code(64);
    osmigrate().arg("no-such-command").assert().code(64);
    osmigrate().args(["db", "migrate", "keystone", "--from", "oracle://x", "--to", "sqlite:///x.db"]).assert().code(64);
}

#[test]
fn completions_and_man_pages_come_from_the_command_line_definition() {
    let out = osmigrate().args(["completions", "bash"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let script = String::from_utf8(out.stdout).unwrap();
    assert!(script.contains("_osmigrate()"), "a bash completion function:\n{script}");
    for word in ["migrate", "verify", "rollback", "--create-service-users", "--state-dir"] {
        assert!(script.contains(word), "completes `{word}`");
    }
    osmigrate().args(["completions", "tcsh"]).assert().code(64);

    let out = osmigrate().arg("man").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(page.starts_with(".ie \\n(.g .ds Aq"), "roff:\n{}", &page[..page.len().min(200)]);
    assert!(page.contains(".TH osmigrate 1") && page.contains("migrate"), "{page}");

    let dir = tempfile::tempdir().unwrap();
    osmigrate().args(["man", "--out-dir"]).arg(dir.path()).assert().code(0);
    for page in ["osmigrate.1", "osmigrate-migrate.1", "osmigrate-db-migrate-keystone.1"] {
        let text = std::fs::read_to_string(dir.path().join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.contains(".TH"), "{page} is a man page");
    }
}

#[test]
fn demo_runs_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let (code, report, stderr) = run_json(&["demo", dir.path().to_str().unwrap()]);
    assert_eq!(code, 0, "a verified migration (its warnings are the demo's point): {stderr}");
    let databases = report["migrate"]["databases"].as_array().unwrap();
    assert_eq!(databases.iter().map(|r| r["service"].as_str().unwrap()).collect::<Vec<_>>(), ["keystone", "glance", "nova"]);
    assert!(databases.iter().all(|r| r["outcome"] == "migrated"));
    // The demo's attached volumes get the connection_info Essex's iSCSI driver would find.
    let bdm = databases[2]["findings"].as_array().unwrap().iter().find(|f| f["code"] == "bdm_connection_info_rebuilt").unwrap();
    assert_eq!(bdm["count"], 2, "{bdm}");
    assert!(bdm["rows"][0].as_str().unwrap().ends_with("iscsi 192.168.0.20:3260 iqn.2010-10.org.openstack:volume-00000001 lun 0"), "{bdm}");
    // Everything matched; the demo tree has no etc/passwd, so only that is a warning.
    let checks = report["verify"]["checks"].as_array().unwrap();
    assert!(checks.iter().all(|c| c["severity"] == "info" || c["code"] == "service_user_unknown"), "{}", report["verify"]);
    assert!(dir.path().join("var/lib/osmigrate/glance-image-map.csv").exists());
    assert!(dir.path().join("etc/keystone/default_catalog.templates").exists());
}
