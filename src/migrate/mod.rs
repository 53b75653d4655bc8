//! The copy-forward engine: prepare a target next to the source, run a service's steps in order
//! with a journal of what is done, stamp the target last. The source is only ever read.
//!
//! Target states: empty (fresh run), holding osmigrate's journal for this source (resume, or a
//! no-op when finished and the source is unchanged), anything else (refused).

pub mod adding;
pub mod copy;
pub mod report;

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::db::diff::{self, Difference};
use crate::db::{Access, Backend, Db, DbUrl, OnConflict, Value};
use crate::error::{Error, Result};
use crate::reason::Reason;
use crate::schema::{ColType, MIGRATE_VERSION_TABLE, Schema, Stamp, Table};
pub use report::{Finding, Outcome, Report, Severity, StepReport, TableReport};

/// osmigrate's own bookkeeping table in every target; Essex ignores it.
pub const JOURNAL_TABLE: &str = "osmigrate_journal";

/// Reports what a long step is doing; the CLI shows it on stderr, tests ignore it.
pub trait Progress {
    fn step(&self, _name: &str) {}
    fn rows(&self, _n: u64) {}
    fn done(&self) {}
    /// Where a step that runs beside the others (on a thread of its own) reports: by default
    /// nowhere.
    fn beside(&self, _step: &str) -> Box<dyn Progress + Send + Sync + '_> {
        Box::new(NoProgress)
    }
}

pub struct NoProgress;
impl Progress for NoProgress {}

/// Per source table: row count and largest integer key. A finished target is a no-op only while
/// this is unchanged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint(pub BTreeMap<String, (i64, Option<i64>)>);

impl Fingerprint {
    pub fn of(source: &mut Db, tables: &[String]) -> Result<Self> {
        let mut map = BTreeMap::new();
        for t in tables {
            let cols = source.column_names(t)?;
            let q = source.quote(t);
            let count = source.query_scalar(&format!("SELECT COUNT(*) FROM {q}"), &[])?.as_i64().unwrap_or(0);
            let max = if cols.iter().any(|c| c == "id") {
                source.query_scalar(&format!("SELECT MAX({}) FROM {q}", source.quote("id")), &[])?.as_i64()
            } else {
                None
            };
            map.insert(t.clone(), (count, max));
        }
        Ok(Fingerprint(map))
    }

    /// Tables whose count or largest key differ.
    pub fn changed_tables(&self, now: &Fingerprint) -> Vec<String> {
        let mut names: Vec<&String> = self.0.keys().chain(now.0.keys()).collect();
        names.sort();
        names.dedup();
        names.into_iter().filter(|n| self.0.get(*n) != now.0.get(*n)).cloned().collect()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SourceRecord {
    service: String,
    source: String,
    fingerprint: Fingerprint,
    /// The settings the rows were made with (an older journal has none: not compared then).
    #[serde(default)]
    settings: Vec<(String, String)>,
    /// A SQLite source's change counter (see [`sqlite_change_counter`]).
    #[serde(default)]
    source_writes: Option<u32>,
}

impl SourceRecord {
    /// What of the source changed between this record and `now`: each table whose count or
    /// largest id moved, or a SQLite write that kept them all.
    fn changes_since(&self, now: &SourceRecord) -> Vec<String> {
        let mut changed: Vec<String> = self.fingerprint.changed_tables(&now.fingerprint).iter().map(|t| format!("table {t}")).collect();
        if changed.is_empty() && self.source_writes.is_some() && self.source_writes != now.source_writes {
            changed.push("a write that kept every table's row count and largest id: the SQLite file's change counter moved".into());
        }
        changed
    }

    fn new<C>(plan: &Plan<'_, C>, fingerprint: Fingerprint) -> Self {
        SourceRecord {
            service: plan.service.to_string(),
            source: plan.source_url.to_string(),
            fingerprint,
            settings: plan.settings.clone(),
            source_writes: sqlite_change_counter(&plan.source_url),
        }
    }
}

/// A SQLite file's change counter (its header's bytes 24–27), which every committed write
/// transaction raises in the rollback-journal mode Diablo used: a write that keeps the row
/// counts and largest ids (an UPDATE) shows there. None for a server, or a file in WAL mode
/// (header bytes 18–19 = 2), which does not keep it.
fn sqlite_change_counter(url: &DbUrl) -> Option<u32> {
    let head = crate::db::sqlite_file_header(url).filter(|h| h.len() >= 28)?;
    (head[18] != 2 || head[19] != 2).then(|| u32::from_be_bytes([head[24], head[25], head[26], head[27]]))
}

/// A step of a service's migration: a name, the target tables it fills (cleared when the step is
/// re-run after an interruption), and the work.
pub struct Step<'a, C> {
    pub name: &'static str,
    pub target_tables: &'static [&'static str],
    pub run: &'a dyn Fn(&mut Db, &mut Sink, &mut C) -> Result<()>,
}

