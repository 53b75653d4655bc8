//! The change-ticket report (`migrate --report FILE.md|FILE.html`, `verify --report …`): one
//! document model, rendered as Markdown or as a self-contained HTML page (inline style, no
//! scripts, nothing fetched). Built from the same findings the terminal shows; every value in it
//! was already masked by the library.

use std::fmt::Write as _;

use osmigrate::deploy::{MigrateReport, VerifyReport};

use super::render::{Findings, Item};

pub enum Block {
    Heading(String),
    Para(String),
    /// Text shown as the terminal shows it.
    Pre(String),
    Table {
        head: Vec<&'static str>,
        rows: Vec<Vec<String>>,
    },
}

pub struct Document {
    pub title: String,
    pub blocks: Vec<Block>,
}

impl Document {
    fn new(title: String, verdict: &str) -> Document {
        let when = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S UTC");
        let about = format!(
            "{}osmigrate {} ({}) · {when}",
            if verdict.is_empty() { String::new() } else { format!("{} · ", verdict.trim_end()) },
            env!("CARGO_PKG_VERSION"),
            env!("OSMIGRATE_COMMIT")
        );
        Document { title, blocks: vec![Block::Para(about)] }
    }

    fn heading(&mut self, text: impl Into<String>) {
        self.blocks.push(Block::Heading(text.into()));
    }

    fn table(&mut self, head: Vec<&'static str>, rows: Vec<Vec<String>>) {
        if rows.is_empty() {
            self.blocks.push(Block::Para("None.".into()));
        } else {
            self.blocks.push(Block::Table { head, rows });
        }
    }

    /// Every finding: blockers, then warnings, then info, each with its objects and fix.
    fn findings(&mut self, findings: &Findings) {
        let mut items: Vec<&Item> = findings.items.iter().collect();
        items.sort_by_key(|i| std::cmp::Reverse(i.severity));
        let rows = items
            .iter()
            .map(|i| {
                let more = i.count.saturating_sub(i.rows.len() as u64);
                let mut objects = i.rows.join("; ");
                if more > 0 && !i.rows.is_empty() {
                    let _ = write!(objects, "; … and {more} more");
                }
                vec![
                    i.severity.to_string(),
                    i.code.to_string(),
                    i.subject.clone(),
                    i.message.clone(),
                    i.count.to_string(),
                    objects,
                    if i.severity == osmigrate::reason::Severity::Info { String::new() } else { i.fix.clone() },
                ]
            })
            .collect();
        self.table(vec!["severity", "code", "where", "what", "count", "objects", "fix"], rows);
    }

    pub fn of_migrate(r: &MigrateReport, findings: &Findings, verdict: &str) -> Document {
        let mut d = Document::new(format!("osmigrate migrate of {}", r.root), verdict);
        d.heading("Databases");
        d.table(
            vec!["service", "source", "release", "target", "release", "outcome"],
            r.databases
                .iter()
                .map(|db| {
                    vec![
                        db.service.clone(),
                        db.source.clone(),
                        db.source_release.clone(),
                        db.target.clone(),
                        db.target_release.clone(),
                        db.outcome.to_string(),
                    ]
                })
                .collect(),
        );
        d.heading("What was done");
        d.table(
            vec!["step", "status", "detail"],
            r.steps.iter().map(|s| vec![s.name.clone(), s.status.clone(), s.detail.clone()]).collect(),
        );
        d.heading("Rows, per source table");
        let mut rows = Vec::new();
        for db in &r.databases {
            for t in &db.tables {
                let written = t.written.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ");
                rows.push(vec![
                    db.service.clone(),
                    t.source_table.clone(),
                    t.read.to_string(),
                    written,
                    t.skipped.to_string(),
                    format!("{:.2}", t.seconds),
                ]);
            }
        }
        d.table(vec!["service", "source table", "read", "written", "skipped", "seconds"], rows);
        d.heading("Files written");
        let mut files = Vec::new();
        for c in &r.configs {
            for f in &c.files {
                files.push(vec![
                    c.command.clone(),
                    f.path.clone(),
                    f.mode.clone(),
                    f.owner.clone().unwrap_or_default(),
                    f.backup.clone().unwrap_or_default(),
                ]);
            }
        }
        d.table(vec!["by", "file", "mode", "owner", "previous kept as"], files);
        d.heading("Findings");
        d.findings(findings);
        d
    }

    /// Any command's report: its findings.
    pub fn of_findings(title: String, findings: &Findings, verdict: &str) -> Document {
        let mut d = Document::new(title, verdict);
        d.heading("Findings");
        d.findings(findings);
        d
    }

    /// A command without findings (plan, rollback, install): its text as the terminal shows it.
    pub fn of_text(title: String, text: &str) -> Document {
        let mut d = Document::new(title, "");
        d.blocks.push(Block::Pre(text.to_string()));
        d
    }

    pub fn of_verify(r: &VerifyReport, findings: &Findings, verdict: &str) -> Document {
        let mut d = Document::new(format!("osmigrate verify of {}", r.root), verdict);
        d.heading("Checks");
        d.findings(findings);
        d
    }

    pub fn markdown(&self) -> String {
        let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
        let mut out = format!("# {}\n", self.title);
        for b in &self.blocks {
            match b {
                Block::Heading(h) => {
                    let _ = write!(out, "\n## {h}\n");
                }
                Block::Para(p) => {
                    let _ = write!(out, "\n{p}\n");
                }
                Block::Pre(text) => {
                    let _ = write!(out, "\n```text\n{text}```\n");
                }
                Block::Table { head, rows } => {
                    let _ = write!(out, "\n| {} |\n|{}\n", head.join(" | "), "---|".repeat(head.len()));
                    for r in rows {
                        let _ = writeln!(out, "| {} |", r.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | "));
                    }
                }
            }
        }
        out
    }

    pub fn html(&self) -> String {
        let e = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
        let mut out = format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>\n\
             body {{ font-family: sans-serif; margin: 2em; }}\n\
             table {{ border-collapse: collapse; margin: 0.5em 0; }}\n\
             th, td {{ border: 1px solid #999; padding: 0.2em 0.5em; text-align: left; vertical-align: top; }}\n\
             th {{ background: #eee; }}\n\
             td.blocker {{ color: #a00; font-weight: bold; }}\n\
             td.warning {{ color: #a60; font-weight: bold; }}\n\
             </style>\n</head>\n<body>\n<h1>{}</h1>\n",
            e(&self.title),
            e(&self.title)
        );
        for b in &self.blocks {
            match b {
                Block::Heading(h) => {
                    let _ = writeln!(out, "<h2>{}</h2>", e(h));
                }
                Block::Para(p) => {
                    let _ = writeln!(out, "<p>{}</p>", e(p));
                }
                Block::Pre(text) => {
                    let _ = writeln!(out, "<pre>{}</pre>", e(text));
                }
                Block::Table { head, rows } => {
                    out.push_str("<table>\n<tr>");
                    for h in head {
                        let _ = write!(out, "<th>{}</th>", e(h));
                    }
                    out.push_str("</tr>\n");
                    for r in rows {
                        out.push_str("<tr>");
                        for c in r {
                            let class = if matches!(c.as_str(), "blocker" | "warning") { format!(" class=\"{c}\"") } else { String::new() };
                            let _ = write!(out, "<td{class}>{}</td>", e(c));
                        }
                        out.push_str("</tr>\n");
                    }
                    out.push_str("</table>\n");
                }
            }
        }
        out.push_str("</body>\n</html>\n");
        out
    }
}
