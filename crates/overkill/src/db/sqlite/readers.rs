//! The read-only connections, lent one per query.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use anyhow::Context;
use rusqlite::{Connection, OpenFlags};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{BUSY_TIMEOUT, STATEMENT_CACHE};
use crate::db::StoreError;

/// A fixed set of read-only connections. A query first waits, as an async
/// task, for a permit (one per connection), and only then takes a blocking
/// thread: so reads never hold more threads than there are readers, and a
/// read never waits on a thread that is only waiting for a connection.
pub struct Readers {
    /// Connections not lent out. Never empty while a permit is free.
    idle: Mutex<Vec<Connection>>,
    permits: Arc<Semaphore>,
    size: usize,
}

/// A reader lent for one query: returned to the pool when dropped (also
/// when the query panics), before its permit is released.
pub struct Lease {
    connection: Option<Connection>,
    readers: Arc<Readers>,
    _permit: OwnedSemaphorePermit,
}

// === impl Readers ===

impl Readers {
    /// Opens `size` (at least one) read-only connections to `path`. Blocking.
    pub fn open(path: &Path, size: usize) -> anyhow::Result<Self> {
        let size = size.max(1);
        let connections = (0..size).map(|_| open_reader(path)).collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Self { idle: Mutex::new(connections), permits: Arc::new(Semaphore::new(size)), size })
    }

    /// Waits for a free reader.
    pub async fn lease(self: &Arc<Self>) -> Result<Lease, StoreError> {
        let permit = self.permits.clone().acquire_owned().await.map_err(|closed| {
            // Never closed: the semaphore lives as long as the readers.
            StoreError::Other(anyhow::Error::new(closed).context("the SQLite reader pool is closed"))
        })?;
        let connection = self.idle().pop();
        Ok(Lease { connection, readers: self.clone(), _permit: permit })
    }

    /// How many readers there are.
    pub fn size(&self) -> usize {
        self.size
    }

    /// How many readers are not lent out.
    pub fn available(&self) -> usize {
        self.idle().len()
    }

    /// Only pushes and pops happen under this lock, neither of which panics,
    /// so a poisoned lock still guards a consistent list.
    fn idle(&self) -> MutexGuard<'_, Vec<Connection>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn open_reader(path: &Path) -> anyhow::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags).context("failed to open a SQLite reader")?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

// === impl Lease ===

impl Lease {
    /// The leased connection. Its absence cannot happen (a permit
    /// guarantees an idle connection), but is a bug to report, not a panic.
    pub fn connection(&self) -> Result<&Connection, StoreError> {
        self.connection
            .as_ref()
            .ok_or_else(|| StoreError::Other(anyhow::anyhow!("no idle SQLite reader under a permit")))
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(connection) = self.connection.take() {
            self.readers.idle().push(connection);
        }
    }
}
