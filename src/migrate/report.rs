//! What a migration did, as a value: per source table, rows read, rows written per target
//! table, rows skipped; and findings, each with a reason code, a readable message, a count and
//! sample rows. The CLI renders it; `--json` prints it as is.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How many example rows a finding keeps.
const SAMPLES: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Expected and handled (a global role moved to `systenant`, an expired token dropped).
    Info,
    /// Needs the operator's eye: something was skipped, merged or could not be expressed.
    Warning,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Finding {
    pub severity: Severity,
    /// Stable reason code, e.g. `global_role_moved`, `orphan_user`.
    pub code: String,
    /// The source table the rows come from.
    pub table: String,
    pub message: String,
    pub count: u64,
    /// Up to ten examples naming the rows (ids and names, never secrets).
    pub rows: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TableReport {
    pub source_table: String,
    pub read: u64,
    /// Rows written, per target table.
    pub written: BTreeMap<String, u64>,
    /// Source rows not carried over (each counted in a finding with its reason).
    pub skipped: u64,
    /// Time spent on the step(s) that read this table.
    #[serde(default)]
    pub seconds: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Built the target from scratch.
    Migrated,
    /// Finished a run that had been interrupted.
    Resumed,
    /// The target was already complete for this unchanged source: nothing done.
    AlreadyComplete,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Report {
    pub service: String,
    pub source: String,
    pub source_release: String,
    pub target: String,
    pub target_release: String,
    pub outcome: Outcome,
    pub tables: Vec<TableReport>,
    pub findings: Vec<Finding>,
    /// Files written besides the database (catalog templates, maps).
    pub files: Vec<String>,
}

impl Report {
    pub fn has_warnings(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Warning)
    }

    /// 0 clean, 1 done with warnings.
    pub fn exit_status(&self) -> i32 {
        i32::from(self.has_warnings())
    }

    pub fn finding(&self, code: &str) -> Option<&Finding> {
        self.findings.iter().find(|f| f.code == code)
    }
}

/// Collects one step's tables and findings.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct StepReport {
    pub tables: Vec<TableReport>,
    pub findings: Vec<Finding>,
}

impl StepReport {
    fn table_mut(&mut self, source_table: &str) -> &mut TableReport {
        if let Some(i) = self.tables.iter().position(|t| t.source_table == source_table) {
            return &mut self.tables[i];
        }
        self.tables.push(TableReport { source_table: source_table.to_string(), ..Default::default() });
        self.tables.last_mut().expect("just pushed")
    }

    pub fn read(&mut self, source_table: &str, n: u64) {
        self.table_mut(source_table).read += n;
    }

    pub fn written(&mut self, source_table: &str, target_table: &str, n: u64) {
        *self.table_mut(source_table).written.entry(target_table.to_string()).or_default() += n;
    }

    /// Records a source row that was not carried over.
    pub fn skip(&mut self, source_table: &str, code: &str, message: &str, row: impl Into<String>) {
        self.table_mut(source_table).skipped += 1;
        self.note(Severity::Warning, source_table, code, message, row);
    }

    /// Records a row that was carried over in an altered form, or a fact worth saying.
    pub fn note(&mut self, severity: Severity, source_table: &str, code: &str, message: &str, row: impl Into<String>) {
        self.note_many(severity, source_table, code, message, 1, Some(row.into()));
    }

    pub fn note_many(&mut self, severity: Severity, source_table: &str, code: &str, message: &str, count: u64, row: Option<String>) {
        if count == 0 {
            return;
        }
        let existing = self.findings.iter_mut().find(|f| f.code == code && f.table == source_table && f.message == message);
        let finding = if let Some(f) = existing {
            f
        } else {
            self.findings.push(Finding {
                severity,
                code: code.to_string(),
                table: source_table.to_string(),
                message: message.to_string(),
                count: 0,
                rows: Vec::new(),
            });
            self.findings.last_mut().expect("just pushed")
        };
        finding.count += count;
        if let Some(row) = row {
            if finding.rows.len() < SAMPLES {
                finding.rows.push(row);
            }
        }
    }

    pub fn merge(&mut self, other: StepReport) {
        for t in other.tables {
            let mine = self.table_mut(&t.source_table);
            mine.read += t.read;
            mine.skipped += t.skipped;
            mine.seconds += t.seconds;
            for (k, v) in t.written {
                *mine.written.entry(k).or_default() += v;
            }
        }
        for f in other.findings {
            let rows = f.rows.clone();
            self.note_many(f.severity, &f.table, &f.code, &f.message, f.count, None);
            let mine = self.findings.iter_mut().find(|m| m.code == f.code && m.table == f.table && m.message == f.message).expect("noted");
            for r in rows {
                if mine.rows.len() < SAMPLES {
                    mine.rows.push(r);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_aggregate_with_bounded_samples() {
        let mut s = StepReport::default();
        for i in 0..25 {
            s.skip("user_roles", "orphan_user", "user missing", format!("id={i}"));
        }
        assert_eq!(s.findings.len(), 1);
        assert_eq!(s.findings[0].count, 25);
        assert_eq!(s.findings[0].rows.len(), SAMPLES);
        assert_eq!(s.tables[0].skipped, 25);
    }
}
