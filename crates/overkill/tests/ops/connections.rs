//! Every connection makes progress or is closed, and shutdown drains in
//! stages: grace (still serving, `Connection: close`), drain, then close.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::lifecycle::{read_status, start_slow_create};
use crate::support::{Backend, TestApp, new_product, spawn_app_with};

/// Upper bound on how long a test waits for the server to act on its own
/// timers; a guard against hanging, not a synchronisation.
const GUARD: Duration = Duration::from_secs(10);

/// The HTTP/2 client preface, and an empty SETTINGS frame.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const H2_SETTINGS: &[u8] = &[0, 0, 0, 4, 0, 0, 0, 0, 0];

/// A GET of `/v1/products` on stream 1 (HPACK: `:method GET`, `:scheme
/// http`, `:path /` indexed, then `:path` and `:authority` literals).
const H2_GET: &[u8] = &[
    0, 0, 19, 1, 5, 0, 0, 0, 1, // HEADERS, END_STREAM | END_HEADERS, stream 1
    0x82, 0x86, 0x04, 12, b'/', b'v', b'1', b'/', b'p', b'r', b'o', b'd', b'u', b'c', b't', b's', 0x41, 1, b'x',
];

/// The frame types in `bytes`, a run of HTTP/2 frames.
fn h2_frame_types(bytes: &[u8]) -> Vec<u8> {
    let mut types = Vec::new();
    let mut rest = bytes;
    while rest.len() >= 9 {
        let length = usize::from(rest[0]) << 16 | usize::from(rest[1]) << 8 | usize::from(rest[2]);
        types.push(rest[3]);
        rest = &rest[(9 + length).min(rest.len())..];
    }
    types
}

/// Opens an HTTP/2 (prior knowledge) connection and sends one GET.
async fn h2_connection_with_one_request(app: &TestApp) -> TcpStream {
    let mut stream = connect(app).await;
    stream.write_all(H2_PREFACE).await.unwrap();
    stream.write_all(H2_SETTINGS).await.unwrap();
    stream.write_all(H2_GET).await.unwrap();
    stream
}

