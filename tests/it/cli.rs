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
fn demo_runs_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let (code, report, stderr) = run_json(&["demo", dir.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(report[0]["service"], "keystone");
    assert_eq!(report[1]["service"], "glance");
    assert!(report.as_array().unwrap().iter().all(|r| r["outcome"] == "migrated"));
    assert!(dir.path().join("glance-image-map.csv").exists());
    assert!(dir.path().join("default_catalog.templates").exists());
}
