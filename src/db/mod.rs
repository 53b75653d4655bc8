//! Connections, one per backend, behind one small API: run a statement, stream a query in
//! batches, insert rows in multi-row statements, introspect. Statements are written with `?`
//! placeholders; the PostgreSQL backend renumbers them.

mod ddl;
mod dialect;
pub mod diff;
pub mod introspect;
mod lent;
mod mysql_backend;
mod postgres_backend;
mod sqlite_backend;
pub mod url;
pub mod value;

use std::sync::Arc;

pub use ddl::create_table_statements;
pub use dialect::database_size;
pub use sqlite_backend::file_header as sqlite_file_header;
pub use url::{Backend, DbUrl};
pub use value::Value;

use crate::error::{Error, Result};
use crate::schema::{Schema, Sequence, Table};

/// Whether a connection may write. Source connections are opened read-only, and the backend is
/// told so too (SQLite read-only open, `READ ONLY` sessions on MySQL and PostgreSQL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    ReadOnly,
    ReadWrite,
}

/// What to do when an inserted row hits an existing key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnConflict {
    Fail,
    Ignore,
}

/// A row of a query result, with its column names.
#[derive(Debug, Clone)]
pub struct Row {
    columns: Arc<[String]>,
    values: Vec<Value>,
}

impl Row {
    pub fn new(columns: Arc<[String]>, values: Vec<Value>) -> Self {
        Row { columns, values }
    }

    /// The value of a column; `Null` when the query has no such column.
    pub fn get(&self, name: &str) -> &Value {
        static NULL: Value = Value::Null;
        self.columns.iter().position(|c| c == name).map_or(&NULL, |i| &self.values[i])
    }

    pub fn values(&self) -> &[Value] {
        &self.values
    }

    /// The row's `id` as text, for messages; for a row without one (an association, a grant),
    /// the `…_id` columns it has (`user_id=alice project_id=ops`), or `?`.
    pub fn id(&self) -> String {
        if let Some(id) = self.get("id").key_string() {
            return id;
        }
        let keys: Vec<String> = self
            .columns
            .iter()
            .zip(&self.values)
            .filter(|(c, _)| c.ends_with("_id"))
            .filter_map(|(c, v)| Some(format!("{c}={}", v.key_string()?)))
            .collect();
        if keys.is_empty() { "?".into() } else { keys.join(" ") }
    }

    /// Optional text (integers rendered as decimals); text that is not UTF-8 is an error naming
    /// the table, row and field.
    pub fn text(&self, table: &str, field: &str) -> Result<Option<String>> {
        match self.get(field) {
            Value::Bytes(_) => Err(Error::bad_data(table, self.id(), field, "not valid UTF-8 text")),
            v => Ok(v.key_string()),
        }
    }

    /// Text that every row must have.
    pub fn required_text(&self, table: &str, field: &str) -> Result<String> {
        self.text(table, field)?
            .filter(|s| !s.is_empty())
            .ok_or_else(|| Error::bad_data(table, self.id(), field, "is NULL or empty, but every row needs it"))
    }

    pub fn into_values(self) -> Vec<Value> {
        self.values
    }
}

/// The rows of [`Db::pull`], in query order.
pub struct Pulled {
    batches: std::sync::mpsc::IntoIter<Result<Vec<Row>>>,
    rows: std::vec::IntoIter<Row>,
    next: Option<Row>,
}

impl Pulled {
    /// The next row if `wanted` accepts it; otherwise it stays next. `None` past the last row.
    pub fn next_if(&mut self, wanted: impl FnOnce(&Row) -> bool) -> Result<Option<Row>> {
        if self.next.is_none() {
            self.next = loop {
                if let Some(r) = self.rows.next() {
                    break Some(r);
                }
                match self.batches.next() {
                    Some(batch) => self.rows = batch?.into_iter(),
                    None => break None, // the reader finished
                }
            };
        }
        Ok(self.next.take_if(|r| wanted(r)))
    }
}

enum Conn {
    Sqlite(sqlite_backend::Lite),
    Mysql(mysql_backend::My),
    Postgres(postgres_backend::Pg),
}

/// MySQL zero dates read as NULL, per (source table, column); see [`Db::take_zero_dates`].
pub type ZeroDates = std::collections::BTreeMap<(String, String), u64>;