/// Where a step writes, and what it reports. The source is handed to steps separately so that a
/// step can stream from it while writing here.
pub struct Sink<'p> {
    pub target: Db,
    /// The step being run.
    pub step: &'static str,
    /// Batches written so far in this run, per target table (they name the failpoints).
    batches: BTreeMap<String, u64>,
    pub schema: Schema,
    pub batch_size: usize,
    pub report: StepReport,
    pub progress: &'p dyn Progress,
    /// True: each step runs in a transaction of its own, committed at its end with its journal
    /// entry (on MySQL also every [`COMMIT_ROWS`] rows). False: the caller holds one transaction.
    pub own_transactions: bool,
    /// Rows written in the open transaction.
    uncommitted: u64,
    /// Target tables the step has written, with what was dropped while it loads them.
    loaded: BTreeMap<String, Dropped>,
}

/// Rows per transaction on MySQL: bounded write sets (a Galera cluster refuses huge ones) and
/// undo logs. An interrupted step is cleared and redone whole, so a rolled-back transaction loses
/// nothing. SQLite and PostgreSQL load a step in one transaction: a table new in the file needs
/// no rollback journal, PostgreSQL has no undo, and PostgreSQL's keys dropped for the load come
/// back in the same transaction.
const COMMIT_ROWS: u64 = 50_000;

/// A first write this large makes a table worth loading without its keys and indexes.
const LOAD_WITHOUT_KEYS: usize = 1000;

/// The keys and indexes of a table dropped for its load (see [`Db::drop_keys_for_load`]).
#[derive(Default)]
pub(crate) struct Dropped {
    /// The statements that put them back.
    restore: Vec<String>,
    /// Dropped by a load that kept nothing, so perhaps its primary and unique keys: a later write
    /// that skips conflicting rows puts everything back first (it needs those).
    unique: bool,
}

