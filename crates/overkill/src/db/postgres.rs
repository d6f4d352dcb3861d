//! PostgreSQL: a deadpool pool of tokio-postgres connections. Queries use
//! `prepare_cached`, so each statement is parsed once per connection.
//!
//! Statements that need no transaction of their own can run on a few
//! *shared* connections instead ([`PgPool::shared`]): tokio-postgres sends a
//! statement while others on the same connection still await their answers
//! (pipelining), so concurrent requests share each write to the server and
//! each read of its answers, where a connection per request costs a round
//! of system calls per statement, on both sides.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::Context;
use chassis::ops::BoxFuture;
use deadpool_postgres::{
    Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, Runtime, TimeoutType, Transaction,
};
use tokio::sync::Mutex;
pub use tokio_postgres::IsolationLevel;
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

use super::StoreError;

/// How long to wait for a connection, from the pool or a new one.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs of a transaction that keeps losing serialization races or deadlocks
/// before it fails as `Busy`.
pub const TRANSACTION_ATTEMPTS: usize = 3;

/// A pool of PostgreSQL connections, and the shared ones taken from it.
#[derive(Clone)]
pub struct PgPool {
    pool: Pool,
    shared: Arc<Shared>,
}

/// Connections taken from the pool for good and lent to many statements at
/// once, in turn. A slot is filled on first use, and refilled when its
/// connection has closed, by one request while the others wait for it.
struct Shared {
    slots: Box<[Mutex<Option<Arc<Object>>>]>,
    next: AtomicUsize,
}

// === impl PgPool ===

