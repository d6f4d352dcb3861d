//! Embedded SQLite: one writer connection and a set of read-only connections,
//! used from blocking threads so the async workers never wait on disk.
//!
//! A small hand-written pool rather than r2d2/deadpool-sqlite: SQLite allows
//! one writer at a time, and giving writes their own connection (WAL mode lets
//! readers run alongside it) is the whole design; generic pools cannot express
//! it.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::Context;
use rusqlite::{Connection, ErrorCode, OpenFlags, Params, Row, Statement, Transaction, TransactionBehavior};

use super::StoreError;

/// How long a statement waits for a lock held by another process.
const BUSY_TIMEOUT_MS: u32 = 5_000;

/// What a write-ahead log left larger than this is truncated to when it is
/// reset after a checkpoint. Auto-checkpoints run every 1000 pages (4 MiB),
/// so the log normally stays under this; the limit reclaims the space a burst
/// (or a long read that held the checkpoint back) made it grow to.
const JOURNAL_SIZE_LIMIT_BYTES: u64 = 8 * 1024 * 1024;

/// Prepared statements kept per connection: room for every list variant
/// (sort × filters × cursor) a busy service sees, plus the CRUD statements.
const STATEMENT_CACHE: usize = 128;

/// An open SQLite database.
#[derive(Clone)]
pub struct SqliteDb(Arc<Inner>);

struct Inner {
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
}

// === impl SqliteDb ===

impl SqliteDb {
    /// Opens (creating if missing) the database at `path` with `readers`
    /// read-only connections. Blocking.
    pub fn open(path: &Path, readers: usize) -> anyhow::Result<Self> {
        let writer =
            Connection::open(path).with_context(|| format!("failed to open SQLite database {}", path.display()))?;
        // WAL lets readers proceed while the writer commits; NORMAL sync is
        // durable across process crashes, and the usual choice with WAL.
        writer
            .execute_batch(&format!(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = {BUSY_TIMEOUT_MS};
                 PRAGMA journal_size_limit = {JOURNAL_SIZE_LIMIT_BYTES};"
            ))
            .context("failed to configure SQLite")?;
        writer.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let readers =
            (0..readers.max(1)).map(|_| open_reader(path).map(Mutex::new)).collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Self(Arc::new(Inner { writer: Mutex::new(writer), readers, next_reader: AtomicUsize::new(0) })))
    }

    /// Runs `query` on a read-only connection, on a blocking thread.
    pub async fn read<T, F>(&self, query: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let inner = self.0.clone();
        run_blocking(move || query(&inner.reader())).await
    }

    /// Runs `work` in one `IMMEDIATE` transaction on the writer connection,
    /// on a blocking thread: committed when it returns `Ok`, rolled back
    /// otherwise. Every write goes through here. `IMMEDIATE` takes the write
    /// lock up front, so a transaction never fails half-way on a lock; and
    /// the `COMMIT` statement, stepped to completion, is what runs SQLite's
    /// auto-checkpoint, whatever the statements inside left unstepped.
    pub async fn transaction<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> rusqlite::Result<T> + Send + 'static,
    {
        let inner = self.0.clone();
        run_blocking(move || {
            let mut writer = lock(&inner.writer);
            let tx = writer.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let value = work(&tx)?;
            tx.commit()?;
            Ok(value)
        })
        .await
    }

    /// Checkpoints the write-ahead log into the database and truncates it to
    /// zero bytes: the shutdown step that leaves one self-contained file.
    /// Returns whether the checkpoint completed (readers still inside the log
    /// can hold it back).
    pub async fn checkpoint(&self) -> Result<bool, StoreError> {
        let inner = self.0.clone();
        run_blocking(move || {
            // (busy, log frames, checkpointed frames); busy = 1 when blocked.
            let busy: i64 = lock(&inner.writer).query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| row.get(0))?;
            Ok(busy == 0)
        })
        .await
    }

    /// A trivial read.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.read(|conn| conn.query_row("SELECT 1", [], |_| Ok(()))).await
    }

    /// (connections, idle connections, maximum).
    pub fn gauges(&self) -> (usize, usize, usize) {
        let all = self.0.readers.len() + 1;
        let idle = self.0.readers.iter().chain([&self.0.writer]).filter(|c| c.try_lock().is_ok()).count();
        (all, idle, all)
    }
}

impl Inner {
    /// A free reader if there is one, else the next in turn (waiting for it).
    fn reader(&self) -> MutexGuard<'_, Connection> {
        if let Some(free) = self.readers.iter().find_map(|reader| reader.try_lock().ok()) {
            return free;
        }
        let turn = self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len();
        lock(&self.readers[turn])
    }
}

fn open_reader(path: &Path) -> anyhow::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags).context("failed to open a SQLite reader")?;
    conn.busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS.into()))?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// Runs `statement` (an `INSERT`/`UPDATE`/`DELETE … RETURNING`) to
/// completion and maps its first row, if any. `query_row` would stop after
/// the first row and reset the statement: SQLite then commits an autocommit
/// write without running the auto-checkpoint, and the log grows for ever.
/// Stepping until SQLite reports "done" is how a write statement must end.
pub fn returning<T, P, F>(statement: &mut Statement<'_>, params: P, map: F) -> rusqlite::Result<Option<T>>
where
    P: Params,
    F: FnOnce(&Row<'_>) -> rusqlite::Result<T>,
{
    let mut rows = statement.query(params)?;
    let first = rows.next()?.map(map).transpose()?;
    while rows.next()?.is_some() {}
    Ok(first)
}

/// Locks a connection. A poisoned lock only means another query panicked;
/// the connection itself is still consistent (SQLite rolls back), so reuse it.
fn lock(connection: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    connection.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn run_blocking<T, F>(work: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce() -> rusqlite::Result<T> + Send + 'static,
{
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result.map_err(classify),
        Err(join) => Err(StoreError::Other(anyhow::anyhow!("SQLite task failed: {join}"))),
    }
}

/// Sorts a SQLite error into the kinds callers branch on.
pub fn classify(error: rusqlite::Error) -> StoreError {
    match error.sqlite_error() {
        Some(e) if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE => StoreError::Conflict("sku"),
        Some(e) if matches!(e.code, ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            StoreError::Unavailable(error.into())
        }
        _ => StoreError::Other(error.into()),
    }
}
