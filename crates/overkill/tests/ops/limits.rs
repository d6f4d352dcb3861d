//! Every limit answers with a clear problem or a clean close, and the
//! service stays healthy past it.

use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::lifecycle::{read_status, start_blocked_create, start_slow_create, wait_until_in_flight};
use crate::support::{Backend, assert_problem, new_product, spawn_app_with};

/// Upper bound on how long a test waits for the server to act on its own
/// timers; a guard against hanging, not a synchronisation.
const GUARD: Duration = Duration::from_secs(10);

#[tokio::test]
async fn requests_past_the_concurrency_limit_are_shed_with_503() {
    let app = spawn_app_with(Backend::Sqlite, |c| c.http.max_concurrent_requests = 1).await;
    let blocked = start_blocked_create(&app).await;
    wait_until_in_flight(&app).await;
    let shed = app.get("/v1/products").await;
    assert_problem(shed, 503, "unavailable").await;
    blocked.release();
    assert_eq!(blocked.response.await.unwrap().status(), 201);
    assert_eq!(app.get("/v1/products").await.status(), 200, "healthy again once the permit is free");
}

#[tokio::test]
async fn a_request_over_the_timeout_gets_a_503_timeout_problem() {
    let app = spawn_app_with(Backend::Sqlite, |c| c.http.request_timeout = Duration::from_millis(200)).await;
    // The handler waits for a write lock held elsewhere until the timeout ends it.
    let mut blocked = start_blocked_create(&app).await;
    let response = tokio::time::timeout(GUARD, &mut blocked.response).await.expect("the server answers").unwrap();
    assert_problem(response, 503, "timeout").await;
    blocked.release();
    app.create_ok(&new_product("Fast", 1, 1)).await;
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let app = spawn_app_with(Backend::Sqlite, |c| c.http.header_read_timeout = Duration::from_millis(200)).await;
    let mut slowloris = TcpStream::connect(app.base.trim_start_matches("http://")).await.unwrap();
    slowloris.write_all(b"GET /v1/products HTTP/1.1\r\nHost: x\r\nX-Slow: ").await.unwrap();
    let mut buffer = vec![0; 1024];
    let read = tokio::time::timeout(GUARD, slowloris.read(&mut buffer)).await.expect("the server acts").unwrap_or(0);
    let text = String::from_utf8_lossy(&buffer[..read]);
    assert!(read == 0 || text.starts_with("HTTP/1.1 408"), "closed or 408, got {text}");
    assert_eq!(app.get("/v1/products").await.status(), 200);
}