pub struct Db {
    conn: Conn,
    url: DbUrl,
    access: Access,
    zero_dates: ZeroDates,
    /// PostgreSQL's prepared statements, reused (other backends: unused).
    statements: postgres_backend::Statements,
    /// MySQL: whether the server takes `LOAD DATA LOCAL`, the fastest way in for a batch; tried
    /// on the first batch that could go that way, so that a connection that writes none never
    /// asks (other backends: unused).
    load_data: Option<bool>,
    /// Between [`Db::begin`] and its commit or rollback: PostgreSQL's COPY may then go on while
    /// the caller makes the next batch (outside, rows are committed when `insert_rows` returns).
    in_transaction: bool,
}

/// `?, ?, …` for an `IN (…)` list, and the ids bound to them.
pub fn in_list(ids: &[i64]) -> (String, Vec<Value>) {
    (vec!["?"; ids.len()].join(", "), ids.iter().map(|i| Value::Int(*i)).collect())
}

/// Most parameters one statement may carry, below every backend's limit.
const MAX_PARAMS: usize = 30_000;

impl Db {
    pub fn connect(url: &DbUrl, access: Access) -> Result<Self> {
        let conn = match url.backend {
            Backend::Sqlite => Conn::Sqlite(lent::Lent::new(sqlite_backend::connect(url, access)?)),
            Backend::Mysql => Conn::Mysql(lent::Lent::new(mysql_backend::connect(url, access)?)),
            Backend::Postgres => Conn::Postgres(postgres_backend::connect(url, access)?),
        };
        Ok(Db {
            conn,
            url: url.clone(),
            access,
            zero_dates: ZeroDates::new(),
            statements: postgres_backend::Statements::default(),
            load_data: None,
            in_transaction: false,
        })
    }

    /// MySQL: whether batches may go by `LOAD DATA LOCAL` (decided by trying it); off, they go as
    /// SQL-text INSERTs, as on a server that refuses it. For tests.
    #[doc(hidden)]
    pub fn set_load_data(&mut self, on: bool) {
        self.load_data = if on { None } else { Some(false) };
    }

    /// Creates the database named by `url` when it does not exist yet (MySQL, PostgreSQL: on its
    /// server; SQLite: the file's directory must exist). Returns true when it was created.
    pub fn create_database_if_missing(url: &DbUrl) -> Result<bool> {
        match url.backend {
            Backend::Sqlite => {
                let path = url.path.as_ref().expect("sqlite url has a path");
                Ok(!path.exists())
            }
            Backend::Mysql => mysql_backend::create_database_if_missing(url),
            Backend::Postgres => postgres_backend::create_database_if_missing(url),
        }
    }

