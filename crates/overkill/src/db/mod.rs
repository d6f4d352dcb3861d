//! Storage engines: PostgreSQL for production, embedded SQLite for zero
//! set-up. Feature modules (`products`, …) hold their own queries for both;
//! this module owns connections, migrations and health.

mod migrations;
pub mod postgres;
pub mod sqlite;

use anyhow::Context;
use chassis::ops::{BoxFuture, Readiness};

use crate::config::DatabaseUrl;

/// A connected database: a PostgreSQL pool or an embedded SQLite file.
#[derive(Clone)]
pub enum Database {
    /// A pool of PostgreSQL connections.
    Postgres(postgres::PgPool),
    /// An embedded SQLite database.
    Sqlite(sqlite::SqliteDb),
}

/// A storage failure, as callers need to tell them apart.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint was violated; carries the constraint's column.
    #[error("unique constraint violated on {0}")]
    Conflict(&'static str),
    /// The database could not be reached or did not answer in time.
    #[error("database unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// Anything else: a bug or corrupt data.
    #[error("database error")]
    Other(#[source] anyhow::Error),
}

// === impl Database ===

impl Database {
    /// Opens the database `url` names with at most `pool_size` connections.
    /// PostgreSQL connections are made lazily, so this succeeds while the
    /// server is down; SQLite opens (and creates) the file now.
    pub async fn connect(url: &DatabaseUrl, pool_size: usize) -> anyhow::Result<Self> {
        match url {
            DatabaseUrl::Postgres(_) => {
                let url = url.postgres_url().unwrap_or_default();
                Ok(Self::Postgres(postgres::PgPool::new(url, pool_size)?))
            }
            DatabaseUrl::Sqlite(path) => {
                let path = path.clone();
                let db = tokio::task::spawn_blocking(move || sqlite::SqliteDb::open(&path, pool_size))
                    .await
                    .context("SQLite open task failed")??;
                Ok(Self::Sqlite(db))
            }
        }
    }

    /// Applies pending migrations; returns how many ran. Safe to run from
    /// several instances at once.
    pub async fn migrate(&self) -> anyhow::Result<usize> {
        match self {
            Self::Postgres(pool) => migrations::postgres(pool).await,
            Self::Sqlite(db) => db.transaction(migrations::sqlite).await.map_err(anyhow::Error::from),
        }
    }

    /// Releases the database at shutdown, after the last request: closes the
    /// PostgreSQL pool; checkpoints SQLite's write-ahead log and truncates it,
    /// so the file is complete on its own. Failures are logged, not returned:
    /// there is nothing left to do about them.
    pub async fn close(&self) {
        match self {
            Self::Postgres(pool) => pool.close(),
            Self::Sqlite(db) => match db.checkpoint().await {
                Ok(true) => tracing::debug!("SQLite log checkpointed and truncated"),
                Ok(false) => tracing::warn!("SQLite log not truncated: a reader was still active"),
                Err(error) => {
                    tracing::warn!(error = format!("{:#}", anyhow::Error::from(error)), "SQLite checkpoint failed");
                }
            },
        }
    }

    /// Engine name for logs.
    pub fn engine(&self) -> &'static str {
        match self {
            Self::Postgres(_) => "postgres",
            Self::Sqlite(_) => "sqlite",
        }
    }
}

impl Readiness for Database {
    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            match self {
                Self::Postgres(pool) => pool.ping().await,
                Self::Sqlite(db) => db.ping().await,
            }
            .map_err(|error| format!("{:#}", anyhow::Error::from(error)))
        })
    }

    fn record_gauges(&self) {
        let (size, idle, max) = match self {
            Self::Postgres(pool) => pool.gauges(),
            Self::Sqlite(db) => db.gauges(),
        };
        metrics::gauge!("db_pool_connections").set(size as f64);
        metrics::gauge!("db_pool_idle_connections").set(idle as f64);
        metrics::gauge!("db_pool_max_connections").set(max as f64);
    }
}

/// The client's view of a storage failure. Logged here, where it is handled:
/// the cause stays in the log, the client gets only the kind.
impl From<StoreError> for chassis::Problem {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict("sku") => Self::conflict("a product with this sku already exists"),
            StoreError::Conflict(_) => Self::conflict("the request conflicts with existing data"),
            StoreError::Unavailable(cause) => {
                tracing::warn!(error = format!("{cause:#}"), "database unavailable");
                Self::unavailable("the database is unavailable; retry shortly")
            }
            StoreError::Other(cause) => {
                tracing::error!(error = format!("{cause:#}"), "database error");
                Self::internal()
            }
        }
    }
}
