//! The storage seams features build on: transactions on both engines, errors
//! sorted by cause, constraints by name, and SQLite migrations that keep
//! existing data.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use overkill::config::DatabaseUrl;
use overkill::db::postgres::{IsolationLevel, PgPool, TRANSACTION_ATTEMPTS};
use overkill::db::sqlite::SqliteDb;
use overkill::db::{Database, StoreError};
use serde_json::Value;
use testkit::postgres::TestDatabase;

use crate::support::{new_product, spawn_app_on};

const TABLE: &str = "CREATE TABLE t (id BIGINT PRIMARY KEY, n BIGINT NOT NULL CONSTRAINT t_n_check CHECK (n >= 0))";

async fn postgres() -> (PgPool, TestDatabase) {
    let database = TestDatabase::create().await;
    let url = DatabaseUrl::Postgres(database.url().to_owned().into());
    let Database::Postgres(pool) = Database::connect(&url, 2, 0).await.unwrap() else { unreachable!() };
    pool.get().await.unwrap().batch_execute(TABLE).await.unwrap();
    (pool, database)
}

async fn count(pool: &PgPool) -> i64 {
    pool.get().await.unwrap().query_one("SELECT count(*) FROM t", &[]).await.unwrap().get(0)
}

#[tokio::test]
async fn postgres_transactions_commit_roll_back_and_retry_lost_races() {
    let (pool, _database) = postgres().await;
    let committed = pool
        .transaction(IsolationLevel::ReadCommitted, |tx| {
            Box::pin(async move {
                tx.execute("INSERT INTO t VALUES (1, 1)", &[]).await?;
                tx.execute("INSERT INTO t VALUES (2, 2)", &[]).await?;
                Ok(2)
            })
        })
        .await;
    assert_eq!(committed.unwrap(), 2);
    let failed: Result<(), _> = pool
        .transaction(IsolationLevel::ReadCommitted, |tx| {
            Box::pin(async move {
                tx.execute("INSERT INTO t VALUES (3, 3)", &[]).await?;
                tx.execute("INSERT INTO t VALUES (1, 1)", &[]).await?;
                Ok(())
            })
        })
        .await;
    assert!(matches!(failed, Err(StoreError::UniqueViolation { ref constraint }) if constraint == "t_pkey"));
    assert_eq!(count(&pool).await, 2, "the failed transaction left nothing behind");

    // A serialization failure on the first run: the retry commits once.
    let runs = Arc::new(AtomicUsize::new(0));
    let retried = pool
        .transaction(IsolationLevel::Serializable, |tx| {
            let run = runs.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                tx.execute("INSERT INTO t VALUES (10, 10)", &[]).await?;
                if run == 0 {
                    tx.batch_execute("DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = '40001'; END $$").await?;
                }
                Ok(())
            })
        })
        .await;
    assert!(retried.is_ok(), "{retried:?}");
    assert_eq!((runs.load(Ordering::SeqCst), count(&pool).await), (2, 3));

    let always = Arc::new(AtomicUsize::new(0));
    let deadlocked: Result<(), _> = pool
        .transaction(IsolationLevel::ReadCommitted, |tx| {
            always.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                tx.batch_execute("DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = '40P01'; END $$").await?;
                Ok(())
            })
        })
        .await;
    assert!(matches!(deadlocked, Err(StoreError::Busy(_))), "{deadlocked:?}");
    assert_eq!(always.load(Ordering::SeqCst), TRANSACTION_ATTEMPTS);
}

/// The backend process each of `n` overlapping statements ran on, through
/// `PgPool::shared`; `None` for a statement that failed.
async fn shared_backends(pool: &PgPool, n: usize) -> Vec<Option<i32>> {
    let statements = (0..n).map(|_| async {
        let client = pool.shared().await.ok()?;
        let row = client.query_one("SELECT pg_backend_pid(), pg_sleep(0.02)", &[]).await.ok()?;
        Some(row.get::<_, i32>(0))
    });
    futures_util::future::join_all(statements).await
}