/// Reads until the server closes; the raw bytes it sent.
async fn read_bytes_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    let closed = tokio::time::timeout(GUARD, async {
        let mut buffer = [0; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(read) => received.extend_from_slice(&buffer[..read]),
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the server kept the connection open");
    received
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.base.trim_start_matches("http://")).await.unwrap()
}

/// Reads until the server closes the connection; what it sent before.
async fn read_until_closed(stream: &mut TcpStream) -> String {
    String::from_utf8_lossy(&read_bytes_until_closed(stream).await).into_owned()
}

#[tokio::test]
async fn connections_that_never_send_a_request_are_closed_at_the_header_timeout() {
    let app = spawn_app_with(Backend::Sqlite, |c| {
        c.http.header_read_timeout = Duration::from_millis(300);
        c.http.max_connections = 4;
    })
    .await;
    let mut silent = connect(&app).await;
    let mut half_preface = connect(&app).await;
    half_preface.write_all(&H2_PREFACE[..16]).await.unwrap();
    let mut preface_only = connect(&app).await;
    preface_only.write_all(H2_PREFACE).await.unwrap();
    preface_only.write_all(H2_SETTINGS).await.unwrap();
    let mut partial_line = connect(&app).await;
    partial_line.write_all(b"GET /v1/products HT").await.unwrap();

    for stream in [&mut silent, &mut half_preface, &mut preface_only, &mut partial_line] {
        read_until_closed(stream).await;
    }
    // Their connection slots are free again.
    assert_eq!(app.get("/v1/products").await.status(), 200);
}

#[tokio::test]
async fn idle_keep_alive_connections_are_closed_at_the_idle_timeout() {
    let app = spawn_app_with(Backend::Sqlite, |c| {
        c.http.idle_timeout = Duration::from_millis(300);
        c.http.header_read_timeout = Duration::from_secs(60);
    })
    .await;
    let mut stream = connect(&app).await;
    stream.write_all(b"GET /v1/products HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let received = read_until_closed(&mut stream).await;
    assert!(received.starts_with("HTTP/1.1 200"), "{received}");
}

#[tokio::test]
async fn draining_serves_through_the_grace_period_with_connection_close() {
    let app = spawn_app_with(Backend::Sqlite, |c| c.http.drain_grace = Duration::from_secs(5)).await;
    let mut kept_alive = connect(&app).await;
    kept_alive.write_all(b"GET /v1/products HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    assert_eq!(read_status(&mut kept_alive).await, 200);

    app.shutdown.as_ref().unwrap().trigger();
    let readiness = app.client.get(app.admin_url("/readyz")).send().await.unwrap();
    assert_eq!(readiness.status(), 503, "readiness turns first");
    assert_eq!(readiness.json::<Value>().await.unwrap()["status"], "draining");

    // A request racing the drain on a kept-alive connection is served, and
    // told the connection ends.
    kept_alive.write_all(b"GET /v1/products HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let received = read_until_closed(&mut kept_alive).await.to_ascii_lowercase();
    assert!(received.starts_with("http/1.1 200") && received.contains("connection: close"), "{received}");
    // New connections are still accepted during the grace period.
    let response = app.client.get(app.url("/v1/products")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["connection"], "close");
    tokio::time::timeout(GUARD, app.stop()).await.expect("the drain ends").unwrap();
}

#[tokio::test]
async fn connections_still_busy_after_the_drain_timeout_are_closed() {
    let app = spawn_app_with(Backend::Sqlite, |c| {
        c.http.shutdown_timeout = Duration::from_millis(300);
        c.http.body_read_timeout = Duration::from_secs(60);
        c.http.request_timeout = Duration::from_secs(60);
    })
    .await;
    // In flight: the body never completes.
    let (mut slow, _rest) = start_slow_create(&app).await;
    // The request is in flight once the server has read its head; a second
    // request proves the server is past accepting it.
    assert_eq!(app.get("/v1/products").await.status(), 200);
    tokio::time::timeout(GUARD, app.stop()).await.expect("the drain ends at its timeout").unwrap();
    let received = read_until_closed(&mut slow).await;
    assert!(received.is_empty(), "closed without an answer: {received}");
}

/// HTTP/2 frame types.
const HEADERS: u8 = 1;
const GOAWAY: u8 = 7;

#[tokio::test]
async fn idle_http2_connections_get_goaway_and_are_closed_at_the_idle_timeout() {
    // This client never answers the server's PING after GOAWAY, so the
    // connection ends at the header timeout after the graceful close.
    let app = spawn_app_with(Backend::Sqlite, |c| {
        c.http.idle_timeout = Duration::from_millis(300);
        c.http.header_read_timeout = Duration::from_millis(500);
    })
    .await;
    let mut stream = h2_connection_with_one_request(&app).await;
    let frames = h2_frame_types(&read_bytes_until_closed(&mut stream).await);
    assert!(frames.contains(&HEADERS), "the request was answered: {frames:?}");
    assert!(frames.contains(&GOAWAY), "{frames:?}");
}

#[tokio::test]
async fn draining_sends_goaway_on_http2_connections_at_once() {
    let app = spawn_app_with(Backend::Sqlite, |c| {
        c.http.drain_grace = Duration::from_secs(30);
        c.http.header_read_timeout = Duration::from_millis(500);
    })
    .await;
    let mut stream = h2_connection_with_one_request(&app).await;
    app.shutdown.as_ref().unwrap().trigger();
    // Within the 30 s grace period: GOAWAY comes from the drain, not from the end of the grace.
    let frames = h2_frame_types(&read_bytes_until_closed(&mut stream).await);
    assert!(frames.contains(&HEADERS) && frames.contains(&GOAWAY), "{frames:?}");
}

#[tokio::test]
async fn a_client_that_never_reads_its_responses_is_dropped() {
    // hyper takes each whole response body at once and stalls flushing it,
    // so the connection looks idle: closed gracefully at the idle timeout,
    // then dropped when that close makes no progress either.
    let app = spawn_app_with(Backend::Sqlite, |c| {
        c.http.idle_timeout = Duration::from_millis(500);
        c.http.header_read_timeout = Duration::from_millis(500);
    })
    .await;
    for _ in 0..20 {
        let mut product = new_product("Large", 1, 1);
        product["description"] = serde_json::json!("d".repeat(2000));
        app.create_ok(&product).await;
    }
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(app.base.trim_start_matches("http://").parse().unwrap()).await.unwrap();
    // Pipelined requests for ~40 KB responses, never reading one: the
    // server's writes stall, then ours; the connection must end.
    let requests = "GET /v1/products?limit=100 HTTP/1.1\r\nHost: x\r\n\r\n".repeat(100);
    let dropped =
        tokio::time::timeout(GUARD, async { while stream.write_all(requests.as_bytes()).await.is_ok() {} }).await;
    assert!(dropped.is_ok(), "the server kept a connection whose client reads nothing");
}
