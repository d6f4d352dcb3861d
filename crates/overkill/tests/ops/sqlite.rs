//! Embedded SQLite under sustained writes: the write-ahead log stays bounded
//! and is truncated at shutdown; reads go on while writers wait for a lock.

use std::time::{Duration, Instant};

use overkill::config::DatabaseUrl;

use crate::support::{TestApp, new_product, spawn_app_on};

/// Enough creates to write well over `WAL_BOUND` of log frames (each create
/// writes about 28 KiB: the row, four index pages, the sequence), so a log
/// that is never checkpointed exceeds the bound.
const CREATES: usize = 600;
/// Twice SQLite's auto-checkpoint threshold (1000 pages of 4 KiB).
const WAL_BOUND: u64 = 8 * 1024 * 1024;

fn wal_size(db: &std::path::Path) -> u64 {
    let wal = db.with_extension("db-wal");
    std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0)
}

#[tokio::test]
async fn sqlite_wal_stays_bounded_and_is_truncated_at_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wal.db");
    let app = spawn_app_on(DatabaseUrl::Sqlite(path.clone()), |_| {}).await;
    for created in 1..=CREATES {
        app.create_ok(&new_product("Wal", 1, 1)).await;
        let size = wal_size(&path);
        assert!(size < WAL_BOUND, "after {created} creates the WAL is {size} bytes");
    }
    // Another connection (a backup tool, an operator's shell) keeps the file
    // open, so the service's own connections closing is not the last close,
    // which would checkpoint and delete the log by itself.
    let other = rusqlite::Connection::open(&path).unwrap();
    other.query_row("SELECT count(*) FROM products", [], |_| Ok(())).unwrap();
    assert!(wal_size(&path) > 0);
    app.stop().await.unwrap();
    assert_eq!(wal_size(&path), 0, "the WAL is checkpointed and truncated at shutdown");
    drop(other);
}

/// Creates that queue behind another process's write lock must not take the
/// threads reads need: on the runtime `main` builds (blocking threads capped
/// at the pool size + 1), every GET answers while the lock is still held.
#[test]
fn sqlite_reads_go_on_while_writers_wait_for_a_lock() {
    const WAITING_CREATES: usize = 20;
    let runtime = overkill::runtime::build(POOL_SIZE).unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("busy.db");
        let app = spawn_app_on(DatabaseUrl::Sqlite(path.clone()), |c| c.db_pool_size = POOL_SIZE).await;
        let product = app.create_ok(&new_product("Read me", 1, 1)).await;
        let product_path = format!("/v1/products/{}", product["id"]);

        let holder = rusqlite::Connection::open(&path).unwrap();
        holder.execute_batch("BEGIN IMMEDIATE").unwrap();
        let baseline = in_flight(&app).await;
        let creates: Vec<_> = (0..WAITING_CREATES)
            .map(|_| {
                let request = app.client.post(app.url("/v1/products")).json(&new_product("Queued", 1, 1));
                tokio::spawn(async move { request.send().await.map(|r| r.status().as_u16()) })
            })
            .collect();
        // The metrics registry is shared by the tests of this process, hence
        // the baseline; the creates are all inside the service after this.
        while in_flight(&app).await < baseline + WAITING_CREATES as f64 {
            tokio::task::yield_now().await;
        }
        let mut slowest = Duration::ZERO;
        for _ in 0..30 {
            let started = Instant::now();
            let response = tokio::time::timeout(READ_DEADLINE, app.get(&product_path))
                .await
                .expect("a GET finished while creates waited for the write lock");
            assert_eq!(response.status(), 200);
            slowest = slowest.max(started.elapsed());
        }
        eprintln!("slowest of 30 GETs while {WAITING_CREATES} creates waited on the lock: {slowest:?}");
        holder.execute_batch("COMMIT").unwrap();
        for create in creates {
            assert_eq!(create.await.unwrap().unwrap(), 201, "queued creates go through once the lock is free");
        }
        app.stop().await.unwrap();
    });
}

/// The connections the test app gets (the support default).
const POOL_SIZE: usize = 4;
/// Well under the 5 s busy timeout a blocked writer waits for.
const READ_DEADLINE: Duration = Duration::from_secs(1);

/// `http_requests_in_flight` from the admin listener's `/metrics`.
async fn in_flight(app: &TestApp) -> f64 {
    let text = app.client.get(app.admin_url("/metrics")).send().await.unwrap().text().await.unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix("http_requests_in_flight "))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0.0)
}
