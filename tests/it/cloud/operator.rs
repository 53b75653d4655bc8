//! The operator's view: every blocker and warning of the JSON is in the human text, which opens
//! with a verdict line and uses the same severity words; wrong uses are diagnosed, not answered
//! with a raw I/O error; the same outcome has the same exit status.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::Value as Json;

use super::{build, cloud};
use crate::support::{self, osmigrate};

/// The command's human output (stdout), stderr and exit status.
fn text(command: &str, root: &Path, extra: &[&str]) -> (i32, String, String) {
    let out = osmigrate().arg(command).args(["--root", root.to_str().unwrap()]).args(extra).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Every (severity, code) of a report's findings that is not info, from its JSON.
fn problems(items: &[Json]) -> BTreeSet<(String, String)> {
    items
        .iter()
        .filter(|f| f["severity"] != "info")
        .map(|f| (f["severity"].as_str().unwrap().to_string(), f["code"].as_str().unwrap().to_string()))
        .collect()
}

/// Each problem of the JSON is shown in the text as `SEVERITY CODE (COUNT): …`.
fn assert_all_shown(problems: &BTreeSet<(String, String)>, text: &str) {
    assert!(!problems.is_empty());
    for (severity, code) in problems {
        assert!(text.contains(&format!("  {severity} {code} (")), "{severity} {code} is not shown in:\n{text}");
    }
    for debug in ["see --json", "Some(", "MISMATCH", "[ok]"] {
        assert!(!text.contains(debug), "`{debug}` in:\n{text}");
    }
}

#[test]
fn every_warning_is_shown_after_a_verdict_line() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cloud");
    let _cloud = build(&root, &support::servers()[0], "operator");

    let (code, checked, _) = cloud("check", &root, &[]);
    let (text_code, shown, _) = text("check", &root, &[]);
    assert_eq!((code, text_code), (1, 1));
    assert!(shown.starts_with(&format!("check of {}: ready, with warnings to read — 0 blockers, ", root.display())), "{shown}");
    assert_all_shown(&problems(checked["findings"].as_array().unwrap()), &shown);

    let log = dir.path().join("migrate.log");
    let (code, shown, err) = text("migrate", &root, &["--no-services", "--yes", "-v", "--log-file", log.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    // -v: each workflow step and each table, with its rows and seconds; the file the same, 0600.
    let logged = std::fs::read_to_string(&log).unwrap();
    for text in [&err, &logged] {
        for line in
            ["workflow step starts step=\"keystone-db\"", "workflow step done: ", "table tenants done step=\"tenants\" table=tenants read="]
        {
            assert!(text.contains(line), "`{line}` not logged:\n{text}");
        }
        assert!(text.contains(" seconds="), "{text}");
    }
    assert_eq!(std::fs::metadata(&log).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(shown.starts_with(&format!("migrate of {}: done, with warnings to read — 0 blockers, ", root.display())), "{shown}");
    let (_, migrated, _) = cloud("migrate", &root, &["--no-services", "--yes"]);
    let mut warned = BTreeSet::new();
    for d in migrated["databases"].as_array().unwrap() {
        warned.extend(problems(d["findings"].as_array().unwrap()));
    }
    for c in migrated["configs"].as_array().unwrap() {
        warned.extend(problems(c["changes"].as_array().unwrap()));
    }
    assert_all_shown(&warned, &shown);

    // After a rollback, verify says what is true, with the words of the JSON.
    assert_eq!(text("rollback", &root, &[]).0, 0);
    let (code, shown, _) = text("verify", &root, &[]);
    assert_eq!(code, 2);
    assert!(shown.starts_with(&format!("verify of {}: does not match the source", root.display())), "{shown}");
    assert!(shown.contains("blocker migration_finished (1)") && shown.contains("records no finished migration"), "{shown}");
    let (_, verified, _) = cloud("verify", &root, &[]);
    let finished = verified["checks"].as_array().unwrap().iter().find(|c| c["code"] == "migration_finished").unwrap();
    assert_eq!(finished["severity"], "blocker");
    assert!(finished["message"].as_str().unwrap().contains("records no finished migration"), "{finished}");
}

#[test]
fn wrong_uses_are_diagnosed() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cloud");
    let _cloud = build(&root, &support::servers()[0], "diagnosed");

    // verify and rollback on a tree that was never migrated.
    let (code, shown, err) = text("verify", &root, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(shown.contains("blocker essex_schema (3)") && shown.contains("no Essex keystone database to verify"), "{shown}");
    let (code, _, err) = text("rollback", &root, &[]);
    assert_eq!(code, 2);
    assert!(err.contains("nothing to roll back"), "{err}");

    // --root one level too deep.
    let (code, _, err) = text("check", &root.join("etc"), &[]);
    assert_eq!(code, 2);
    assert!(err.contains(&format!("give --root {}", root.display())), "{err}");

    // A state directory that is a file.
    let file = dir.path().join("state");
    std::fs::write(&file, "").unwrap();
    let (code, _, err) = text("verify", &root, &["--state-dir", file.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains(&format!("the state directory {} is not a directory", file.display())), "{err}");
}

/// The change-ticket reports: Markdown and self-contained HTML, from the same findings, secrets
/// masked; a re-run of the finished migration reports as the run did.
#[test]
fn migrate_and_verify_write_change_ticket_reports() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cloud");
    let _cloud = build(&root, &support::servers()[0], "ticket");
    assert_eq!(text("migrate", &root, &["--no-services", "--yes"]).0, 1);
    let md = dir.path().join("migrate.md");
    assert_eq!(text("migrate", &root, &["--no-services", "--yes", "--report", md.to_str().unwrap()]).0, 1);
    let html = dir.path().join("verify.html");
    assert_eq!(text("verify", &root, &["--report", html.to_str().unwrap()]).0, super::VERIFIED);
    let (md, html) = (std::fs::read_to_string(&md).unwrap(), std::fs::read_to_string(&html).unwrap());
    for part in
        ["## Databases", "## What was done", "## Rows, per source table", "## Files written", "## Findings", "| warning | role_merged |"]
    {
        assert!(md.contains(part), "{part} missing from:\n{md}");
    }
    assert!(html.starts_with("<!DOCTYPE html>") && !html.contains("src=") && !html.contains("href="), "self-contained: {html}");
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(&regex_escape(&dir.path().display().to_string()), "[tmp]");
    settings.add_filter(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", "[date]");
    settings.add_filter(r"osmigrate \d+\.\d+\.\d+ \([^)]*\)", "osmigrate [version]");
    settings.add_filter(r"\| \d+\.\d\d \|", "| [seconds] |");
    settings.add_filter(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "[uuid]");
    settings.add_filter(r"\b[0-9a-f]{32}\b", "[id]");
    settings.bind(|| {
        insta::assert_snapshot!("migrate_report_md", md);
        insta::assert_snapshot!("verify_report_html", html);
    });
}

fn regex_escape(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '/' { c.to_string() } else { format!("\\{c}") }).collect()
}

/// A Nova database without `instances` is an unusable source, said so, not a raw SQL error.
#[test]
fn a_nova_database_without_instances_is_named_unusable() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cloud");
    let sources = build(&root, &support::servers()[0], "noinstances");
    let mut nova = osmigrate::db::Db::connect(&sources[2], osmigrate::db::Access::ReadWrite).unwrap();
    nova.execute("ALTER TABLE instances RENAME TO instances_gone", &[]).unwrap();
    drop(nova);
    let (code, checked, err) = cloud("check", &root, &[]);
    assert_eq!(code, 2, "{err}");
    let blocker = checked["findings"].as_array().unwrap().iter().find(|f| f["code"] == "source_unusable").unwrap();
    assert!(blocker["message"].as_str().unwrap().contains("no `instances` table: not a whole Diablo Nova database"), "{blocker}");
}