impl Sink<'_> {
    pub fn target_table(&self, name: &str) -> &Table {
        self.schema.table(name).unwrap_or_else(|| panic!("table {name} is not in the {} schema", self.schema.service))
    }

    /// Writes rows to a target table and counts them against a source table.
    pub fn write(
        &mut self,
        source_table: &str,
        target_table: &str,
        columns: &[&str],
        rows: &[Vec<Value>],
        on_conflict: OnConflict,
    ) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let rows = self.essex_values(source_table, target_table, columns, rows)?;
        self.prepare_load(target_table, rows.len(), on_conflict)?;
        let table = self.schema.table(target_table).unwrap_or_else(|| panic!("unknown target table {target_table}"));
        let started = std::time::Instant::now();
        let inserted = self.target.insert_rows(table, columns, &rows, on_conflict)?;
        self.report.written(source_table, target_table, inserted);
        let n = self.batches.entry(target_table.to_string()).or_default();
        *n += 1;
        tracing::debug!(
            step = self.step,
            table = target_table,
            batch = *n,
            rows = inserted,
            seconds = started.elapsed().as_secs_f64(),
            "batch written"
        );
        crate::failpoint::hit(&format!("batch:{target_table}:{n}"));
        self.progress.rows(rows.len() as u64);
        self.wrote(inserted)
    }

    /// The rows with a value no Essex backend can hold as written (SQLite stores what it is
    /// given), each carried as NULL and reported with its table, row and column, or refused where
    /// the column needs a value: text or a fraction in an integer column (`memory_mb='lots'`,
    /// `vcpus=1.5`; a whole `512.0` is that integer), and text or a number in a datetime column
    /// that is no date and time (`launched_at='yesterday'`; another spelling of one, `2012-02-14`, is carried
    /// as that datetime). A NULL where the column needs a value (a MySQL zero date read as NULL)
    /// is refused here, naming the row, not by the server. Rows without such values are not
    /// copied.
    fn essex_values<'r>(
        &mut self,
        source_table: &str,
        target_table: &str,
        columns: &[&str],
        rows: &'r [Vec<Value>],
    ) -> Result<Cow<'r, [Vec<Value>]>> {
        let table = self.target_table(target_table);
        // (position, type, whether NULL may go in)
        let checked: Vec<(usize, &ColType, bool)> = columns
            .iter()
            .enumerate()
            .filter_map(|(i, c)| table.column(c).map(|c| (i, c)))
            .filter(|(_, c)| c.ty.is_integer() || c.ty == ColType::DateTime || !c.nullable && !c.autoincrement)
            .map(|(i, c)| (i, &c.ty, c.nullable || c.autoincrement))
            .collect();
        let suspect = |ty: &ColType, nullable: bool, v: &Value| match v {
            Value::Null => !nullable,
            Value::Text(t) if ty.is_integer() => t.trim().parse::<i64>().is_err(),
            Value::Float(_) => ty.is_integer() || *ty == ColType::DateTime,
            Value::Text(t) if *ty == ColType::DateTime => !crate::db::value::is_sqlalchemy_datetime(t),
            // A number where SQLAlchemy reads a datetime from SQLite text (an epoch, a julian day).
            Value::Int(_) => *ty == ColType::DateTime,
            _ => false,
        };
        let bad: Vec<(usize, usize, bool, bool)> = rows
            .iter()
            .enumerate()
            .flat_map(|(r, row)| {
                checked
                    .iter()
                    .filter(|&&(i, ty, nullable)| suspect(ty, nullable, &row[i]))
                    .map(move |&(i, ty, nullable)| (r, i, ty.is_integer(), nullable))
            })
            .collect();
        if bad.is_empty() {
            return Ok(Cow::Borrowed(rows));
        }
        let id_at = columns.iter().position(|c| *c == "id").unwrap_or(0);
        let id_secret = table.column(columns[id_at]).is_some_and(|c| c.secret);
        let mut rows = rows.to_vec();
        for (r, i, integer, nullable) in bad {
            match &rows[r][i] {
                // Within ±2^53 a whole f64 is exactly its integer.
                Value::Float(f) if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 => {
                    rows[r][i] = Value::Int(*f as i64);
                    continue;
                }
                Value::Text(t) if !integer => {
                    if let Some(d) = crate::db::value::parse_datetime(t) {
                        rows[r][i] = Value::DateTime(d);
                        continue;
                    }
                }
                _ => {}
            }
            // A token's id is the token: shown as tokens are everywhere.
            let id = rows[r][id_at].key_string().map_or_else(|| "?".into(), |id| if id_secret { crate::redact::secret(&id) } else { id });
            let column = columns[i];
            if rows[r][i].is_null() {
                return Err(Error::bad_data(source_table, id, column, format!("is NULL, but {target_table}.{column} requires a value")));
            }
            let text: String = match std::mem::replace(&mut rows[r][i], Value::Null) {
                Value::Float(f) => f.to_string(),
                Value::Int(n) => n.to_string(),
                v => v.into_key_string().unwrap_or_default(),
            };
            let text: String = text.chars().take(40).collect();
            let (kind, held, reason) = if integer {
                ("an integer", "text or a fraction", Reason::NotAnInteger)
            } else {
                ("a date and time", "text that is no date and time", Reason::NotADatetime)
            };
            if !nullable {
                let why = format!("`{text}` is not {kind}, and {target_table}.{column} requires one");
                return Err(Error::bad_data(source_table, id, column, why));
            }
            let message = format!("{target_table}.{column} holds {held}, not {kind}: carried as NULL");
            self.report.note(Severity::Warning, source_table, reason, &message, format!("id={id} {column}=`{text}`"));
        }
        Ok(Cow::Owned(rows))
    }

    /// A table's first write in a step, when large, drops its keys and indexes (PostgreSQL: they
    /// are built once over the loaded rows, much faster than maintained row by row) until the
    /// step ends. Writes that skip conflicting rows need the primary and unique keys: a first
    /// such write keeps them (and drops the foreign keys, checked row by row otherwise); a later
    /// one restores them first.
    fn prepare_load(&mut self, table: &str, rows: usize, on_conflict: OnConflict) -> Result<()> {
        let skips_conflicts = on_conflict == OnConflict::Ignore;
        match self.loaded.get_mut(table) {
            None => {
                let dropped = if self.own_transactions && rows >= LOAD_WITHOUT_KEYS {
                    let restore = self.target.drop_keys_for_load(table, skips_conflicts)?;
                    Dropped { unique: !skips_conflicts && !restore.is_empty(), restore }
                } else {
                    Dropped::default()
                };
                self.loaded.insert(table.to_string(), dropped);
            }
            Some(dropped) if skips_conflicts && dropped.unique => {
                let restore = std::mem::take(dropped);
                self.target.execute_all(&restore.restore)?;
            }
            Some(_) => {}
        }
        Ok(())
    }

    /// Restores what [`Sink::prepare_load`] dropped: at the end of a step, before it is journaled.
    pub(crate) fn finish_loads(&mut self) -> Result<()> {
        for dropped in std::mem::take(&mut self.loaded).into_values() {
            self.target.execute_all(&dropped.restore)?;
        }
        Ok(())
    }

    /// Counts rows written in the open transaction, and commits it once it holds enough.
    pub fn wrote(&mut self, rows: u64) -> Result<()> {
        self.uncommitted += rows;
        if self.own_transactions && self.target.backend() == Backend::Mysql && self.uncommitted >= COMMIT_ROWS {
            self.target.commit()?;
            self.target.begin()?;
            self.uncommitted = 0;
        }
        Ok(())
    }
}

