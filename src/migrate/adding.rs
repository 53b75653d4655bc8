//! A migration that adds its rows to a database another osmigrate migration built (the *base*:
//! Nova's own auth into the Keystone that `db migrate keystone` made), or to an empty one.
//!
//! It shares the target's journal under its own names (`SERVICE/STEP`, `SERVICE/source`,
//! `SERVICE/finished`) and runs every step, the journal entries and (in a target it created) the
//! version stamp in **one transaction**: the base's rows are never cleared, and an interrupted or
//! refused run leaves the target exactly as it was, so a second run simply does the whole work.
//! A finished run is a no-op while the source is unchanged, and refused when it changed.
//!
//! Target states: empty, or holding the schema without rows (what is missing of the schema and
//! journal is created, and dropped again if the run fails; the stamp is written in the
//! transaction); a *finished* base migration (added to); one where this migration already
//! finished (no-op, or refused when the source changed); anything else (refused: a foreign
//! database, an unfinished base, another service's migration).

use std::collections::BTreeMap;

use super::{JOURNAL_TABLE, Outcome, Plan, Progress, Report, Sink, SourceRecord, StepReport, journal_entries, journal_set, stamp_version};
use crate::db::Db;
use crate::db::diff::Kind;
use crate::error::{Error, Result};
use crate::schema::{MIGRATE_VERSION_TABLE, Schema};

/// Runs `plan` into a target that is empty or holds the finished migration of service `base`.
pub fn run_adding<C>(plan: Plan<'_, C>, base: &str, ctx: &mut C, progress: &dyn Progress) -> Result<Report> {
    let (mut source, fingerprint, mut target) = super::open_pair(&plan)?;
    let mine = SourceRecord::new(&plan, fingerprint);
    let url = plan.target_url.to_string();
    let key = |name: &str| format!("{}/{name}", plan.service);

    let tables = target.table_names()?;
    let journal = if tables.iter().any(|t| t == JOURNAL_TABLE) { journal_entries(&mut target)? } else { BTreeMap::new() };
    if !tables.iter().any(|t| t == JOURNAL_TABLE) && !holds_no_rows(&mut target, &plan.schema, &tables)? {
        return Err(Error::Refused(format!(
            "the target {url} already holds {} table(s) that osmigrate did not write ({}); give an empty database or one that \
             `osmigrate db migrate {base}` built",
            tables.len(),
            tables.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
        )));
    }
    if let Some(earlier) = journal.get(&key("source")) {
        let earlier: SourceRecord = serde_json::from_str(earlier).map_err(|e| Error::db_from("reading the journal", e))?;
        let changed = earlier.changes_since(&mine);
        if !changed.is_empty() {
            return Err(Error::Refused(format!(
                "the {} import into {url} was finished from this source, but the source has changed since ({})",
                plan.service,
                changed.join(", ")
            )));
        }
        if let Some(finished) = journal.get(&key("finished")) {
            let mut report: Report = serde_json::from_str(finished).map_err(|e| Error::db_from("reading the journal", e))?;
            report.outcome = Outcome::AlreadyComplete;
            return Ok(report);
        }
    }
    let on_base = match journal.get("source") {
        Some(detail) => {
            let record: SourceRecord = serde_json::from_str(detail).map_err(|e| Error::db_from("reading the journal", e))?;
            if record.service != base {
                return Err(Error::Refused(format!(
                    "the target {url} holds an osmigrate {} migration; {} adds only to a {base} database osmigrate built (or an empty one)",
                    record.service, plan.service
                )));
            }
            if !journal.contains_key("finished") {
                return Err(Error::Refused(format!(
                    "the {base} migration into {url} is unfinished: run `osmigrate db migrate {base}` again to finish it first"
                )));
            }
            true
        }
        None => false,
    };
    let mut schema = plan.schema.clone();
    schema.tables.extend(plan.own_tables.iter().cloned());
    // Missing tables are created outside the transaction, since MySQL commits on every CREATE;
    // a run that fails drops them again.
    let mut created: Vec<String> = Vec::new();
    if !on_base {
        if !tables.iter().any(|t| t == JOURNAL_TABLE) {
            target.create_table(&crate::schema::own::journal()?)?;
            created.push(JOURNAL_TABLE.to_string());
        }
        let made = target.create_schema(&schema)?;
        created.extend(made.into_iter().filter(|d| d.kind == Kind::MissingTable).map(|d| d.table));
    }

    let counted: Vec<&str> = {
        let mut names: Vec<&str> = plan.steps.iter().flat_map(|s| s.target_tables.iter().copied()).collect();
        names.sort_unstable();
        names.dedup();
        names
    };
    let target_release = match &plan.schema.stamp {
        Some(s) => format!("{} ({} version {})", plan.schema.release, s.repository_id, s.version),
        None => plan.schema.release.to_string(),
    };
    target.begin()?;
    let mut session = Sink {
        target,
        step: "",
        batches: BTreeMap::default(),
        schema,
        batch_size: plan.batch_size.max(1),
        report: StepReport::default(),
        progress,
        own_transactions: false,
        uncommitted: 0,
        loaded: BTreeMap::new(),
    };
    let result = (|| -> Result<Report> {
        let before = count_rows(&mut session.target, &counted)?;
        let mut whole = StepReport::default();
        for step in &plan.steps {
            whole.merge(super::run_step(step, &key(step.name), &mut source, &mut session, ctx, progress)?);
        }
        verify_added(&mut session.target, &before, &whole)?;
        super::verify_schema(&mut session.target, &session.schema)?;
        session.target.reset_sequences(&plan.schema)?;
        let report = Report {
            service: plan.service.to_string(),
            source: plan.source_url.to_string(),
            source_release: plan.source_release.clone(),
            target: plan.target_url.to_string(),
            target_release: target_release.clone(),
            outcome: Outcome::Migrated,
            tables: whole.tables,
            findings: whole.findings,
            files: Vec::new(),
        };
        if let (false, Some(stamp)) = (on_base, &plan.schema.stamp) {
            stamp_version(&mut session.target, &plan.schema, stamp)?;
        }
        journal_set(&mut session.target, &key("source"), "done", &serde_json::to_string(&mine).expect("serializes"))?;
        journal_set(&mut session.target, &key("finished"), "done", &serde_json::to_string(&report).expect("report serializes"))?;
        Ok(report)
    })();
    match result {
        Ok(report) => {
            session.target.commit()?;
            Ok(report)
        }
        Err(e) => {
            let _ = session.target.rollback();
            for t in created.iter().rev() {
                let q = session.target.quote(t);
                let _ = session.target.execute(&format!("DROP TABLE {q}"), &[]);
            }
            Err(e)
        }
    }
}

