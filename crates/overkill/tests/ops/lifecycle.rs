//! Readiness, graceful shutdown and migrations.

use overkill::config::DatabaseUrl;
use overkill::db::Database;
use serde_json::Value;
use testkit::chaos::ChaosProxy;
use testkit::postgres::TestDatabase;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{Backend, TestApp, assert_problem, new_product, spawn_app_on, spawn_app_with};

#[tokio::test]
async fn readyz_follows_postgres_going_away_and_coming_back() {
    let database = TestDatabase::create().await;
    let proxy = ChaosProxy::start(database.server_address()).await.unwrap();
    let url = DatabaseUrl::Postgres(database.url_via(proxy.address()).into());
    let app = spawn_app_on(url, |_| {}).await;

    assert_eq!(app.client.get(app.admin_url("/livez")).send().await.unwrap().status(), 200);
    assert_eq!(app.client.get(app.admin_url("/readyz")).send().await.unwrap().status(), 200);
    app.create_ok(&new_product("Before", 1, 1)).await;

    proxy.cut();
    let unready = app.client.get(app.admin_url("/readyz")).send().await.unwrap();
    assert_eq!(unready.status(), 503);
    assert_eq!(unready.json::<Value>().await.unwrap()["status"], "unavailable");
    assert_eq!(app.client.get(app.admin_url("/livez")).send().await.unwrap().status(), 200, "still alive");
    let problem = assert_problem(app.create(&new_product("During", 1, 1)).await, 503, "unavailable").await;
    let detail = problem["detail"].as_str().unwrap().to_lowercase();
    assert!(!detail.contains("connection") && !detail.contains("tcp"), "no driver text: {detail}");

    proxy.restore();
    assert_eq!(app.client.get(app.admin_url("/readyz")).send().await.unwrap().status(), 200);
    app.create_ok(&new_product("After", 1, 1)).await;
    app.stop().await.unwrap();
}

/// Sends the head and half the body of a create request, leaving it in flight.
pub async fn start_slow_create(app: &TestApp) -> (TcpStream, Vec<u8>) {
    let body = new_product("Slow", 1, 1).to_string().into_bytes();
    let address = app.base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST /v1/products HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let (first, rest) = body.split_at(body.len() / 2);
    stream.write_all(first).await.unwrap();
    (stream, rest.to_vec())
}

/// A create held inside its handler, holding its request permit: another
/// connection holds SQLite's write lock, so the create waits for it (up to
/// the 5 s busy timeout) until [`BlockedCreate::release`].
pub struct BlockedCreate {
    holder: rusqlite::Connection,
    /// The create's response, once it is answered.
    pub response: tokio::task::JoinHandle<reqwest::Response>,
}

/// Starts a create that blocks in its handler (SQLite apps only).
pub async fn start_blocked_create(app: &TestApp) -> BlockedCreate {
    let holder = rusqlite::Connection::open(app.sqlite_path.as_ref().expect("an app on SQLite")).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let request = app.client.post(app.url("/v1/products")).json(&new_product("Blocked", 1, 1));
    let response = tokio::spawn(async move { request.send().await.unwrap() });
    BlockedCreate { holder, response }
}

impl BlockedCreate {
    /// Lets the create go on.
    pub fn release(&self) {
        self.holder.execute_batch("COMMIT").unwrap();
    }
}

/// Waits until a blocked request holds the only request permit: with
/// `max_concurrent_requests = 1`, other requests are then shed with 503.
pub async fn wait_until_in_flight(app: &TestApp) {
    for _ in 0..500 {
        if app.get("/v1/products?limit=1").await.status() == 503 {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("the slow request never started");
}

/// Reads the whole response from `stream` (the server closes or sends Content-Length).
pub async fn read_status(stream: &mut TcpStream) -> u16 {
    let mut buffer = vec![0; 4096];
    let read = stream.read(&mut buffer).await.unwrap();
    let text = String::from_utf8_lossy(&buffer[..read]);
    text.split_whitespace().nth(1).and_then(|code| code.parse().ok()).unwrap_or(0)
}

#[tokio::test]
async fn shutdown_drains_in_flight_requests_and_refuses_new_ones() {
    let app = spawn_app_with(Backend::Sqlite, |c| c.http.max_concurrent_requests = 1).await;
    let blocked = start_blocked_create(&app).await;
    wait_until_in_flight(&app).await;

    app.shutdown.as_ref().unwrap().trigger();
    let draining = app.client.get(app.admin_url("/readyz")).send().await.unwrap();
    assert_eq!(draining.status(), 503);
    assert_eq!(draining.json::<Value>().await.unwrap()["status"], "draining");
    // The accept loop stops promptly; then new connections are refused.
    let mut refused = false;
    for _ in 0..500 {
        if TcpStream::connect(app.base.trim_start_matches("http://")).await.is_err() {
            refused = true;
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(refused, "new connections are refused while draining");

    blocked.release();
    assert_eq!(blocked.response.await.unwrap().status(), 201, "the in-flight request completes");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn concurrent_migrations_apply_once() {
    let database = TestDatabase::create().await;
    let url = DatabaseUrl::Postgres(database.url().to_owned().into());
    let mut runs = Vec::new();
    for _ in 0..4 {
        let url = url.clone();
        runs.push(tokio::spawn(async move { Database::connect(&url, 1, 0).await.unwrap().migrate().await.unwrap() }));
    }
    let mut applied = Vec::new();
    for run in runs {
        applied.push(run.await.unwrap());
    }
    applied.sort_unstable();
    assert_eq!(applied, [0, 0, 0, 2], "exactly one instance applied the (two) migrations");

    let app = spawn_app_on(url, |c| c.migrate_on_start = false).await;
    app.create_ok(&new_product("Migrated", 1, 1)).await;
}

#[tokio::test]
async fn sqlite_data_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let url = DatabaseUrl::Sqlite(dir.path().join("keep.db"));
    let first = spawn_app_on(url.clone(), |_| {}).await;
    let product = first.create_ok(&new_product("Kept", 5, 5)).await;
    first.stop().await.unwrap();
    let again = spawn_app_on(url, |_| {}).await;
    let fetched: Value = again.get(&format!("/v1/products/{}", product["id"])).await.json().await.unwrap();
    assert_eq!(fetched, product);
}