/// Everything the engine needs to run one service's migration.
pub struct Plan<'a, C> {
    pub service: &'static str,
    pub source_url: DbUrl,
    pub target_url: DbUrl,
    pub source_release: String,
    pub schema: Schema,
    /// osmigrate's own tables in the target besides the journal (e.g. Glance's image map).
    pub own_tables: Vec<Table>,
    /// Source tables whose counts identify the source state.
    pub source_tables: Vec<String>,
    /// The settings that shape the rows (Nova's nova.conf values, Keystone's global-roles tenant
    /// and default region): a run may finish another only with the same ones.
    pub settings: Vec<(String, String)>,
    pub steps: Vec<Step<'a, C>>,
    pub batch_size: usize,
}

/// Opens the source read-only.
pub fn open_source(url: &DbUrl) -> Result<Db> {
    Db::connect(url, Access::ReadOnly)
}

/// Runs a plan: prepares the target, runs every step not yet journaled, verifies counts, stamps.
pub fn run<C>(plan: Plan<'_, C>, ctx: &mut C, progress: &dyn Progress) -> Result<Report> {
    let (source, fingerprint, mut target) = open_pair(&plan)?;
    let record = SourceRecord::new(&plan, fingerprint);
    let mut schema = plan.schema.clone();
    schema.tables.extend(plan.own_tables.iter().cloned());
    let (done, completed) = prepare_target(&mut target, &schema, &record)?;
    let target_release = match &plan.schema.stamp {
        Some(s) => format!("{} ({} version {})", plan.schema.release, s.repository_id, s.version),
        None => plan.schema.release.to_string(),
    };
    tracing::info!(service = plan.service, source = %plan.source_url, target = %plan.target_url, "migration of {} starts", plan.service);
    if let Some(finished) = done.get("finished") {
        tracing::info!(service = plan.service, "already complete for this source: the saved report");
        let mut report: Report = serde_json::from_str(finished).map_err(|e| Error::db_from("reading the journal", e))?;
        report.outcome = Outcome::AlreadyComplete;
        report.findings.extend(schema_completed(&completed).findings);
        return Ok(report);
    }
    let resumed = !done.is_empty();
    let mut source = source;
    let mut session = Sink {
        target,
        step: "",
        batches: BTreeMap::new(),
        schema,
        batch_size: plan.batch_size.max(1),
        report: StepReport::default(),
        progress,
        own_transactions: true,
        uncommitted: 0,
        loaded: BTreeMap::new(),
    };
    // Clear what unfinished steps may have left, last step first (foreign keys), and the tables
    // no step fills (rows put there by hand between a killed run and this one), in one commit.
    let filled: Vec<&str> = plan.steps.iter().flat_map(|s| s.target_tables.iter().copied()).collect();
    let unfilled: Vec<String> = session
        .schema
        .tables
        .iter()
        .rev()
        .map(|t| t.name.clone())
        .filter(|t| !filled.contains(&t.as_str()) && t != MIGRATE_VERSION_TABLE)
        .collect();
    session.target.transaction(|target| {
        let unfinished = plan.steps.iter().rev().filter(|s| !done.contains_key(s.name)).flat_map(|s| s.target_tables.iter().rev().copied());
        for t in unfilled.iter().map(String::as_str).chain(unfinished) {
            let q = target.quote(t);
            target.execute(&format!("DELETE FROM {q}"), &[])?;
        }
        Ok(())
    })?;
    session.target.set_autovacuum(session.schema.tables.iter().map(|t| t.name.as_str()), false)?;
    let mut whole = schema_completed(&completed);
    for step in &plan.steps {
        if let Some(detail) = done.get(step.name) {
            tracing::info!(service = plan.service, step = step.name, "step already done (journaled by an earlier run)");
            let earlier: StepReport = serde_json::from_str(detail).map_err(|e| Error::db_from("reading the journal", e))?;
            whole.merge(earlier);
            continue;
        }
        whole.merge(run_step(step, step.name, &mut source, &mut session, ctx, progress)?);
    }
    tracing::debug!(service = plan.service, "verifying row counts and the schema");
    if let Some((table, held, written)) = count_mismatches(&mut session.target, &session.schema, &[&whole.tables])?.into_iter().next() {
        return Err(Error::db(
            "verifying the target",
            format!("table {table} holds {held} rows but {written} were written; the target is left unstamped"),
        ));
    }
    verify_schema(&mut session.target, &session.schema)?;
    session.target.reset_sequences(&plan.schema)?;
    session.target.set_autovacuum(session.schema.tables.iter().map(|t| t.name.as_str()), true)?;
    let report = Report {
        service: plan.service.to_string(),
        source: plan.source_url.to_string(),
        source_release: plan.source_release,
        target: plan.target_url.to_string(),
        target_release,
        outcome: if resumed { Outcome::Resumed } else { Outcome::Migrated },
        tables: whole.tables,
        findings: whole.findings,
        files: Vec::new(),
    };
    // The stamp and the journal's saved report in one commit.
    session.target.transaction(|target| {
        if let Some(stamp) = &plan.schema.stamp {
            stamp_version(target, &plan.schema, stamp)?;
        }
        journal_set(target, "finished", "done", &serde_json::to_string(&report).expect("report serializes"))
    })?;
    tracing::info!(service = plan.service, findings = report.findings.len(), "migration of {} finished and stamped", plan.service);
    Ok(report)
}