#[tokio::test]
async fn the_body_limit_is_configurable() {
    let app = spawn_app_with(Backend::Sqlite, |c| c.http.max_body_bytes = 256).await;
    let mut body = new_product("Small limit", 1, 1);
    body["description"] = json!("x".repeat(300));
    assert_problem(app.create(&body).await, 413, "payload-too-large").await;
    // Without Content-Length too: a chunked body is cut at the limit.
    let mut stream = TcpStream::connect(app.base.trim_start_matches("http://")).await.unwrap();
    let chunk = body.to_string();
    let request = format!(
        "POST /v1/products HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
        chunk.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    assert_eq!(read_status(&mut stream).await, 413);
    app.create_ok(&new_product("Fits", 1, 1)).await;
}

#[tokio::test]
async fn connections_past_the_limit_wait_and_are_then_served() {
    let app = spawn_app_with(Backend::Sqlite, |c| c.http.max_connections = 1).await;
    let address = app.base.trim_start_matches("http://").to_owned();
    let mut first = TcpStream::connect(&address).await.unwrap();
    first.write_all(b"GET /v1/products HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    assert_eq!(read_status(&mut first).await, 200);
    // A second connection is not served while the first stays open...
    let second = tokio::spawn({
        let client = reqwest::Client::new();
        let url = app.url("/v1/products");
        async move { client.get(url).send().await.map(|r| r.status().as_u16()) }
    });
    // (A bounded wait that must run out: with the limit broken, the second
    // is answered in milliseconds.)
    let mut second = second;
    assert!(tokio::time::timeout(Duration::from_millis(500), &mut second).await.is_err(), "served past the limit");
    // ...and is once it closes.
    drop(first);
    let status = tokio::time::timeout(GUARD, second).await.expect("served after the first closed").unwrap().unwrap();
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_declared_body_over_the_limit_gets_413_at_once_without_100_continue() {
    let app = spawn_app_with(Backend::Sqlite, |c| c.http.max_body_bytes = 1024).await;
    for expect in ["Expect: 100-continue\r\n", ""] {
        let mut stream = TcpStream::connect(app.base.trim_start_matches("http://")).await.unwrap();
        let head = format!(
            "POST /v1/products HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 16777216\r\n{expect}\r\n"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(&[b' '; 4096]).await.unwrap();
        let mut buffer = vec![0; 4096];
        let read = tokio::time::timeout(GUARD, stream.read(&mut buffer)).await.expect("answered at once").unwrap();
        let text = String::from_utf8_lossy(&buffer[..read]);
        assert!(text.starts_with("HTTP/1.1 413"), "{expect:?}: {text}");
        assert!(text.contains("/problems/payload-too-large"), "{text}");
    }
}

#[tokio::test]
async fn a_body_too_slow_gets_408() {
    let app = spawn_app_with(Backend::Sqlite, |c| c.http.body_read_timeout = Duration::from_millis(300)).await;
    let (mut slow, _rest) = start_slow_create(&app).await;
    let status = tokio::time::timeout(GUARD, read_status(&mut slow)).await.expect("answered at the body timeout");
    assert_eq!(status, 408);
}

#[tokio::test]
async fn slow_uploads_hold_no_request_slot() {
    let app = spawn_app_with(Backend::Sqlite, |c| {
        c.http.max_concurrent_requests = 2;
        c.http.body_read_timeout = Duration::from_secs(60);
    })
    .await;
    let (mut first, first_rest) = start_slow_create(&app).await;
    let (_second, _second_rest) = start_slow_create(&app).await;
    // Both body slots are taken by uploads still arriving...
    let third = app.create(&new_product("Third upload", 1, 1)).await;
    let detail = assert_problem(third, 503, "unavailable").await["detail"].as_str().unwrap().to_owned();
    assert!(detail.contains("bodies"), "{detail}");
    // ...but requests without a body are served, and uploads go on.
    for _ in 0..5 {
        assert_eq!(app.get("/v1/products").await.status(), 200);
    }
    first.write_all(&first_rest).await.unwrap();
    assert_eq!(read_status(&mut first).await, 201);
}

#[tokio::test]
async fn shed_requests_say_when_to_retry() {
    let app = spawn_app_with(Backend::Sqlite, |c| c.http.max_concurrent_requests = 1).await;
    let blocked = start_blocked_create(&app).await;
    wait_until_in_flight(&app).await;
    let shed = app.get("/v1/products").await;
    assert_eq!(shed.headers().get("retry-after").map(|v| v.to_str().unwrap()), Some("1"));
    assert_problem(shed, 503, "unavailable").await;
    blocked.release();
}

#[tokio::test]
async fn an_http11_request_without_host_is_refused_with_a_problem() {
    let app = spawn_app_with(Backend::Sqlite, |_| {}).await;
    let mut stream = TcpStream::connect(app.base.trim_start_matches("http://")).await.unwrap();
    stream.write_all(b"GET /v1/products HTTP/1.1\r\n\r\n").await.unwrap();
    let mut buffer = vec![0; 4096];
    let read = tokio::time::timeout(GUARD, stream.read(&mut buffer)).await.expect("answered").unwrap();
    let text = String::from_utf8_lossy(&buffer[..read]);
    assert!(text.starts_with("HTTP/1.1 400") && text.contains("/problems/bad-request"), "{text}");
}