    /// Drops the database named by `url` if it exists (tests and rehearsals only).
    pub fn drop_database_if_exists(url: &DbUrl) -> Result<()> {
        match url.backend {
            Backend::Sqlite => {
                let path = url.path.as_ref().expect("sqlite url has a path");
                match std::fs::remove_file(path) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(path, e)),
                    _ => Ok(()),
                }
            }
            Backend::Mysql => mysql_backend::drop_database_if_exists(url),
            Backend::Postgres => postgres_backend::drop_database_if_exists(url),
        }
    }

    pub fn url(&self) -> &DbUrl {
        &self.url
    }

    pub fn backend(&self) -> Backend {
        self.url.backend
    }

    /// Quotes an identifier for this backend.
    pub fn quote(&self, ident: &str) -> String {
        quote_ident(self.backend(), ident)
    }

    fn check_writable(&self, sql: &str) -> Result<()> {
        if self.access == Access::ReadOnly {
            let head = sql.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
            if !matches!(head.as_str(), "SELECT" | "PRAGMA" | "SHOW" | "WITH" | "SET" | "START" | "COMMIT" | "ROLLBACK") {
                return Err(Error::db(format!("using {}", self.url), "refusing to write to a read-only (source) connection"));
            }
        }
        Ok(())
    }

    /// Runs one statement that returns no rows.
    pub fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64> {
        self.check_writable(sql)?;
        let params: Vec<&Value> = params.iter().collect();
        self.execute_refs(sql, &params).map_err(|e| e.during(format!("running `{}` on {}", abbreviate(sql), self.url)))
    }

    fn execute_refs(&mut self, sql: &str, params: &[&Value]) -> std::result::Result<u64, DriverError> {
        match &mut self.conn {
            Conn::Sqlite(c) => sqlite_backend::execute(c.get()?, sql, params),
            Conn::Mysql(c) => mysql_backend::execute(c.get()?, sql, params),
            Conn::Postgres(c) => postgres_backend::execute(c.get()?, &mut self.statements, sql, params),
        }
    }

    /// Runs a script of `;`-separated statements (a dump, a fixture) as the backend's own client would.
    pub fn execute_script(&mut self, script: &str) -> Result<()> {
        self.check_writable("SCRIPT")?;
        let context = || format!("running a SQL script on {}", self.url);
        let r = match &mut self.conn {
            Conn::Sqlite(c) => c.get().and_then(|c| c.execute_batch(script).map_err(DriverError::from)),
            Conn::Mysql(c) => c.get().and_then(|c| {
                use mysql::prelude::Queryable;
                c.query_drop(script).map_err(DriverError::from)
            }),
            // The driver's own text here, as before (not the server's message).
            Conn::Postgres(c) => c.get().and_then(|c| c.batch_execute(script).map_err(|e| DriverError::with_reason(e.to_string(), e))),
        };
        r.map_err(|e| e.during(context()))
    }

    /// Runs several `;`-free statements in order.
    pub fn execute_all(&mut self, statements: &[String]) -> Result<()> {
        for s in statements {
            self.execute(s, &[])?;
        }
        Ok(())
    }

    /// Runs a query and hands its rows to `f` in batches of at most `batch_size`. A thread of its
    /// own reads the rows a few batches ahead, so that the source server, the decoding of its rows
    /// and `f` (transforms and writes to the target) work at once; never more than a few batches
    /// are held.
    pub fn stream(&mut self, sql: &str, params: &[Value], batch_size: usize, mut f: impl FnMut(Vec<Row>) -> Result<()>) -> Result<()> {
        self.read_ahead(sql, params, batch_size, |batches| {
            for batch in batches {
                f(batch?)?;
            }
            Ok(())
        })
    }

    /// PostgreSQL to PostgreSQL: the rows of `select` on this connection into `table (columns)`
    /// on `target`, as COPY text that is never parsed here (how `pg_dump | psql` moves them).
    /// `on_rows` hears of the rows copied, every `every` rows and once for the rest.
    pub fn copy_rows_into(
        &mut self,
        select: &str,
        target: &mut Db,
        table: &Table,
        columns: &[&str],
        every: u64,
        mut on_rows: impl FnMut(u64) -> Result<()>,
    ) -> Result<u64> {
        use std::io::{BufRead, Write};
        target.check_writable("COPY")?;
        let reading = format!("reading `{}` from {}", abbreviate(select), self.url);
        let writing = format!("writing {} on {}", table.name, target.url);
        let (Conn::Postgres(from), Conn::Postgres(to)) = (&mut self.conn, &mut target.conn) else {
            return Err(Error::db(writing, "a COPY between databases needs PostgreSQL on both ends"));
        };
        let copy_in = postgres_backend::copy_in_sql(&table.name, columns);
        let read_err = |e: DriverError| e.during(reading.clone());
        let write_err = |e: DriverError| e.hiding_values_of(table).during(writing.clone());
        let (from, to) = (from.get().map_err(read_err)?, to.get().map_err(write_err)?);
        let mut reader = from.copy_out(format!("COPY ({select}) TO STDOUT").as_str()).map_err(|e| read_err(e.into()))?;
        let mut writer = to.copy_in(copy_in.as_str()).map_err(|e| write_err(e.into()))?;
        let (mut pending, mut total) = (0u64, 0u64);
        loop {
            let chunk = reader.fill_buf().map_err(|e| read_err(e.into()))?;
            if chunk.is_empty() {
                break;
            }
            writer.write_all(chunk).map_err(|e| write_err(e.into()))?;
            // Text format: a row ends with the only unescaped newline it holds.
            pending += memchr::memchr_iter(b'\n', chunk).count() as u64;
            let len = chunk.len();
            reader.consume(len);
            if pending >= every {
                total += pending;
                on_rows(std::mem::take(&mut pending))?;
            }
        }
        writer.finish().map_err(|e| write_err(e.into()))?;
        if pending > 0 {
            total += pending;
            on_rows(pending)?;
        }
        Ok(total)
    }

    /// Runs `f` with the rows of a query, read a few batches ahead as [`Db::stream`] reads them;
    /// `f` takes them in order. The way to merge sorted streams (each on its own connection)
    /// without per-row lookups and without holding more than a few batches.
    pub fn pull<T>(&mut self, sql: &str, batch_size: usize, f: impl FnOnce(&mut Pulled) -> Result<T>) -> Result<T> {
        self.read_ahead(sql, &[], batch_size, |batches| f(&mut Pulled { batches, rows: Vec::new().into_iter(), next: None }))
    }

    /// Runs `consume` with the batches a reader thread sends, in order (an error ends them).
    fn read_ahead<T>(
        &mut self,
        sql: &str,
        params: &[Value],
        batch_size: usize,
        consume: impl FnOnce(std::sync::mpsc::IntoIter<Result<Vec<Row>>>) -> Result<T>,
    ) -> Result<T> {
        self.check_writable(sql)?;
        let (tx, rx) = std::sync::mpsc::sync_channel(2);
        std::thread::scope(|scope| {
            scope.spawn(move || {
                let read = self.stream_here(sql, params, batch_size, |batch| {
                    tx.send(Ok(batch)).map_err(|_| Error::db("reading ahead", "the consumer of the rows stopped"))
                });
                if let Err(e) = read {
                    let _ = tx.send(Err(e));
                }
            });
            // The receiving end is dropped when `consume` returns, before the scope joins the
            // reader: a reader still going stops at its next batch.
            consume(rx.into_iter())
        })
    }

    /// [`Db::stream`] on this thread.
    fn stream_here(&mut self, sql: &str, params: &[Value], batch_size: usize, mut f: impl FnMut(Vec<Row>) -> Result<()>) -> Result<()> {
        let url = self.url.to_string();
        let context = || format!("reading `{}` from {url}", abbreviate(sql));
        let batch_size = batch_size.max(1);
        let mut batch = Vec::with_capacity(batch_size);
        let mut on_row = |row: Row| -> Result<()> {
            batch.push(row);
            if batch.len() >= batch_size {
                f(std::mem::replace(&mut batch, Vec::with_capacity(batch_size)))?;
            }
            Ok(())
        };
        let outcome: std::result::Result<(), StreamError> = match &mut self.conn {
            Conn::Sqlite(c) => match c.get() {
                Ok(c) => sqlite_backend::stream(c, sql, params, &mut on_row),
                Err(e) => Err(StreamError::Driver(e)),
            },
            Conn::Mysql(c) => match c.get() {
                Ok(c) => mysql_backend::stream(c, sql, params, &mut self.zero_dates, &mut on_row),
                Err(e) => Err(StreamError::Driver(e)),
            },
            Conn::Postgres(c) => match c.get() {
                Ok(c) => postgres_backend::stream(c, &mut self.statements, sql, params, &mut on_row),
                Err(e) => Err(StreamError::Driver(e)),
            },
        };
        match outcome {
            Ok(()) => {}
            Err(StreamError::Callback(e)) => return Err(e),
            Err(StreamError::Driver(e)) => return Err(e.during(context())),
        }
        if !batch.is_empty() {
            f(batch)?;
        }
        Ok(())
    }

    /// The MySQL zero dates the queries since the last call read as NULL: per source table and
    /// column, the most one query saw. Other backends have none.
    pub fn take_zero_dates(&mut self) -> ZeroDates {
        std::mem::take(&mut self.zero_dates)
    }

    /// Runs a query and collects every row (for small results only).
    pub fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        self.check_writable(sql)?;
        let mut all = Vec::new();
        self.stream_here(sql, params, 1024, |batch| {
            all.extend(batch);
            Ok(())
        })?;
        Ok(all)
    }

    /// The first column of the first row, if any.
    pub fn query_scalar(&mut self, sql: &str, params: &[Value]) -> Result<Value> {
        Ok(self.query(sql, params)?.into_iter().next().and_then(|r| r.into_values().into_iter().next()).unwrap_or(Value::Null))
    }

    /// Inserts rows into a table of a known schema, converting each value to its column's type.
    /// In a transaction, rows that must all go in are handed to the connection's writer thread
    /// (see [`lent`]) and count as inserted, a refusal failing the next statement; skipped
    /// conflicts need the server's count, and outside a transaction the rows are in when this
    /// returns. Returns the number of rows inserted (fewer than given when `Ignore` skipped some).
    pub fn insert_rows(&mut self, table: &Table, columns: &[&str], rows: &[Vec<Value>], on_conflict: OnConflict) -> Result<u64> {
        if rows.is_empty() {
            return Ok(0);
        }
        for c in columns {
            if table.column(c).is_none() {
                return Err(Error::db(format!("inserting into {}", table.name), format!("no column `{c}`")));
            }
        }
        let piped = on_conflict == OnConflict::Fail && self.in_transaction;
        let during = |db: &Db| format!("inserting {} rows into {} on {}", rows.len(), table.name, db.url);
        let load_data = on_conflict == OnConflict::Fail && self.loads_data().map_err(|e| e.during(during(self)))?;
        let inserted = match (&mut self.conn, on_conflict) {
            (Conn::Postgres(c), OnConflict::Fail) => postgres_backend::copy_in(c, table, columns, rows, piped),
            (Conn::Postgres(c), OnConflict::Ignore) => postgres_backend::copy_in_skipping_conflicts(c, table, columns, rows),
            // One prepared single-row statement run per row (SQLite has no round trips to save);
            // the writer thread takes a copy of the rows.
            (Conn::Sqlite(_), _) => {
                let sql = self.insert_sql(&table.name, columns, 1, on_conflict);
                let Conn::Sqlite(c) = &mut self.conn else { unreachable!() };
                if piped {
                    c.send(table, &sql, rows.to_vec(), sqlite_backend::insert_batches).map(|()| rows.len() as u64)
                } else {
                    c.get().and_then(|c| sqlite_backend::insert(c, &sql, rows))
                }
            }
            (Conn::Mysql(_), _) => {
                let (prefix, suffix) = (self.insert_prefix(&table.name, columns), self.skipping(columns, on_conflict));
                let Conn::Mysql(c) = &mut self.conn else { unreachable!() };
                let loaded = if load_data { mysql_backend::load_data(c, table, columns, rows, piped) } else { None };
                match loaded.or_else(|| mysql_backend::insert_text(c, table, &prefix, &suffix, rows, piped)) {
                    Some(inserted) => inserted,
                    None => self.insert_multi_row(&table.name, columns, rows, on_conflict),
                }
            }
        };
        // Not piped, a writer thread's error is this statement's own.
        inserted.map_err(|e| {
            let e = e.hiding_values_of(table);
            DriverError { writing: e.writing.clone().filter(|_| piped), ..e }.during(during(self))
        })
    }

    /// MySQL: whether batches may go by `LOAD DATA LOCAL` on this connection, tried the first
    /// time it is asked (other backends: no).
    fn loads_data(&mut self) -> std::result::Result<bool, DriverError> {
        let Conn::Mysql(c) = &mut self.conn else { return Ok(false) };
        if self.load_data.is_none() {
            self.load_data = Some(mysql_backend::takes_local_files(c.get()?));
        }
        Ok(self.load_data == Some(true))
    }

    /// Multi-row INSERTs, as many rows per statement as the parameter limit allows (MySQL, for
    /// rows its text form cannot carry).
    fn insert_multi_row(
        &mut self,
        table: &str,
        columns: &[&str],
        rows: &[Vec<Value>],
        on_conflict: OnConflict,
    ) -> std::result::Result<u64, DriverError> {
        let per_statement = (MAX_PARAMS / columns.len().max(1)).max(1);
        let mut inserted = 0;
        for chunk in rows.chunks(per_statement) {
            let sql = self.insert_sql(table, columns, chunk.len(), on_conflict);
            let params: Vec<&Value> = chunk.iter().flatten().collect();
            debug_assert_eq!(params.len(), chunk.len() * columns.len());
            inserted += self.execute_refs(&sql, &params)?;
        }
        Ok(inserted)
    }

    fn insert_sql(&self, table: &str, columns: &[&str], nrows: usize, on_conflict: OnConflict) -> String {
        let one = format!("({})", vec!["?"; columns.len()].join(", "));
        let values = vec![one; nrows].join(", ");
        format!("{}{values}{}", self.insert_prefix(table, columns), self.skipping(columns, on_conflict))
    }

    /// `INSERT INTO table (columns) VALUES `.
    fn insert_prefix(&self, table: &str, columns: &[&str]) -> String {
        let cols = columns.iter().map(|c| self.quote(c)).collect::<Vec<_>>().join(", ");
        format!("INSERT INTO {} ({cols}) VALUES ", self.quote(table))
    }

    /// What follows the rows of an INSERT so that a row colliding with a primary or unique key is
    /// skipped (and not counted), and only such a row: `INSERT OR IGNORE` would also pass over a
    /// NULL in a NOT NULL column, and MySQL's `INSERT IGNORE` would write `''` or 0 in its place.
    fn skipping(&self, columns: &[&str], on_conflict: OnConflict) -> String {
        match (self.backend(), on_conflict) {
            (_, OnConflict::Fail) => String::new(),
            (Backend::Sqlite | Backend::Postgres, OnConflict::Ignore) => " ON CONFLICT DO NOTHING".into(),
            // An update that changes nothing: the row counts as 0 affected (no CLIENT_FOUND_ROWS).
            (Backend::Mysql, OnConflict::Ignore) => {
                let c = self.quote(columns[0]);
                format!(" ON DUPLICATE KEY UPDATE {c} = {c}")
            }
        }
    }

    /// Creates what of a schema the database lacks (see [`diff::ensure_schema`]): the whole
    /// schema in an empty database, the rest of one an interrupted run left half made. Returns
    /// what was created. Where DDL is transactional, in one transaction (see [`Db::ddl_transaction`]).
    pub fn create_schema(&mut self, schema: &Schema) -> Result<Vec<diff::Difference>> {
        self.ddl_transaction(|db| diff::ensure_schema(db, schema))
    }

    /// Runs `f`, which creates tables, in one transaction on SQLite and PostgreSQL, where DDL is
    /// transactional: a killed run leaves none of it, and a hundred CREATE statements cost one
    /// commit (on SQLite each commit is four fsyncs: Nova's schema 90 ms -> 10 ms on this
    /// project's VM, seconds on a slow disk). MySQL commits every CREATE, so `f` runs as it is;
    /// so it does inside a transaction already begun.
    pub fn ddl_transaction<T>(&mut self, f: impl FnOnce(&mut Db) -> Result<T>) -> Result<T> {
        if self.backend() == Backend::Mysql || self.in_transaction { f(self) } else { self.transaction(f) }
    }

    pub fn create_table(&mut self, table: &Table) -> Result<()> {
        let statements = create_table_statements(self.backend(), table);
        self.execute_all(&statements)
    }

    /// Before loading many rows into a table, in a transaction: on PostgreSQL, drops its primary
    /// and unique keys, foreign keys (its own and those naming it) and indexes, and returns the
    /// statements that put back exactly these (names and definitions read from the catalog), to
    /// run in the same transaction once the rows are in — as `pg_dump | psql` loads a table. An
    /// interrupted load rolls the drops back with it. On MySQL, drops the secondary indexes no
    /// foreign key needs (DDL commits there: see [`mysql_backend::drop_keys_for_load`]). SQLite:
    /// drops the indexes made by `CREATE INDEX` (a table's inline keys cannot be dropped there).
    /// `keep_unique`: for a load that skips conflicting rows, the primary and unique keys stay
    /// (PostgreSQL: the foreign keys and plain indexes go; MySQL: nothing; SQLite: plain indexes).
    pub fn drop_keys_for_load(&mut self, table: &str, keep_unique: bool) -> Result<Vec<String>> {
        let dropped = match &mut self.conn {
            Conn::Postgres(c) => c.get().and_then(|c| postgres_backend::drop_keys_for_load(c, table, keep_unique)),
            Conn::Mysql(_) if keep_unique => return Ok(Vec::new()),
            Conn::Mysql(c) => c.get().and_then(|c| mysql_backend::drop_keys_for_load(c, table)),
            Conn::Sqlite(c) => c.get().and_then(|c| sqlite_backend::drop_indexes_for_load(c, table, keep_unique)),
        };
        let restore = dropped.map_err(|e| e.during(format!("preparing {table} for loading on {}", self.url)))?;
        if self.backend() == Backend::Mysql && self.in_transaction && !restore.is_empty() {
            // The ALTER committed the transaction: the rest of the step goes on in a new one.
            self.execute("START TRANSACTION", &[])?;
        }
        Ok(restore)
    }

    /// On PostgreSQL, turns autovacuum off for these tables (`on == false`) or back to the
    /// server's default: a table loaded moments ago is otherwise vacuumed while the next load drops
    /// and re-adds the foreign keys that name it, and those statements wait for the vacuum (half a
    /// second after Nova's instances). Other backends: nothing to do.
    pub fn set_autovacuum<'t>(&mut self, tables: impl IntoIterator<Item = &'t str>, on: bool) -> Result<()> {
        if self.backend() != Backend::Postgres {
            return Ok(());
        }
        let setting = if on { "RESET (autovacuum_enabled)" } else { "SET (autovacuum_enabled = off)" };
        let script: String = tables.into_iter().map(|t| format!("ALTER TABLE {} {setting};\n", self.quote(t))).collect();
        if script.is_empty() { Ok(()) } else { self.execute_script(&script) }
    }

    pub fn begin(&mut self) -> Result<()> {
        let sql = if self.backend() == Backend::Sqlite { "BEGIN" } else { "START TRANSACTION" };
        self.execute(sql, &[])?;
        self.in_transaction = true;
        Ok(())
    }

    pub fn commit(&mut self) -> Result<()> {
        self.in_transaction = false;
        self.execute("COMMIT", &[]).map(|_| ())
    }

    /// Waits for the writer thread's last batch, so that the server's answer to it comes back now.
    pub fn settle(&mut self) -> Result<()> {
        let settled = match &mut self.conn {
            Conn::Postgres(c) => c.settle(),
            Conn::Mysql(c) => c.settle(),
            Conn::Sqlite(c) => c.settle(),
        };
        settled.map_err(|e| e.during(format!("waiting for the last batch on {}", self.url)))
    }

    pub fn rollback(&mut self) -> Result<()> {
        // A load in flight is rolled back with the rest; its own error, if any, is moot.
        let _ = self.settle();
        self.in_transaction = false;
        self.execute("ROLLBACK", &[]).map(|_| ())
    }

    /// Runs `f` in one transaction, committed when it succeeds.
    pub fn transaction<T>(&mut self, f: impl FnOnce(&mut Db) -> Result<T>) -> Result<T> {
        self.begin()?;
        match f(self) {
            Ok(v) => {
                self.commit()?;
                Ok(v)
            }
            Err(e) => {
                let _ = self.rollback();
                Err(e)
            }
        }
    }

    /// Names of the tables in this database.
    pub fn table_names(&mut self) -> Result<Vec<String>> {
        introspect::table_names(self)
    }

    /// Column names of a table, in order; empty when the table does not exist.
    pub fn column_names(&mut self, table: &str) -> Result<Vec<String>> {
        Ok(introspect::columns(self, table)?.into_iter().map(|c| c.name).collect())
    }

    /// Moves every PostgreSQL sequence of a schema past the largest value of the integer column it
    /// feeds: rows were loaded with explicit ids.
    pub fn reset_sequences(&mut self, schema: &Schema) -> Result<()> {
        for t in &schema.tables {
            for c in t.columns.iter().filter(|c| c.ty.is_integer()) {
                if let Some(sequence) = c.sequence() {
                    self.reset_sequence(&t.name, &c.name, sequence)?;
                }
            }
        }
        Ok(())
    }

    fn reset_sequence(&mut self, table: &str, column: &str, sequence: Sequence<'_>) -> Result<()> {
        if self.backend() != Backend::Postgres {
            return Ok(());
        }
        let sequence = match sequence {
            Sequence::Serial => format!("pg_get_serial_sequence('{}', '{column}')", self.quote(table).replace('\'', "''")),
            Sequence::Named(name) => format!("'{}'", self.quote(name).replace('\'', "''")),
        };
        let sql = format!(
            "SELECT setval({sequence}, COALESCE((SELECT MAX({c}) FROM {q}), 0) + 1, false)",
            c = self.quote(column),
            q = self.quote(table)
        );
        self.query(&sql, &[]).map(|_| ())
    }
}

