//! Embedded SQLite: one writer connection and a set of read-only connections,
//! used from blocking threads so the async workers never wait on disk.
//!
//! A small hand-written pool rather than r2d2/deadpool-sqlite: SQLite allows
//! one writer at a time, and giving writes their own connection (WAL mode lets
//! readers run alongside it) is the whole design; generic pools cannot express
//! it.
//!
//! Threads: a query waits for its connection as an async task and takes a
//! blocking thread only once it has one, so at most `readers + 1` blocking
//! threads are ever busy with SQLite. Writers queued behind a lock that
//! another process holds (for up to the busy timeout) wait without threads,
//! and can never take the threads readers need.

mod classify;
mod readers;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use rusqlite::{Connection, Params, Row, Statement, Transaction, TransactionBehavior};

pub use self::classify::classify;
use self::readers::Readers;
use super::StoreError;

/// How long a statement waits for a lock held by another process; a write
/// waits this long in all, for the writer connection and then the lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

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
    /// The one read-write connection. An async lock, taken before a thread is.
    writer: Arc<tokio::sync::Mutex<Connection>>,
    readers: Arc<Readers>,
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
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = {};
                 PRAGMA journal_size_limit = {JOURNAL_SIZE_LIMIT_BYTES};",
                BUSY_TIMEOUT.as_millis()
            ))
            .context("failed to configure SQLite")?;
        writer.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let readers = Arc::new(Readers::open(path, readers)?);
        Ok(Self(Arc::new(Inner { writer: Arc::new(tokio::sync::Mutex::new(writer)), readers })))
    }

    /// Runs `query` on a read-only connection, on a blocking thread.
    pub async fn read<T, F>(&self, query: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let lease = self.0.readers.lease().await?;
        run_blocking(move || query(lease.connection()?)).await
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
        F: FnOnce(&Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        // One deadline for the whole wait, however long the queue: for the
        // writer connection here, then for the file lock (another process's)
        // with what remains of it as the busy timeout.
        let deadline = Instant::now() + BUSY_TIMEOUT;
        let Ok(mut writer) = tokio::time::timeout_at(deadline.into(), self.0.writer.clone().lock_owned()).await else {
            return Err(StoreError::Busy(anyhow::anyhow!("timed out waiting for the SQLite writer")));
        };
        run_blocking(move || {
            writer.busy_timeout(deadline.saturating_duration_since(Instant::now()))?;
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
        let writer = self.0.writer.clone().lock_owned().await;
        run_blocking(move || {
            // (busy, log frames, checkpointed frames); busy = 1 when blocked.
            let busy: i64 = writer.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| row.get(0))?;
            Ok(busy == 0)
        })
        .await
    }

    /// A trivial read.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.read(|conn| Ok(conn.query_row("SELECT 1", [], |_| Ok(()))?)).await
    }

    /// (connections, idle connections, maximum).
    pub fn gauges(&self) -> (usize, usize, usize) {
        let all = self.0.readers.size() + 1;
        let idle = self.0.readers.available() + usize::from(self.0.writer.try_lock().is_ok());
        (all, idle, all)
    }
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

/// Runs `work` on a blocking thread. The connection `work` owns (a lease or
/// the writer's guard) moves with it, so a caller that gives up waiting does
/// not free the connection before the query ends.
async fn run_blocking<T, F>(work: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, StoreError> + Send + 'static,
{
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(join) => Err(StoreError::Other(anyhow::anyhow!("SQLite task failed: {join}"))),
    }
}