#[tokio::test]
async fn postgres_single_statements_share_a_few_connections_and_outlive_them() {
    let database = TestDatabase::create().await;
    let url = DatabaseUrl::Postgres(database.url().to_owned().into());
    let Database::Postgres(pool) = Database::connect(&url, 8, 2).await.unwrap() else { unreachable!() };

    // 40 statements at once, each taking 20 ms: on two shared connections,
    // not on eight pooled ones.
    let backends: Vec<i32> = shared_backends(&pool, 40).await.into_iter().map(Option::unwrap).collect();
    let mut distinct = backends.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), 2, "{backends:?}");
    // Transactions keep connections of their own.
    let in_transaction = pool
        .transaction(IsolationLevel::ReadCommitted, |tx| {
            Box::pin(async move { Ok(tx.query_one("SELECT pg_backend_pid()", &[]).await?.get::<_, i32>(0)) })
        })
        .await
        .unwrap();
    assert!(!distinct.contains(&in_transaction), "{in_transaction} in {distinct:?}");

    // The server ends both shared connections: at most one statement per
    // connection fails with it, and the next ones run on new connections.
    let admin = pool.get().await.unwrap();
    for pid in &distinct {
        admin.execute("SELECT pg_terminate_backend($1)", &[pid]).await.unwrap();
    }
    let mut failed = 0;
    let mut after = Vec::new();
    for _ in 0..6 {
        match shared_backends(&pool, 1).await[0] {
            Some(pid) => after.push(pid),
            None => failed += 1,
        }
    }
    assert!(failed <= 2, "{failed} failed");
    assert!(after.len() >= 4 && after.iter().all(|pid| !distinct.contains(pid)), "{after:?} vs {distinct:?}");
}

#[tokio::test]
async fn postgres_errors_are_sorted_by_cause() {
    let (pool, _database) = postgres().await;
    let client = pool.get().await.unwrap();
    // A value the driver cannot convert is a bug (500), not an outage (503).
    let conversion = client.query_one("SELECT $1::timestamptz", &[&i64::MAX]).await.unwrap_err();
    assert!(matches!(StoreError::from(conversion), StoreError::Other(_)));
    let column = client.query_one("SELECT 'x'::text", &[]).await.unwrap().try_get::<_, i64>(0).unwrap_err();
    assert!(matches!(StoreError::from(column), StoreError::Other(_)));
    let check = client.execute("INSERT INTO t VALUES (1, -1)", &[]).await.unwrap_err();
    assert!(
        matches!(StoreError::from(check), StoreError::CheckViolation { ref constraint } if constraint == "t_n_check")
    );
    // A connection that is gone is an outage.
    let terminated = client.batch_execute("SELECT pg_terminate_backend(pg_backend_pid())").await.unwrap_err();
    assert!(matches!(StoreError::from(terminated), StoreError::Unavailable(_)));
    let closed = client.execute("SELECT 1", &[]).await.unwrap_err();
    assert!(matches!(StoreError::from(closed), StoreError::Unavailable(_)));
}

#[tokio::test]
async fn sqlite_transactions_roll_back_on_error() {
    let dir = tempfile::tempdir().unwrap();
    let db = SqliteDb::open(&dir.path().join("tx.db"), 1).unwrap();
    db.transaction(|tx| Ok(tx.execute_batch(TABLE)?)).await.unwrap();
    let failed: Result<(), _> = db
        .transaction(|tx| {
            tx.execute("INSERT INTO t VALUES (1, 1)", [])?;
            tx.execute("INSERT INTO t VALUES (2, -2)", [])?;
            Ok(())
        })
        .await;
    assert!(matches!(failed, Err(StoreError::CheckViolation { ref constraint }) if constraint == "t_n_check"));
    let duplicate: Result<(), _> = db
        .transaction(|tx| {
            tx.execute("INSERT INTO t VALUES (5, 5)", [])?;
            tx.execute("INSERT INTO t VALUES (5, 5)", [])?;
            Ok(())
        })
        .await;
    assert!(matches!(duplicate, Err(StoreError::UniqueViolation { ref constraint }) if constraint == "t_pkey"));
    let rows: i64 = db.read(|conn| Ok(conn.query_row("SELECT count(*) FROM t", [], |row| row.get(0))?)).await.unwrap();
    assert_eq!(rows, 0, "failed transactions left nothing behind");
}

