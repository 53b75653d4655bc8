//! A server connection that may be lent to a thread writing one table's batches, so that the
//! engine makes the next batch while the server takes the last ones, instead of one round trip
//! per batch (PostgreSQL: one `COPY … FROM STDIN`; MySQL: its loads or INSERTs in order;
//! SQLite: its rows through one prepared INSERT).
//! Anything else run on the connection first waits for the writer to end ([`Lent::get`]), and
//! reports its error if it failed.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use super::DriverError;
use crate::schema::Table;

/// Batches waiting for the server at most: a slow server holds the engine back.
const WAITING_BATCHES: usize = 4;

/// What a writer thread runs: takes the batches in order until the sender is dropped, and
/// returns how many rows went in.
pub type Write<C, B> = fn(&mut C, &str, Receiver<B>) -> std::result::Result<u64, DriverError>;

/// A connection of type `C`, and `B` what its writer takes: a batch of rows in some form.
pub struct Lent<C: Send + 'static, B: Send + 'static = Vec<u8>> {
    state: State<C, B>,
}

enum State<C, B> {
    Idle(C),
    Writing(Writer<C, B>),
    /// Only while the connection passes between the two.
    Moving,
}

struct Writer<C, B> {
    /// The table being filled (its name, and whether its errors must hide values).
    table: Box<Table>,
    /// What the writer was started with (the COPY or INSERT): batches for the same go on.
    statement: String,
    batches: SyncSender<B>,
    thread: JoinHandle<(C, std::result::Result<u64, DriverError>)>,
}

impl<C: Send + 'static, B: Send + 'static> Lent<C, B> {
    pub fn new(conn: C) -> Self {
        Lent { state: State::Idle(conn) }
    }

    /// The connection, once any writer has ended (its error, if it failed).
    pub fn get(&mut self) -> std::result::Result<&mut C, DriverError> {
        self.settle()?;
        match &mut self.state {
            State::Idle(conn) => Ok(conn),
            State::Writing(_) | State::Moving => unreachable!("settled above"),
        }
    }

    /// Ends the writer, if any: waits for the server to take its last batch.
    pub fn settle(&mut self) -> std::result::Result<(), DriverError> {
        if !matches!(self.state, State::Writing(_)) {
            return Ok(());
        }
        let State::Writing(writer) = std::mem::replace(&mut self.state, State::Moving) else { unreachable!("matched above") };
        drop(writer.batches);
        let (conn, outcome) = writer.thread.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        self.state = State::Idle(conn);
        outcome.map(|_| ()).map_err(|e| DriverError { writing: Some(writer.table.name.clone()), ..e.hiding_values_of(&writer.table) })
    }

    /// Hands a batch to the writer of `statement` into `table`, starting one with `write` (and
    /// ending any other) first.
    pub fn send(&mut self, table: &Table, statement: &str, batch: B, write: Write<C, B>) -> std::result::Result<(), DriverError> {
        let batch = match &self.state {
            State::Writing(w) if w.table.name == table.name && w.statement == statement => match w.batches.send(batch) {
                Ok(()) => return Ok(()),
                // The writer stopped taking batches: its outcome says why.
                Err(std::sync::mpsc::SendError(batch)) => batch,
            },
            _ => batch,
        };
        self.settle()?;
        let State::Idle(mut conn) = std::mem::replace(&mut self.state, State::Moving) else { unreachable!("settled above") };
        let (batches, received) = sync_channel::<B>(WAITING_BATCHES);
        let sql = statement.to_string();
        let thread = std::thread::spawn(move || {
            let outcome = write(&mut conn, &sql, received);
            (conn, outcome)
        });
        let sent = batches.send(batch);
        self.state = State::Writing(Writer { table: Box::new(table.clone()), statement: statement.to_string(), batches, thread });
        if sent.is_err() {
            self.settle()?;
        }
        Ok(())
    }
}

impl<C: Send + 'static, B: Send + 'static> Drop for Lent<C, B> {
    fn drop(&mut self) {
        let _ = self.settle();
    }
}