/// The source (read-only) with its fingerprint, and the target (created when missing); refuses
/// a target that is the source.
fn open_pair<C>(plan: &Plan<'_, C>) -> Result<(Db, Fingerprint, Db)> {
    if plan.source_url.same_database(&plan.target_url) {
        return Err(Error::Refused(format!(
            "the target {} is the source database: osmigrate builds the {} database next to the old one, never over it",
            plan.target_url, plan.schema.release
        )));
    }
    let mut source = open_source(&plan.source_url)?;
    let fingerprint = Fingerprint::of(&mut source, &plan.source_tables)?;
    Db::create_database_if_missing(&plan.target_url)?;
    let target = Db::connect(&plan.target_url, Access::ReadWrite)?;
    Ok((source, fingerprint, target))
}

/// Runs one step, timed, and journals it under `key` with its report.
fn run_step<C>(
    step: &Step<'_, C>,
    key: &str,
    source: &mut Db,
    session: &mut Sink,
    ctx: &mut C,
    progress: &dyn Progress,
) -> Result<StepReport> {
    progress.step(step.name);
    tracing::debug!(step = step.name, "step starts");
    session.report = StepReport::default();
    session.step = step.name;
    let started = std::time::Instant::now();
    if session.own_transactions {
        session.target.begin()?;
        session.uncommitted = 0;
    }
    session.loaded.clear();
    source.take_zero_dates(); // what lookups before this step read is not this step's
    (step.run)(source, session, ctx)?;
    report_zero_dates(source, &mut session.report);
    session.finish_loads()?;
    let seconds = started.elapsed().as_secs_f64();
    for t in &mut session.report.tables {
        t.seconds = seconds;
        let written: u64 = t.written.values().sum();
        tracing::info!(step = step.name, table = %t.source_table, read = t.read, written, skipped = t.skipped, seconds, "table {} done", t.source_table);
    }
    let detail = serde_json::to_string(&session.report).expect("report serializes");
    journal_set(&mut session.target, key, "done", &detail)?;
    if session.own_transactions {
        session.target.commit()?;
    }
    progress.done();
    crate::failpoint::hit(&format!("step:{key}"));
    Ok(std::mem::take(&mut session.report))
}