/// Whether every table is one of the schema's and holds no row (the version stamp aside): the
/// schema alone, as `db create` or the release's own tooling leaves it, is an empty target.
fn holds_no_rows(target: &mut Db, schema: &Schema, tables: &[String]) -> Result<bool> {
    for t in tables {
        if schema.table(t).is_none() {
            return Ok(false);
        }
        let q = target.quote(t);
        if t != MIGRATE_VERSION_TABLE && target.query_scalar(&format!("SELECT COUNT(*) FROM {q}"), &[])?.as_i64() != Some(0) {
            return Ok(false);
        }
    }
    Ok(true)
}

fn count_rows(target: &mut Db, tables: &[&str]) -> Result<BTreeMap<String, i64>> {
    let mut counts = BTreeMap::new();
    for t in tables {
        let q = target.quote(t);
        counts.insert(t.to_string(), target.query_scalar(&format!("SELECT COUNT(*) FROM {q}"), &[])?.as_i64().unwrap_or(0));
    }
    Ok(counts)
}

/// Every target table grew by exactly the rows the report says were written.
fn verify_added(target: &mut Db, before: &BTreeMap<String, i64>, report: &StepReport) -> Result<()> {
    let mut added: BTreeMap<String, i64> = before.keys().map(|t| (t.clone(), 0)).collect();
    for t in &report.tables {
        for (table, n) in &t.written {
            *added.entry(table.clone()).or_default() += *n as i64;
        }
    }
    let tables: Vec<&str> = added.keys().map(String::as_str).collect();
    let after = count_rows(target, &tables)?;
    for (table, n) in &added {
        let was = before.get(table).copied().unwrap_or(0);
        if after[table] != was + n {
            return Err(Error::db(
                "verifying the target",
                format!("table {table} went from {was} to {} rows but {n} were written; nothing was committed", after[table]),
            ));
        }
    }
    Ok(())
}
