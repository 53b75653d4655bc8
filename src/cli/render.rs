//! The human-readable report.

use std::fmt::Write as _;

use osmigrate::migrate::{Outcome, Report, Severity};

pub fn report(r: &Report) -> String {
    let mut out = String::new();
    let outcome = match r.outcome {
        Outcome::Migrated => "migrated",
        Outcome::Resumed => "migrated (resumed an interrupted run)",
        Outcome::AlreadyComplete => "already complete for this source; nothing to do",
    };
    let _ = writeln!(out, "{}: {} → {}", r.service, r.source_release, r.target_release);
    let _ = writeln!(out, "  source   {}", r.source);
    let _ = writeln!(out, "  target   {}", r.target);
    let _ = writeln!(out, "  outcome  {outcome}");
    let _ = writeln!(out);
    let width = r.tables.iter().map(|t| t.source_table.chars().count()).max().unwrap_or(0).max(20);
    let _ = writeln!(out, "  {:<width$} {:>8}  {:<40} {:>8}", "source table", "read", "written", "skipped");
    for t in &r.tables {
        let written = if t.written.is_empty() {
            "-".to_string()
        } else {
            t.written.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
        };
        let _ = writeln!(out, "  {:<width$} {:>8}  {:<40} {:>8}", t.source_table, t.read, written, t.skipped);
    }
    for (severity, title) in [(Severity::Warning, "Warnings"), (Severity::Info, "Notes")] {
        let findings: Vec<_> = r.findings.iter().filter(|f| f.severity == severity).collect();
        if findings.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n{title}:");
        for f in findings {
            let plural = if f.count == 1 { "row" } else { "rows" };
            let _ = writeln!(out, "  [{}] {}: {} ({} {plural})", f.code, f.table, f.message, f.count);
            for row in &f.rows {
                let _ = writeln!(out, "      {row}");
            }
            if f.count as usize > f.rows.len() && !f.rows.is_empty() {
                let _ = writeln!(out, "      … and {} more", f.count as usize - f.rows.len());
            }
        }
    }
    if !r.files.is_empty() {
        let _ = writeln!(out, "\nFiles written:");
        for f in &r.files {
            let _ = writeln!(out, "  {f}");
        }
    }
    out
}