pub(crate) enum StreamError {
    Driver(DriverError),
    Callback(Error),
}

/// A driver's error (or an I/O error on a driver's stream) with the text osmigrate shows for it,
/// kept whole so that it stays reachable as the `source` of the [`Error`] made from it.
#[derive(Debug)]
pub(crate) struct DriverError {
    reason: String,
    source: Box<dyn std::error::Error + Send + Sync>,
    /// The table a connection's writer thread was filling when this failed (see [`lent`]): the
    /// error comes back on the connection's next use, which is not what failed.
    writing: Option<String>,
}

impl DriverError {
    /// `reason` in place of the driver's own text (PostgreSQL's says only "db error").
    pub(crate) fn with_reason(reason: String, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        DriverError { reason, source: Box::new(source), writing: None }
    }

    /// A statement failed while doing `context` (or, for a writer thread's error, after it).
    pub(crate) fn during(self, context: impl Into<String>) -> Error {
        let context = match self.writing {
            Some(table) => format!("writing rows into {table} (the failure came back on the next statement: {})", context.into()),
            None => context.into(),
        };
        Error::Database { context, reason: self.reason, source: Some(self.source) }
    }

    /// The same error without any value the server quoted, when `table` holds secrets (a
    /// duplicate token would otherwise be shown): the driver's own error, whose text has them,
    /// is replaced too.
    pub(crate) fn hiding_values_of(self, table: &Table) -> Self {
        if !table.holds_secrets() {
            return self;
        }
        let t = &table.name;
        let mut names = vec![t.clone(), "PRIMARY".to_string(), format!("{t}.PRIMARY"), format!("{t}_pkey")];
        names.extend(table.columns.iter().map(|c| c.name.clone()));
        names.extend(table.indexes.iter().map(|i| i.name.clone()));
        names.extend(table.uniques.iter().map(|u| format!("{t}_{}_key", u.join("_"))));
        let reason = crate::redact::quoted_values(&self.reason, |quoted| names.iter().any(|n| n == quoted));
        DriverError { source: Box::new(std::io::Error::other(reason.clone())), reason, writing: self.writing }
    }