/// Products' constraints are reported by the same names on both engines.
#[tokio::test]
async fn product_constraints_have_the_same_names_on_both_engines() {
    let dir = tempfile::tempdir().unwrap();
    let pg = TestDatabase::create().await;
    for url in [DatabaseUrl::Sqlite(dir.path().join("names.db")), DatabaseUrl::Postgres(pg.url().to_owned().into())] {
        let db = Database::connect(&url, 1, 0).await.unwrap();
        db.migrate().await.unwrap();
        let insert = "INSERT INTO products (sku, name, name_folded, price_minor, currency, stock, version, created_at, updated_at)";
        let violations = [
            (format!("{insert} VALUES ('A', 'a', 'a', 1, 'EUR', 1, 1, 0, 0)"), "products_sku_key"),
            (format!("{insert} VALUES ('B', 'b', 'b', -1, 'EUR', 1, 1, 0, 0)"), "products_price_minor_check"),
            (format!("{insert} VALUES ('C', 'c', 'c', 1, 'EURO', 1, 1, 0, 0)"), "products_currency_check"),
            (format!("{insert} VALUES ('D', 'd', 'd', 1, 'EUR', -1, 1, 0, 0)"), "products_stock_check"),
        ];
        let first = format!("{insert} VALUES ('A', 'a', 'a', 1, 'EUR', 1, 1, 0, 0)");
        for (sql, constraint) in violations {
            let (first, sql) = (first.clone(), sql.clone());
            let error = match &db {
                Database::Sqlite(db) => db
                    .transaction(move |tx| {
                        tx.execute_batch(&format!("{first} ON CONFLICT DO NOTHING"))?;
                        Ok(tx.execute_batch(&sql)?)
                    })
                    .await
                    .unwrap_err(),
                Database::Postgres(pool) => {
                    let client = pool.get().await.unwrap();
                    let pg_first = first.replace(", 0, 0)", ", now(), now())");
                    client.batch_execute(&format!("{pg_first} ON CONFLICT DO NOTHING")).await.unwrap();
                    StoreError::from(
                        client.batch_execute(&sql.replace(", 0, 0)", ", now(), now())")).await.unwrap_err(),
                    )
                }
            };
            assert_eq!(error.constraint(), Some(constraint), "{} {error:?}", db.engine());
        }
    }
}

/// Migration 2 rebuilds SQLite's products table: rows, ids and the id
/// high-water mark survive, and duplicate skus are still 409.
#[tokio::test]
async fn sqlite_constraint_migration_keeps_existing_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(include_str!("../../migrations/sqlite/0001_create_products.sql")).unwrap();
        conn.execute_batch(
            "CREATE TABLE overkill_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL);
             INSERT INTO overkill_migrations VALUES (1, 'create_products', datetime('now'));
             INSERT INTO products (sku, name, name_folded, price_minor, currency, stock, version, created_at, updated_at)
             VALUES ('OLD-1', 'Old', 'old', 5, 'EUR', 1, 1, 1795000000000000, 1795000000000000),
                    ('OLD-2', 'Gone', 'gone', 5, 'EUR', 1, 1, 1795000000000000, 1795000000000000);
             DELETE FROM products WHERE sku = 'OLD-2';",
        )
        .unwrap();
    }
    let app = spawn_app_on(DatabaseUrl::Sqlite(path), |_| {}).await;
    let old: Value = app.get("/v1/products/1").await.json().await.unwrap();
    assert_eq!((old["sku"].as_str(), old["name"].as_str()), (Some("OLD-1"), Some("Old")));
    let created = app.create_ok(&new_product("New", 1, 1)).await;
    assert_eq!(created["id"], 3, "the id of a deleted product is not handed out again");
    let mut duplicate = new_product("Dup", 1, 1);
    duplicate["sku"] = "OLD-1".into();
    assert_eq!(app.create(&duplicate).await.status(), 409);
    app.stop().await.unwrap();
}
