//! The one rendering of findings for every command (check, migrate, verify, `db migrate`,
//! `config …`): a verdict line with totals first, then every blocker and warning in full, grouped
//! by reason code with counts, each naming its objects and its fix; then the notes, one line each.
//! The words are the JSON's severity words.

use std::fmt::Write as _;

use osmigrate::config::report::{Change, ConfigReport};
use osmigrate::deploy::Check;
use osmigrate::migrate::{Finding, Report};
use osmigrate::reason::{Reason, Severity};

use super::exit::ExitStatus;

/// One finding as the text shows it, whatever report it came from.
pub struct Item {
    pub severity: Severity,
    pub code: Reason,
    /// Where: a table, a file and setting, a step.
    pub subject: String,
    pub message: String,
    pub count: u64,
    /// The objects by name (ids, files, uuids), as many as the report kept.
    pub rows: Vec<String>,
    pub fix: String,
}

impl Item {
    pub fn of_finding(subject: &str, f: &Finding) -> Item {
        Item {
            severity: f.severity,
            code: f.code,
            subject: if subject.is_empty() { f.table.clone() } else { format!("{subject} {}", f.table) },
            message: f.message.clone(),
            count: f.count,
            rows: f.rows.clone(),
            fix: f.code.fix().to_string(),
        }
    }

    pub fn of_change(c: &Change) -> Item {
        let mut message = c.message.clone();
        match (&c.from, &c.to) {
            (Some(f), Some(t)) => {
                let _ = write!(message, " ({f} → {t})");
            }
            (Some(f), None) => {
                let _ = write!(message, " (was {f})");
            }
            (None, Some(t)) => {
                let _ = write!(message, " (now {t})");
            }
            (None, None) => {}
        }
        let subject = if c.setting.is_empty() { c.file.clone() } else { format!("{} {}", c.file, c.setting) };
        Item {
            severity: c.severity,
            code: c.code,
            subject,
            message,
            count: 1,
            rows: c.origin.iter().map(|o| format!("at {o}")).collect(),
            fix: c.code.fix().to_string(),
        }
    }

    pub fn of_check(c: &Check) -> Item {
        Item {
            severity: c.severity,
            code: c.code,
            subject: c.reported_by.clone().unwrap_or_default(),
            message: c.message.clone(),
            count: c.count.unwrap_or(1),
            rows: c.rows.clone(),
            fix: if c.fix.is_empty() { c.code.fix().to_string() } else { c.fix.clone() },
        }
    }
}

/// Findings gathered from one or more reports.
#[derive(Default)]
pub struct Findings {
    pub items: Vec<Item>,
}

/// The words of a command's verdict: when blocked, when warned, when clean.
pub struct Verdict {
    pub blocked: &'static str,
    pub warned: &'static str,
    pub clean: &'static str,
}

impl Findings {
    pub fn of_report(r: &Report) -> Findings {
        Findings { items: r.findings.iter().map(|f| Item::of_finding("", f)).collect() }
    }

    /// A config report's changes; the file is named once (in the header) when all are in one.
    pub fn of_config(r: &ConfigReport) -> Findings {
        let one_file = r.changes.windows(2).all(|w| w[0].file == w[1].file);
        let mut items: Vec<Item> = r.changes.iter().map(Item::of_change).collect();
        if one_file {
            for (item, c) in items.iter_mut().zip(&r.changes) {
                item.subject.clone_from(&c.setting);
            }
        }
        Findings { items }
    }

    pub fn of_checks(checks: &[Check]) -> Findings {
        Findings { items: checks.iter().map(Item::of_check).collect() }
    }

    pub fn extend(&mut self, other: Findings) {
        self.items.extend(other.items);
    }

    fn total(&self, severity: Severity) -> u64 {
        self.items.iter().filter(|i| i.severity == severity).map(|i| i.count).sum()
    }

    pub fn worst(&self) -> Option<Severity> {
        self.items.iter().map(|i| i.severity).max()
    }

    pub fn exit_status(&self) -> ExitStatus {
        ExitStatus::of_worst(self.worst())
    }

    /// `check: blocked — 2 blockers, 5 warnings, 40 info`
    pub fn verdict(&self, command: &str, words: &Verdict) -> String {
        let word = match self.worst() {
            Some(Severity::Blocker) => words.blocked,
            Some(Severity::Warning) => words.warned,
            _ => words.clean,
        };
        let plural = |n: u64, one: &str| if n == 1 { format!("{n} {one}") } else { format!("{n} {one}s") };
        format!(
            "{command}: {word} — {}, {}, {} info\n",
            plural(self.total(Severity::Blocker), "blocker"),
            plural(self.total(Severity::Warning), "warning"),
            self.total(Severity::Info)
        )
    }

