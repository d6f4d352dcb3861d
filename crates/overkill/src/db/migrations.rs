//! Embedded migrations, applied in order, each once.
//!
//! Hand-written rather than refinery: we need the same few steps on two
//! engines under a lock that stops several instances starting at once from
//! applying a migration twice (a PostgreSQL advisory lock; SQLite's
//! `BEGIN IMMEDIATE`), and that is all a migration runner has to do here.

use anyhow::Context;

use super::postgres::PgPool;

/// A migration: its version (applied in ascending order) and its SQL.
struct Migration {
    version: i64,
    name: &'static str,
    sql: &'static str,
}

const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        name: "create_products",
        sql: include_str!("../../migrations/postgres/0001_create_products.sql"),
    },
    Migration {
        version: 2,
        name: "create_orders",
        sql: include_str!("../../migrations/postgres/0002_create_orders.sql"),
    },
];

const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        name: "create_products",
        sql: include_str!("../../migrations/sqlite/0001_create_products.sql"),
    },
    // PostgreSQL named these constraints in its migration 1 already.
    Migration {
        version: 2,
        name: "name_product_constraints",
        sql: include_str!("../../migrations/sqlite/0002_name_product_constraints.sql"),
    },
    Migration {
        version: 3,
        name: "create_orders",
        sql: include_str!("../../migrations/sqlite/0003_create_orders.sql"),
    },
];

/// Arbitrary key of the advisory lock that serialises migration runs.
const LOCK_KEY: i64 = 0x6f76_6572_6b69_6c6c; // "overkill"

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS overkill_migrations (
    version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)";

/// Applies pending PostgreSQL migrations in one transaction, under an
/// advisory lock held until it commits.
pub async fn postgres(pool: &PgPool) -> anyhow::Result<usize> {
    let mut client = pool.get().await.context("failed to connect to PostgreSQL")?;
    let tx = client.transaction().await.context("failed to begin the migration transaction")?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY]).await.context("failed to take the migration lock")?;
    tx.batch_execute(CREATE_TABLE).await.context("failed to create the migrations table")?;
    let applied: Vec<i64> = tx
        .query("SELECT version FROM overkill_migrations", &[])
        .await
        .context("failed to read applied migrations")?
        .iter()
        .map(|row| row.get(0))
        .collect();
    let mut count = 0;
    for migration in POSTGRES.iter().filter(|m| !applied.contains(&m.version)) {
        tx.batch_execute(migration.sql)
            .await
            .with_context(|| format!("migration {} ({}) failed", migration.version, migration.name))?;
        tx.execute(
            "INSERT INTO overkill_migrations (version, name, applied_at) VALUES ($1, $2, now()::text)",
            &[&migration.version, &migration.name],
        )
        .await
        .context("failed to record a migration")?;
        count += 1;
    }
    tx.commit().await.context("failed to commit migrations")?;
    Ok(count)
}

/// Applies pending SQLite migrations in `tx`, an `IMMEDIATE` transaction
/// (see `SqliteDb::transaction`), which holds the write lock before reading
/// what was applied.
pub fn sqlite(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<usize> {
    tx.execute_batch(CREATE_TABLE)?;
    let applied: Vec<i64> = tx
        .prepare("SELECT version FROM overkill_migrations")?
        .query_map([], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut count = 0;
    for migration in SQLITE.iter().filter(|m| !applied.contains(&m.version)) {
        tx.execute_batch(migration.sql)?;
        tx.execute(
            "INSERT INTO overkill_migrations (version, name, applied_at) VALUES (?1, ?2, datetime('now'))",
            (migration.version, migration.name),
        )?;
        count += 1;
    }
    Ok(count)
}
