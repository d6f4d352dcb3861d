//! Reads go on while writers wait for another process's write lock on
//! embedded SQLite. A binary of its own: it watches the process-wide
//! in-flight gauge, which other tests' requests would move.

#![allow(clippy::unwrap_used)]

#[path = "support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use overkill::config::DatabaseUrl;

use crate::support::{TestApp, new_product, spawn_app_on};

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
        // The creates are all inside the service after this. (This binary
        // holds this one test, so no other request moves the gauge.)
        let queued = async {
            while in_flight(&app).await < baseline + WAITING_CREATES as f64 {
                tokio::task::yield_now().await;
            }
        };
        tokio::time::timeout(GUARD, queued).await.expect("the creates reached the service");
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
/// A guard against hanging, not a synchronisation.
const GUARD: Duration = Duration::from_secs(10);
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