    /// The server or file at `url` could not be reached or opened (`url` displays redacted).
    pub(crate) fn connecting(self, url: impl std::fmt::Display) -> Error {
        Error::Connect { url: url.to_string(), reason: self.reason, source: Some(self.source) }
    }
}

impl From<rusqlite::Error> for DriverError {
    fn from(e: rusqlite::Error) -> Self {
        DriverError::with_reason(e.to_string(), e)
    }
}

impl From<mysql::Error> for DriverError {
    fn from(e: mysql::Error) -> Self {
        DriverError::with_reason(e.to_string(), e)
    }
}

impl From<std::io::Error> for DriverError {
    fn from(e: std::io::Error) -> Self {
        DriverError::with_reason(e.to_string(), e)
    }
}

pub fn quote_ident(backend: Backend, ident: &str) -> String {
    match backend {
        Backend::Mysql => format!("`{}`", ident.replace('`', "``")),
        _ => format!("\"{}\"", ident.replace('"', "\"\"")),
    }
}

/// The first line of a statement, shortened for messages (statements carry no secrets: values
/// are always bound as parameters).
fn abbreviate(sql: &str) -> String {
    let one_line = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > 120 { format!("{}…", one_line.chars().take(120).collect::<String>()) } else { one_line }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connect_error(url: &DbUrl, access: Access) -> Error {
        Db::connect(url, access).err().expect("the connection fails")
    }

    fn caused_by<E: std::error::Error + 'static>(e: &Error) -> bool {
        std::error::Error::source(e).is_some_and(<dyn std::error::Error + 'static>::is::<E>)
    }

    #[test]
    fn rows_are_named_by_id_or_by_their_keys() {
        let row = |cols: &[&str], values: Vec<Value>| Row::new(cols.iter().map(ToString::to_string).collect(), values);
        assert_eq!(row(&["id", "user_id"], vec![Value::Int(7), "alice".into()]).id(), "7");
        assert_eq!(
            row(&["user_id", "project_id", "role"], vec!["alice".into(), "ops".into(), "admin".into()]).id(),
            "user_id=alice project_id=ops"
        );
        assert_eq!(row(&["role", "origin"], vec!["admin".into(), "x".into()]).id(), "?");
    }

    #[test]
    fn connection_errors_keep_the_drivers_error_and_hide_the_password() {
        // Nothing listens on port 1: each driver's own refusal, no server needed.
        for (url, mysql) in [("mysql://u:hunter2@127.0.0.1:1/x", true), ("postgresql://u:hunter2@127.0.0.1:1/x", false)] {
            let e = connect_error(&DbUrl::parse(url).unwrap(), Access::ReadOnly);
            let text = e.to_string();
            assert!(text.starts_with(&format!("cannot connect to {}: ", url.replace("hunter2", "****"))), "{text}");
            assert!(!text.contains("hunter2") && !format!("{e:?}").contains("hunter2"), "{e:?}");
            assert!(if mysql { caused_by::<mysql::Error>(&e) } else { caused_by::<postgres::Error>(&e) }, "{e:?}");
        }
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.db");
        std::fs::write(&junk, b"this is not a database, just some text that is long enough to matter").unwrap();
        let e = connect_error(&DbUrl::sqlite(&junk), Access::ReadOnly);
        assert!(e.to_string().contains(": not a SQLite database ("), "{e}");
        assert!(caused_by::<rusqlite::Error>(&e), "{e:?}");
        let e = connect_error(&DbUrl::sqlite(&dir.path().join("no/such/dir.db")), Access::ReadWrite);
        assert!(caused_by::<std::io::Error>(&e), "{e:?}");
        let e = connect_error(&DbUrl::sqlite(&dir.path().join("missing.db")), Access::ReadOnly);
        assert!(e.to_string().ends_with(": no such file") && std::error::Error::source(&e).is_none(), "{e:?}");
    }

    #[test]
    fn statement_errors_keep_the_drivers_error() {
        let dir = tempfile::tempdir().unwrap();
        let url = DbUrl::sqlite(&dir.path().join("t.db"));
        let mut db = Db::connect(&url, Access::ReadWrite).unwrap();
        let e = db.execute("DELETE FROM missing", &[]).unwrap_err();
        assert_eq!(e.to_string(), format!("database error while running `DELETE FROM missing` on {url}: no such table: missing"));
        assert!(caused_by::<rusqlite::Error>(&e), "{e:?}");
        let e = db.stream("SELECT * FROM missing", &[], 10, |_| Ok(())).unwrap_err();
        assert!(e.to_string().starts_with("database error while reading `SELECT * FROM missing` from "), "{e}");
        assert!(caused_by::<rusqlite::Error>(&e), "{e:?}");
        let e = db.execute_script("CREATE TABLE t (a); INSERT INTO nowhere VALUES (1);").unwrap_err();
        assert!(caused_by::<rusqlite::Error>(&e), "{e:?}");
    }
}