/// The zero dates of the tables the step read (a table looked up by another step is reported by
/// the step that reads it), one finding per column.
fn report_zero_dates(source: &mut Db, report: &mut StepReport) {
    for ((table, column), n) in source.take_zero_dates() {
        if report.tables.iter().any(|t| t.source_table == table && t.read > 0) {
            note_zero_dates(report, &table, &column, n);
        }
    }
}

fn note_zero_dates(report: &mut StepReport, table: &str, column: &str, n: u64) {
    let message = format!("{table}.{column} held MySQL's zero date (0000-00-00 00:00:00): carried as NULL");
    report.note_many(Severity::Info, table, Reason::ZeroDate, &message, n, None);
}

/// Returns the journal's finished steps (name → detail) and what of the schema an earlier run
/// had left uncreated. Creates the journal and the schema in an empty target, and what is
/// missing of them in one an interrupted run left; refuses a target osmigrate did not make, made
/// from another source state, or whose schema differs in a way it cannot repair.
fn prepare_target(target: &mut Db, schema: &Schema, record: &SourceRecord) -> Result<(BTreeMap<String, String>, Vec<Difference>)> {
    let tables = target.table_names()?;
    let url = target.url().to_string();
    if tables.is_empty() {
        // The journal, its source record and the schema together, where DDL is transactional: a
        // run killed while making them leaves an empty target.
        return target.ddl_transaction(|target| {
            target.create_table(&crate::schema::own::journal()?)?;
            journal_set(target, "source", "done", &serde_json::to_string(record).expect("serializes"))?;
            target.create_schema(schema)?;
            Ok((BTreeMap::new(), Vec::new()))
        });
    } else if let Some(why) = not_ours(&url, &tables) {
        return Err(Error::Refused(why));
    }
    let mut done = journal_entries(target)?;
    if done.is_empty() {
        // A run stopped between creating the journal and recording its source: nothing else was
        // written yet, so this run takes the target over.
        journal_set(target, "source", "done", &serde_json::to_string(record).expect("serializes"))?;
        done.insert("source".to_string(), serde_json::to_string(record).expect("serializes"));
    }
    let earlier: SourceRecord = done.get("source").and_then(|d| serde_json::from_str(d).ok()).ok_or_else(|| {
        // A migration that adds to another's target (migrate::adding) keeps `SERVICE/source`.
        match done.keys().find_map(|k| k.strip_suffix("/source")) {
            Some(other) => Error::Refused(format!(
                "the target {url} holds an osmigrate {other} import, not {}; give an empty or new database",
                record.service
            )),
            None => Error::Refused(format!(
                "the target {url} has an osmigrate journal without its source record; give an empty or new database"
            )),
        }
    })?;
    if earlier.service != record.service {
        return Err(Error::Refused(format!("the target {url} holds an osmigrate {} migration, not {}", earlier.service, record.service)));
    }
    let state = if done.contains_key("finished") { "finished" } else { "started" };
    if earlier.source != record.source {
        return Err(Error::Refused(format!(
            "the target {url} was {state} from {}, not {}; give that source, or a new target database",
            earlier.source, record.source
        )));
    }
    // Compared by name: a setting one record lacks (an older journal's) is not a change.
    let changed: Vec<String> = earlier
        .settings
        .iter()
        .filter_map(|(name, was)| {
            let (_, now) = record.settings.iter().find(|(n, _)| n == name)?;
            (now != was).then(|| format!("{name} {was} -> {now}"))
        })
        .collect();
    if !changed.is_empty() {
        return Err(Error::Refused(format!(
            "the target {url} was {state} with other settings ({}): its rows would mix both; give the same settings \
             (nova.conf, --set, the options) to finish it, or a new target database",
            changed.join(", ")
        )));
    }
    let changed = earlier.changes_since(record);
    if !changed.is_empty() {
        return Err(Error::Refused(format!(
            "the target {url} was {state} from this source, but the source has changed since ({}); \
             give a new target database to migrate the source as it is now",
            changed.join(", ")
        )));
    }
    done.remove("source");
    // Every table, index and constraint is checked, not only every table: a run killed between a
    // CREATE TABLE and its CREATE INDEX left the table without the index.
    let completed = target.create_schema(schema)?;
    Ok((done, completed))
}