    /// Every blocker and warning in full, grouped by code; then the notes, one line each.
    pub fn render(&self, out: &mut String) {
        for (severity, title) in [(Severity::Blocker, "Blockers"), (Severity::Warning, "Warnings")] {
            let items: Vec<&Item> = self.items.iter().filter(|i| i.severity == severity).collect();
            if items.is_empty() {
                continue;
            }
            let _ = writeln!(out, "\n{title} ({}):", self.total(severity));
            for code in codes_in_order(&items) {
                let group: Vec<&&Item> = items.iter().filter(|i| i.code == code).collect();
                let n: u64 = group.iter().map(|i| i.count).sum();
                let _ = writeln!(out, "  {severity} {code} ({n}): {}", code.meaning());
                for item in &group {
                    let count = if item.count > 1 { format!(" ({})", item.count) } else { String::new() };
                    let subject = if item.subject.is_empty() { String::new() } else { format!("{}: ", item.subject) };
                    let _ = writeln!(out, "    - {subject}{}{count}", item.message);
                    for row in &item.rows {
                        let _ = writeln!(out, "        {row}");
                    }
                    let shown = item.rows.len() as u64;
                    if shown > 0 && item.count > shown {
                        let _ =
                            writeln!(out, "        … and {} more (osmigrate keeps the first {shown} of each finding)", item.count - shown);
                    }
                    if item.fix != code.fix() {
                        let _ = writeln!(out, "      fix: {}", item.fix);
                    }
                }
                if group.iter().any(|i| i.fix == code.fix()) {
                    let _ = writeln!(out, "    fix: {}", code.fix());
                }
            }
        }
        let info: Vec<&Item> = self.items.iter().filter(|i| i.severity == Severity::Info).collect();
        if !info.is_empty() {
            let _ = writeln!(out, "\nInfo ({}):", self.total(Severity::Info));
            for item in info {
                let count = if item.count > 1 { format!(" ({})", item.count) } else { String::new() };
                let subject = if item.subject.is_empty() { String::new() } else { format!("{}: ", item.subject) };
                let _ = writeln!(out, "  info {}{count}: {subject}{}", item.code, item.message);
                if !item.rows.is_empty() {
                    let more = item.count.saturating_sub(item.rows.len() as u64);
                    let more = if more > 0 { format!(" … and {more} more") } else { String::new() };
                    let _ = writeln!(out, "      {}{more}", item.rows.join("; "));
                }
            }
        }
    }
}

/// The codes of `items`, each once, in the order they first appear.
fn codes_in_order(items: &[&Item]) -> Vec<Reason> {
    let mut codes: Vec<Reason> = Vec::new();
    for i in items {
        if !codes.contains(&i.code) {
            codes.push(i.code);
        }
    }
    codes
}

/// A database migration's report: what was read and written per table, then its findings.
pub fn report(r: &Report) -> String {
    let findings = Findings::of_report(r);
    let mut out = findings.verdict(
        &format!("db migrate {}", r.service),
        &Verdict { blocked: "refused", warned: "done, with warnings to read", clean: "done" },
    );
    out.push_str(&report_body(r));
    findings.render(&mut out);
    if !r.files.is_empty() {
        let _ = writeln!(out, "\nFiles written:");
        for f in &r.files {
            let _ = writeln!(out, "  {f}");
        }
    }
    out
}

/// The header and per-table accounting of a database migration (without its findings).
pub fn report_body(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}: {} → {}", r.service, r.source_release, r.target_release);
    let _ = writeln!(out, "  source   {}", r.source);
    let _ = writeln!(out, "  target   {}", r.target);
    let _ = writeln!(out, "  outcome  {}", r.outcome);
    let width = r.tables.iter().map(|t| t.source_table.chars().count()).max().unwrap_or(0).max(20);
    let _ = writeln!(out, "\n  {:<width$} {:>8}  {:<40} {:>8} {:>8}", "source table", "read", "written", "skipped", "seconds");
    for t in &r.tables {
        let written = if t.written.is_empty() {
            "-".to_string()
        } else {
            t.written.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
        };
        let _ = writeln!(out, "  {:<width$} {:>8}  {:<40} {:>8} {:>8.2}", t.source_table, t.read, written, t.skipped, t.seconds);
    }
    out
}
