//! PostgreSQL: a deadpool pool of tokio-postgres connections. Queries use
//! `prepare_cached`, so each statement is parsed once per connection.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

use super::StoreError;

/// How long to wait for a connection, from the pool or a new one.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A pool of PostgreSQL connections.
#[derive(Clone)]
pub struct PgPool(Pool);

// === impl PgPool ===

impl PgPool {
    /// A pool for `url` of at most `size` connections, made on demand.
    pub fn new(url: &str, size: usize) -> anyhow::Result<Self> {
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
        Ok(Self(pool))
    }

    /// A connection from the pool.
    pub async fn get(&self) -> Result<Object, StoreError> {
        self.0.get().await.map_err(|error| StoreError::Unavailable(error.into()))
    }

    /// A trivial round trip.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let client = self.get().await?;
        client.simple_query("SELECT 1").await.map_err(classify)?;
        Ok(())
    }

    /// Closes the pool: idle connections now, the others when returned.
    pub fn close(&self) {
        self.0.close();
    }

    /// (open connections, idle connections, maximum).
    pub fn gauges(&self) -> (usize, usize, usize) {
        let status = self.0.status();
        (status.size, status.available, status.max_size)
    }
}

/// Sorts a driver error into the kinds callers branch on.
pub fn classify(error: tokio_postgres::Error) -> StoreError {
    if error.code() == Some(&SqlState::UNIQUE_VIOLATION) {
        let column = match error.as_db_error().and_then(|db| db.constraint()) {
            Some(name) if name.contains("sku") => "sku",
            _ => "unknown",
        };
        return StoreError::Conflict(column);
    }
    if error.is_closed() || error.as_db_error().is_none() {
        return StoreError::Unavailable(error.into());
    }
    StoreError::Other(error.into())
}