/// Why a target with these tables is refused: it holds tables osmigrate did not write (one with
/// osmigrate's journal is a run to finish, or a finished one).
pub fn not_ours(url: &str, tables: &[String]) -> Option<String> {
    (!tables.is_empty() && !tables.iter().any(|t| t == JOURNAL_TABLE)).then(|| {
        format!(
            "the target {url} already holds {} table(s) that osmigrate did not write ({}); give an empty or new database",
            tables.len(),
            tables.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
        )
    })
}

/// What a run created in a target that already held tables (an interrupted run's half-made
/// schema, a finished target that lost an index), as findings.
fn schema_completed(created: &[Difference]) -> StepReport {
    let mut report = StepReport::default();
    for d in created {
        let message = "missing from the target's schema: created";
        report.note(Severity::Info, &d.table, Reason::SchemaCompleted, message, d.to_string());
    }
    report
}

/// The whole target schema is the schema data's (every table, column, index, unique constraint
/// and foreign key), checked before the stamp says the target is complete.
fn verify_schema(target: &mut Db, schema: &Schema) -> Result<()> {
    let differences = diff::schema_diff(target, schema)?;
    if differences.is_empty() {
        return Ok(());
    }
    Err(Error::Schema {
        database: target.url().to_string(),
        context: format!("differs from the {} {} schema after the migration; the target is left unstamped", schema.release, schema.service),
        differences,
    })
}

