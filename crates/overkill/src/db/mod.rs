//! Storage engines: PostgreSQL for production, embedded SQLite for zero
//! set-up. Feature modules (`products`, …) hold their own queries for both;
//! this module owns connections, transactions, migrations, health, and the
//! sorting of errors by cause. It knows no feature's tables or words.
//!
//! Transactions: store functions take a connection or a transaction, never
//! the pool, and the caller decides the unit of work —
//! [`postgres::PgPool::transaction`] and [`sqlite::SqliteDb::transaction`]
//! run a closure in one transaction (PostgreSQL retrying serialization
//! failures and deadlocks). A feature spanning tables (an order reserving
//! stock, inserting itself and claiming an idempotency key) calls each
//! table's store functions inside one such closure.

mod error;
mod migrations;
pub mod postgres;
pub mod sqlite;

use anyhow::Context;
use chassis::ops::{BoxFuture, Readiness};

pub use self::error::StoreError;
use crate::config::DatabaseUrl;

/// A connected database: a PostgreSQL pool or an embedded SQLite file.
#[derive(Clone)]
pub enum Database {
    /// A pool of PostgreSQL connections.
    Postgres(postgres::PgPool),
    /// An embedded SQLite database.
    Sqlite(sqlite::SqliteDb),
}

// === impl Database ===

impl Database {
    /// Opens the database `url` names with at most `pool_size` connections,
    /// `shared` of them shared by single statements (PostgreSQL only).
    /// PostgreSQL connections are made lazily, so this succeeds while the
    /// server is down; SQLite opens (and creates) the file now.
    pub async fn connect(url: &DatabaseUrl, pool_size: usize, shared: usize) -> anyhow::Result<Self> {
        match url {
            DatabaseUrl::Postgres(_) => {
                let url = url.postgres_url().unwrap_or_default();
                Ok(Self::Postgres(postgres::PgPool::new(url, pool_size, shared)?))
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
            Self::Sqlite(db) => db.transaction(|tx| Ok(migrations::sqlite(tx)?)).await.map_err(anyhow::Error::from),
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
