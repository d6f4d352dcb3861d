//! TLS, HTTP/2 and HTTP/3, black-box, with independent clients only: curl
//! and h2load (OpenSSL, nghttp2) over TCP, aioquic over QUIC. Each test
//! makes its own pair with `overkill dev-cert` and starts its own service
//! — in this process, or the Go twin's binary in twin mode (see
//! `support::spawn_with_env`).

#![allow(clippy::unwrap_used)]

#[path = "../support/mod.rs"]
mod support;

mod clients;
mod startup;

use std::path::{Path, PathBuf};
use std::time::Duration;

use clients::{H3Client, curl, h2load, served_certificate};
use serde_json::{Value, json};
use support::{TestApp, new_product, spawn_with_env};
use tokio::io::AsyncReadExt;
use tokio::time::Instant;

/// A certificate pair written by `overkill dev-cert`, with its directory.
pub struct Pair {
    pub dir: tempfile::TempDir,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Writes a fresh pair with the binary's own `dev-cert` into `dir`.
pub fn dev_cert(dir: &Path) -> (PathBuf, PathBuf) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_overkill"))
        .args(["dev-cert", "--force", "--dir"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(output.status.success(), "dev-cert failed: {}", String::from_utf8_lossy(&output.stderr));
    (dir.join("cert.pem"), dir.join("key.pem"))
}

pub fn pair() -> Pair {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = dev_cert(dir.path());
    Pair { dir, cert, key }
}

/// A service serving TLS with `pair`: TLS only on `listen`, or with
/// `separate`, cleartext on `listen` and TLS on its own address.
async fn serve(pair: &Pair, separate: bool, extra: &[(&str, String)]) -> TestApp {
    let mut env = vec![
        ("OVERKILL_TLS_CERT", pair.cert.display().to_string()),
        ("OVERKILL_TLS_KEY", pair.key.display().to_string()),
    ];
    if separate {
        env.push(("OVERKILL_TLS_LISTEN", "127.0.0.1:0".to_owned()));
    }
    env.extend(extra.iter().cloned());
    spawn_with_env(&env).await
}

fn tls_base(app: &TestApp) -> &str {
    app.tls.as_deref().expect("the service serves TLS")
}

fn port(base: &str) -> u16 {
    base.rsplit(':').next().unwrap().parse().unwrap()
}

/// Polls `/metrics` (explicit readiness, bounded) until the series `name`
/// with every one of `labels` (`key="value"`, in any order: the twins
/// order them differently) counts at least `min`. At least: in-process
/// services of one test binary share the metrics registry.
async fn wait_for_metric(app: &TestApp, name: &str, labels: &[&str], min: f64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let prefix = format!("{name}{{");
    loop {
        let metrics = app.client.get(format!("{}/metrics", app.admin)).send().await.unwrap().text().await.unwrap();
        let value: f64 = metrics
            .lines()
            .filter(|line| line.starts_with(&prefix) && labels.iter().all(|label| line.contains(label)))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        if value >= min {
            return;
        }
        assert!(Instant::now() < deadline, "{name} {labels:?} never reached {min} in /metrics:\n{metrics}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn curl_gets_http1_and_http2_over_tls_with_alt_svc_and_cleartext_has_none() {
    let pair = pair();
    let app = serve(&pair, true, &[]).await;
    let tls = tls_base(&app);
    let alt_svc = format!("h3=\":{}\"; ma=86400", port(tls));
    for (flag, version) in [("--http1.1", "1.1"), ("--http2", "2")] {
        let answer = curl(flag, &pair.cert, &format!("{tls}/v1/products?limit=1"), &[]).await;
        assert_eq!((answer.version.as_str(), answer.status), (version, 200), "{answer:?}");
        assert_eq!(answer.header("alt-svc"), Some(alt_svc.as_str()), "{flag}");
        // Errors carry it too: every response over TLS does.
        let missing = curl(flag, &pair.cert, &format!("{tls}/v1/products/999999999"), &[]).await;
        assert_eq!(missing.status, 404);
        assert_eq!(missing.header("alt-svc"), Some(alt_svc.as_str()));
    }
    let cleartext = app.client.get(app.url("/v1/products?limit=1")).send().await.unwrap();
    assert_eq!(cleartext.status(), 200);
    assert!(cleartext.headers().get("alt-svc").is_none(), "cleartext responses advertise nothing");
}

#[tokio::test]
async fn tls_only_serves_tls_on_listen_and_advertises_the_same_port() {
    let pair = pair();
    let app = serve(&pair, false, &[]).await;
    assert!(app.base.starts_with("https://"));
    let answer = curl("--http2", &pair.cert, &app.url("/v1/products?limit=1"), &[]).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("alt-svc"), Some(format!("h3=\":{}\"; ma=86400", port(&app.base)).as_str()));
    // No cleartext there any more: a plain HTTP request is not answered as HTTP.
    let plain = app.client.get(app.url("/v1/products").replace("https://", "http://")).send().await;
    assert!(plain.is_err() || plain.unwrap().status() != 200);
}

#[tokio::test]
async fn without_http3_there_is_no_advertisement() {
    let pair = pair();
    let app = serve(&pair, true, &[("OVERKILL_TLS_HTTP3", "false".to_owned())]).await;
    let answer = curl("--http2", &pair.cert, &format!("{}/v1/products", tls_base(&app)), &[]).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("alt-svc"), None);
}

#[tokio::test]
async fn h2load_completes_every_request_over_http2_and_tls() {
    let pair = pair();
    let app = serve(&pair, true, &[]).await;
    let report = h2load(&format!("{}/v1/products?limit=5", tls_base(&app)), 400, 4, 10).await;
    assert!(report.contains("Application protocol: h2"), "{report}");
    assert!(report.contains("400 succeeded, 0 failed, 0 errored"), "{report}");
    assert!(report.contains("status codes: 400 2xx"), "{report}");
    wait_for_metric(
        &app,
        "http_requests_total",
        &[r#"method="GET""#, r#"route="/v1/products""#, r#"status="200""#, r#"protocol="http2""#],
        400.0,
    )
    .await;
}

/// Strips what differs between two answers to the same request: ids,
/// timestamps and request ids.
fn comparable(mut doc: Value) -> Value {
    if let Some(object) = doc.as_object_mut() {
        for key in ["id", "sku", "created_at", "updated_at", "request_id", "instance"] {
            object.remove(key);
        }
    }
    doc
}

#[tokio::test]
async fn every_products_route_answers_over_http3_as_over_http1() {
    let pair = pair();
    let app = serve(&pair, true, &[]).await;
    let mut h3 = H3Client::connect(tls_base(&app), &pair.cert);

    // Create: the same answer over both protocols (bar ids and times).
    // A name of its own: the twin's database is shared with other suites.
    let name = support::unique("over-h3-");
    let body = new_product(&name, 1250, 7);
    let created = h3.request_json("POST", "/v1/products", &body, &[]).await;
    assert_eq!(created.status(), 201);
    let h1_created = app.create(&new_product(&name, 1250, 7)).await;
    assert_eq!(h1_created.status(), 201);
    let h1_created: Value = h1_created.json().await.unwrap();
    let product = created.json();
    assert_eq!(comparable(product.clone()), comparable(h1_created));
    let id = product["id"].as_i64().unwrap();
    let location = created.header("location").unwrap().to_owned();
    assert_eq!(location, format!("/v1/products/{id}"));

    // Read, list, update with If-Match, conditional GET.
    let got = h3.request("GET", &location).await;
    assert_eq!(got.status(), 200);
    let h1_got: Value = app.get(&location).await.json().await.unwrap();
    assert_eq!(got.json(), h1_got, "the same product, byte for byte in meaning");
    let etag = got.header("etag").unwrap().to_owned();
    let not_modified = h3.request_with("GET", &location, &[("if-none-match", &etag)]).await;
    assert_eq!(not_modified.status(), 304);
    let listed = h3.request("GET", &format!("/v1/products?limit=100&q={name}")).await;
    assert_eq!(listed.status(), 200);
    assert!(listed.json()["items"].as_array().unwrap().iter().any(|p| p["id"] == id));
    let patched = h3.request_json("PATCH", &location, &json!({"price_minor": 999}), &[("if-match", &etag)]).await;
    assert_eq!(patched.status(), 200);
    assert_eq!(patched.json()["price_minor"], 999);
    let stale = h3.request_json("PATCH", &location, &json!({"price_minor": 1}), &[("if-match", &etag)]).await;
    assert_eq!(stale.status(), 412);

    // Errors: the same problem documents.
    for (method, path, body) in [
        ("GET", "/v1/products/999999999", None),
        ("GET", "/v1/products/abc", None),
        ("GET", "/v1/products?limit=0", None),
        ("POST", "/v1/products", Some(json!({"sku": "", "name": "x"}))),
        ("GET", "/no/such/route", None),
    ] {
        let h3_answer = match &body {
            Some(body) => h3.request_json(method, path, body, &[]).await,
            None => h3.request(method, path).await,
        };
        let h1_answer = match &body {
            Some(body) => app.client.request(method.parse().unwrap(), app.url(path)).json(body).send().await.unwrap(),
            None => app.client.request(method.parse().unwrap(), app.url(path)).send().await.unwrap(),
        };
        assert_eq!(h3_answer.status(), h1_answer.status().as_u16(), "{method} {path}");
        assert_eq!(h3_answer.header("content-type"), Some("application/problem+json"), "{method} {path}");
        let h1_doc: Value = h1_answer.json().await.unwrap();
        assert_eq!(comparable(h3_answer.json()), comparable(h1_doc), "{method} {path}");
    }

    // Delete, then gone.
    let deleted = h3.request("DELETE", &location).await;
    assert_eq!(deleted.status(), 204);
    assert_eq!(h3.request("GET", &location).await.status(), 404);
    // HTTP/3 responses do not advertise HTTP/3.
    assert_eq!(got.header("alt-svc"), None);
    h3.finish().await;
    wait_for_metric(
        &app,
        "http_requests_total",
        &[r#"method="DELETE""#, r#"route="/v1/products/{id}""#, r#"status="204""#, r#"protocol="http3""#],
        1.0,
    )
    .await;
}

#[tokio::test]
async fn a_streamed_upload_over_the_body_limit_gets_413_over_http3() {
    let pair = pair();
    let app = serve(&pair, true, &[("OVERKILL_MAX_BODY_BYTES", "65536".to_owned())]).await;
    let mut h3 = H3Client::connect(tls_base(&app), &pair.cert);
    // No content-length: the limit is found while streaming, and the
    // client is stopped well before it sends all 8 MiB.
    let content_type = json!(["content-type", "application/json"]);
    let streamed = json!({"method": "POST", "path": "/v1/products", "headers": [content_type.clone()],
                          "stream_bytes": 8 << 20, "chunk": 16384});
    let answer = h3.send(&streamed).await;
    assert_eq!(answer["status"], 413, "{answer}");
    assert!(answer["sent_bytes"].as_u64().unwrap() < 8 << 20, "the upload was not stopped: {answer}");
    // A declared length over the limit is refused from the declaration.
    let declared = h3
        .send(
            &json!({"method": "POST", "path": "/v1/products", "headers": [content_type, ["content-length", "1000000"]],
                       "stream_bytes": 1_000_000, "chunk": 16384}),
        )
        .await;
    assert_eq!(declared["status"], 413, "{declared}");
    // The connection still serves.
    assert_eq!(h3.request("GET", "/v1/products?limit=1").await.status(), 200);
    h3.finish().await;
}

#[tokio::test]
async fn many_streams_share_one_http3_connection() {
    let pair = pair();
    let app = serve(&pair, true, &[]).await;
    let mut h3 = H3Client::connect_with(tls_base(&app), &pair.cert, &["--concurrent"]);
    let requests: Vec<Value> = (0..50).map(|_| json!({"method": "GET", "path": "/v1/products?limit=2"})).collect();
    let answers = h3.send_batch(&requests).await;
    assert!(answers.iter().all(|a| a["status"] == 200), "{answers:?}");
    let info = h3.send(&json!({"cmd": "info"})).await;
    assert_eq!(info["info"]["alpn"], "h3");
    assert_eq!(info["info"]["streams"], 50);
    h3.finish().await;
}

#[tokio::test]
async fn a_new_certificate_is_served_after_a_file_change_while_open_connections_carry_on() {
    let pair = pair();
    let app = serve(&pair, true, &[("OVERKILL_TLS_RELOAD_INTERVAL_MS", "100".to_owned())]).await;
    let tls = tls_base(&app).to_owned();
    let before = served_certificate(&pair.cert, &format!("{tls}/v1/products")).await;
    let mut held = H3Client::connect(&tls, &pair.cert);
    assert_eq!(held.request("GET", "/v1/products?limit=1").await.status(), 200);
    let old_fingerprint = held.send(&json!({"cmd": "info"})).await["info"]["peer_cert_sha256"].clone();

    // A broken pair is refused: the old one stays.
    std::fs::write(&pair.cert, "not a certificate").unwrap();
    wait_for_metric(&app, "tls_certificate_reloads_total", &[r#"result="rejected""#], 1.0).await;
    let old_ca = pair.dir.path().join("old.pem");
    std::fs::write(&old_ca, &before).unwrap();
    assert_eq!(served_certificate(&old_ca, &format!("{tls}/v1/products")).await, before);

    // A good new pair is taken for new handshakes.
    dev_cert(pair.dir.path());
    wait_for_metric(&app, "tls_certificate_reloads_total", &[r#"result="ok""#], 1.0).await;
    let after = served_certificate(&pair.cert, &format!("{tls}/v1/products")).await;
    assert_ne!(after, before, "new connections get the new certificate");
    assert_eq!(after, std::fs::read_to_string(&pair.cert).unwrap().trim());
    let mut fresh = H3Client::connect(&tls, &pair.cert);
    assert_eq!(fresh.request("GET", "/v1/products?limit=1").await.status(), 200);
    let new_fingerprint = fresh.send(&json!({"cmd": "info"})).await["info"]["peer_cert_sha256"].clone();
    assert_ne!(new_fingerprint, old_fingerprint, "HTTP/3 presents the new certificate too");
    // The connection opened before the reload still serves.
    assert_eq!(held.request("GET", "/v1/products?limit=1").await.status(), 200);
    held.finish().await;
    fresh.finish().await;
}

#[tokio::test]
async fn a_client_that_never_finishes_the_handshake_is_dropped_and_frees_its_slot() {
    let pair = pair();
    let app = serve(
        &pair,
        true,
        &[("OVERKILL_TLS_HANDSHAKE_TIMEOUT_MS", "300".to_owned()), ("OVERKILL_MAX_CONNECTIONS", "1".to_owned())],
    )
    .await;
    let tls = tls_base(&app).trim_start_matches("https://").to_owned();
    // Half a ClientHello's record header, then silence.
    let mut stalled = tokio::net::TcpStream::connect(&tls).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut stalled, &[0x16, 0x03, 0x01]).await.unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(10), stalled.read(&mut buf)).await;
    assert!(matches!(read, Ok(Ok(0) | Err(_))), "the stalled handshake was not closed: {read:?}");
    assert!(started.elapsed() >= Duration::from_millis(250), "closed before its timeout");
    // The one connection slot is free again.
    let answer = curl("--http2", &pair.cert, &format!("https://{tls}/v1/products"), &[]).await;
    assert_eq!(answer.status, 200);
    wait_for_metric(&app, "tls_handshakes_total", &[r#"result="timeout""#], 1.0).await;
}

#[tokio::test]
async fn http3_connections_get_goaway_naming_the_first_unprocessed_stream_and_close_when_idle() {
    if std::env::var("OVERKILL_TEST_TWIN_BIN").is_ok() {
        return; // the drain is triggered in-process
    }
    let pair = pair();
    // Long timeouts: only the drain itself may close the idle connection.
    let app = serve(
        &pair,
        true,
        &[
            ("OVERKILL_DRAIN_GRACE_MS", "1000".to_owned()),
            ("OVERKILL_SHUTDOWN_TIMEOUT_MS", "60000".to_owned()),
            ("OVERKILL_HEADER_READ_TIMEOUT_MS", "60000".to_owned()),
            ("OVERKILL_IDLE_TIMEOUT_MS", "60000".to_owned()),
        ],
    )
    .await;
    let mut h3 = H3Client::connect(tls_base(&app), &pair.cert);
    assert_eq!(h3.request("GET", "/v1/products?limit=1").await.status(), 200); // stream 0
    assert_eq!(h3.request("GET", "/v1/products?limit=1").await.status(), 200); // stream 4
    app.shutdown.as_ref().unwrap().trigger();
    let closed = h3.send(&json!({"cmd": "wait_closed", "timeout": 15})).await;
    assert!(closed.get("error").is_none(), "the idle connection was not closed by the drain: {closed}");
    // Streams 0 and 4 were processed: the first not processed is 8.
    assert_eq!(closed["goaway"], 8, "{closed}");
    h3.finish().await;
}

#[tokio::test]
async fn proxied_requests_over_tls_tell_the_upstream_the_scheme_was_https_and_the_host() {
    let upstream = testkit::upstream::Upstream::start("a").await;
    let pair = pair();
    let routes = pair.dir.path().join("overkill.toml");
    std::fs::write(
        &routes,
        format!("[[proxy.routes]]\nprefix = \"/api/\"\nupstreams = [\"{}\"]\n", upstream.authority()),
    )
    .unwrap();
    let app = serve(&pair, true, &[("OVERKILL_CONFIG", routes.display().to_string())]).await;
    let tls = tls_base(&app);
    let host = tls.trim_start_matches("https://");
    for flag in ["--http1.1", "--http2"] {
        let answer = curl(flag, &pair.cert, &format!("{tls}/api/things"), &[]).await;
        assert_eq!(answer.status, 200, "{flag}: {answer:?}");
        let doc: Value = serde_json::from_str(&answer.body).unwrap();
        let first = |name: &str| doc["headers"][name][0].as_str().map(str::to_owned);
        assert_eq!(first("x-forwarded-proto").as_deref(), Some("https"), "{flag}: {doc}");
        assert_eq!(first("x-forwarded-host").as_deref(), Some(host), "{flag}: {doc}");
    }
    // Over cleartext, the same route says http.
    let plain: Value = app.client.get(app.url("/api/things")).send().await.unwrap().json().await.unwrap();
    assert_eq!(plain["headers"]["x-forwarded-proto"][0], "http");
}