fn journal_set(target: &mut Db, step: &str, status: &str, detail: &str) -> Result<()> {
    let table = crate::schema::own::journal()?;
    target.execute(&format!("DELETE FROM {JOURNAL_TABLE} WHERE step = ?"), &[step.into()])?;
    target.insert_rows(&table, &["step", "status", "detail"], &[vec![step.into(), status.into(), detail.into()]], OnConflict::Fail)?;
    Ok(())
}

/// Where each release's own tooling installs its migrate repository (Ubuntu packages).
fn repository_path(service: &str) -> String {
    match service {
        "keystone" => "/usr/lib/python2.7/dist-packages/keystone/common/sql/migrate_repo".into(),
        "glance" => "/usr/lib/python2.7/dist-packages/glance/registry/db/migrate_repo".into(),
        _ => format!("/usr/lib/python2.7/dist-packages/{service}/db/sqlalchemy/migrate_repo"),
    }
}

/// The journal's finished entries (name → detail).
pub(super) fn journal_entries(target: &mut Db) -> Result<BTreeMap<String, String>> {
    let mut done = BTreeMap::new();
    for r in target.query(&format!("SELECT step, status, detail FROM {JOURNAL_TABLE}"), &[])? {
        if r.get("status").as_str() == Some("done") {
            done.insert(r.get("step").key_string().unwrap_or_default(), r.get("detail").key_string().unwrap_or_default());
        }
    }
    Ok(done)
}

/// Writes the `migrate_version` row of `stamp` (the schema must have the table).
pub fn stamp_version(target: &mut Db, schema: &Schema, stamp: &Stamp) -> Result<()> {
    let table = schema.table(MIGRATE_VERSION_TABLE).cloned().expect("a stamped schema has migrate_version");
    target.execute(&format!("DELETE FROM {}", target.quote(MIGRATE_VERSION_TABLE)), &[])?;
    target.insert_rows(
        &table,
        &["repository_id", "repository_path", "version"],
        &[vec![stamp.repository_id.clone().into(), repository_path(schema.service).into(), stamp.version.into()]],
        OnConflict::Fail,
    )?;
    Ok(())
}

/// The target's tables that do not hold exactly the rows `reports` say were written, as (table,
/// rows held, rows written): a table no report wrote to must be empty (`migrate_version` aside:
/// the stamp is written last).
pub fn count_mismatches(target: &mut Db, schema: &Schema, reports: &[&[TableReport]]) -> Result<Vec<(String, i64, u64)>> {
    let mut written: BTreeMap<&str, u64> = BTreeMap::new();
    for t in reports.iter().flat_map(|r| r.iter()) {
        for (table, n) in &t.written {
            *written.entry(table.as_str()).or_default() += n;
        }
    }
    let mut out = Vec::new();
    for table in schema.tables.iter().filter(|t| t.name != MIGRATE_VERSION_TABLE) {
        let n = written.get(table.name.as_str()).copied().unwrap_or(0);
        let q = target.quote(&table.name);
        let held = target.query_scalar(&format!("SELECT COUNT(*) FROM {q}"), &[])?.as_i64().unwrap_or(-1);
        if held != n as i64 {
            out.push((table.name.clone(), held, n));
        }
    }
    Ok(out)
}

/// "Now", for token expiry: `OSMIGRATE_NOW` (`YYYY-MM-DD HH:MM:SS`, UTC) when set, else the clock.
pub fn now() -> Result<chrono::NaiveDateTime> {
    match std::env::var("OSMIGRATE_NOW") {
        Ok(s) => crate::db::value::parse_datetime(&s)
            .ok_or_else(|| Error::Usage(format!("OSMIGRATE_NOW=`{s}` is not a date and time (YYYY-MM-DD HH:MM:SS)"))),
        Err(_) => Ok(chrono::Utc::now().naive_utc()),
    }
}