impl PgPool {
    /// A pool for `url` of at most `size` connections, made on demand, of
    /// which `shared` (at most `size - 1`, so that transactions always have
    /// one) serve [`PgPool::shared`].
    pub fn new(url: &str, size: usize, shared: usize) -> anyhow::Result<Self> {
        let mut config = tokio_postgres::Config::from_str(url).context("invalid PostgreSQL URL")?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        config.application_name("overkill");
        let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(CONNECT_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .recycle_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .context("failed to build the PostgreSQL pool")?;
        let slots = (0..shared.min(size.saturating_sub(1))).map(|_| Mutex::new(None)).collect();
        Ok(Self { pool, shared: Arc::new(Shared { slots, next: AtomicUsize::new(0) }) })
    }

    /// A connection for one statement outside any transaction, shared with
    /// other requests (pipelined), or a pooled one of its own when no
    /// connection is shared. Never for a transaction: another request's
    /// statements would run inside it.
    pub async fn shared(&self) -> Result<Arc<Object>, StoreError> {
        let slots = &self.shared.slots;
        if slots.is_empty() {
            return Ok(Arc::new(self.get().await?));
        }
        let slot = &slots[self.shared.next.fetch_add(1, Ordering::Relaxed) % slots.len()];
        let mut held = slot.lock().await;
        if let Some(client) = held.as_ref().filter(|client| !client.is_closed()) {
            return Ok(Arc::clone(client));
        }
        // Empty, or its connection closed (the server restarted, say): a
        // fresh one from the pool.
        let client = Arc::new(self.get().await?);
        *held = Some(Arc::clone(&client));
        Ok(client)
    }

    /// A connection from the pool, for statements that need no transaction
    /// of their own (one statement is atomic by itself). Failing to get one
    /// is an outage when the server cannot be reached, and overload (busy)
    /// when every connection stayed taken for the whole wait.
    pub async fn get(&self) -> Result<Object, StoreError> {
        self.pool.get().await.map_err(|error| match error {
            PoolError::Timeout(TimeoutType::Wait) => StoreError::Busy(error.into()),
            _ => StoreError::Unavailable(error.into()),
        })
    }

    /// Runs `work` in one transaction at `isolation` on one connection:
    /// committed when it returns `Ok`, rolled back otherwise. A serialization
    /// failure or deadlock (in `work` or at commit) runs it again, up to
    /// [`TRANSACTION_ATTEMPTS`] times, so `work` must be safe to repeat: it
    /// may only touch the database through `tx`.
    pub async fn transaction<T, F>(&self, isolation: IsolationLevel, mut work: F) -> Result<T, StoreError>
    where
        F: for<'t> FnMut(&'t Transaction<'t>) -> BoxFuture<'t, Result<T, StoreError>> + Send,
        T: Send,
    {
        let mut client = self.get().await?;
        let mut attempt = 1;
        loop {
            match attempt_transaction(&mut client, isolation, &mut work).await {
                Err(StoreError::Busy(cause)) if attempt < TRANSACTION_ATTEMPTS && lost_race(&cause) => {
                    tracing::debug!(attempt, error = format!("{cause:#}"), "transaction retried");
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    /// A trivial round trip.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let client = self.get().await?;
        client.simple_query("SELECT 1").await?;
        Ok(())
    }

    /// Closes the pool: idle and shared connections now, the others when
    /// returned.
    pub fn close(&self) {
        for slot in &self.shared.slots {
            // A slot being refilled keeps its connection until the pool
            // closes it when it is returned.
            if let Ok(mut held) = slot.try_lock() {
                held.take();
            }
        }
        self.pool.close();
    }

    /// (open connections, idle connections, maximum).
    pub fn gauges(&self) -> (usize, usize, usize) {
        let status = self.pool.status();
        (status.size, status.available, status.max_size)
    }
}

async fn attempt_transaction<T, F>(
    client: &mut Object,
    isolation: IsolationLevel,
    work: &mut F,
) -> Result<T, StoreError>
where
    F: for<'t> FnMut(&'t Transaction<'t>) -> BoxFuture<'t, Result<T, StoreError>>,
{
    let tx = client.build_transaction().isolation_level(isolation).start().await?;
    match work(&tx).await {
        Ok(value) => {
            tx.commit().await?;
            Ok(value)
        }
        Err(error) => {
            // A failed rollback means a broken connection, which the pool
            // discards; the error that matters is `work`'s.
            let _ = tx.rollback().await;
            Err(error)
        }
    }
}

fn lost_race(cause: &anyhow::Error) -> bool {
    cause.downcast_ref::<tokio_postgres::Error>().and_then(tokio_postgres::Error::code).is_some_and(is_retryable)
}

/// Sorts a driver error by cause. Lost races, lock and statement timeouts
/// are `Busy`. Only a failed connection (closed, refused,
/// an I/O error or connect timeout anywhere in the error's cause chain) or a
/// server refusing work (shutting down, out of connections) is an outage;
/// any other error without a server answer — a conversion, a type mismatch,
/// a protocol surprise — is a bug, reported as `Other`, never as 503.
pub fn classify(error: tokio_postgres::Error) -> StoreError {
    if let Some(db) = error.as_db_error() {
        let code = db.code();
        let constraint = || db.constraint().unwrap_or_default().to_owned();
        return if *code == SqlState::UNIQUE_VIOLATION {
            StoreError::UniqueViolation { constraint: constraint() }
        } else if *code == SqlState::CHECK_VIOLATION {
            StoreError::CheckViolation { constraint: constraint() }
        } else if is_retryable(code) || *code == SqlState::LOCK_NOT_AVAILABLE || *code == SqlState::QUERY_CANCELED {
            StoreError::Busy(error.into())
        } else if code.code().starts_with("08") || SERVER_UNAVAILABLE.contains(code) {
            StoreError::Unavailable(error.into())
        } else {
            StoreError::Other(error.into())
        };
    }
    if error.is_closed() || caused_by_io(&error) {
        return StoreError::Unavailable(error.into());
    }
    StoreError::Other(error.into())
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(error: tokio_postgres::Error) -> Self {
        classify(error)
    }
}

/// Server answers meaning "not now", not "wrong": it is shutting down,
/// starting up, or out of connection slots. (Class 08, connection
/// exceptions, is matched by prefix.)
const SERVER_UNAVAILABLE: &[SqlState] =
    &[SqlState::ADMIN_SHUTDOWN, SqlState::CRASH_SHUTDOWN, SqlState::CANNOT_CONNECT_NOW, SqlState::TOO_MANY_CONNECTIONS];

/// Whether the transaction lost a race that running it again can win.
fn is_retryable(code: &SqlState) -> bool {
    *code == SqlState::T_R_SERIALIZATION_FAILURE || *code == SqlState::T_R_DEADLOCK_DETECTED
}

fn caused_by_io(error: &(dyn std::error::Error + 'static)) -> bool {
    chassis::cause::find::<std::io::Error>(error).is_some()
}
