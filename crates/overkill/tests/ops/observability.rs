//! Metrics and probes.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{Backend, new_product, spawn_app};

#[tokio::test]
async fn metrics_count_requests_by_route_template_with_latency_buckets() {
    let app = spawn_app(Backend::Sqlite).await;
    let product = app.create_ok(&new_product("Metered", 1, 1)).await;
    app.get(&format!("/v1/products/{}", product["id"])).await;
    app.get("/v1/products/999999").await;
    app.get("/no/such/path/12345").await;

    let metrics = app.client.get(app.admin_url("/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), 200);
    assert!(metrics.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = metrics.text().await.unwrap();
    for expected in [
        r#"http_requests_total{method="POST",route="/v1/products",status="201",protocol="http1"}"#,
        r#"http_requests_total{method="GET",route="/v1/products/{id}",status="200",protocol="http1"}"#,
        r#"http_requests_total{method="GET",route="/v1/products/{id}",status="404",protocol="http1"}"#,
        r#"route="unmatched",status="404""#,
        r#"http_request_duration_seconds_bucket{method="GET",route="/v1/products/{id}",le="0.005"}"#,
        "http_requests_in_flight",
        "db_pool_connections",
        "db_pool_max_connections",
        r#"build_info{version=""#,
    ] {
        assert!(text.contains(expected), "missing {expected} in\n{text}");
    }
    assert!(!text.contains("/v1/products/999999") && !text.contains("/no/such/path"), "raw paths never become labels");
}

#[tokio::test]
async fn probes_answer_json() {
    let app = spawn_app(Backend::Sqlite).await;
    let live = app.client.get(app.admin_url("/livez")).send().await.unwrap();
    assert_eq!(live.status(), 200);
    assert_eq!(live.json::<serde_json::Value>().await.unwrap()["status"], "ok");
    let ready = app.client.get(app.admin_url("/readyz")).send().await.unwrap();
    assert_eq!(ready.json::<serde_json::Value>().await.unwrap()["status"], "ready");
    // Probes live on the admin port only.
    assert_eq!(app.get("/readyz").await.status(), 404);
}

#[tokio::test]
async fn client_chosen_methods_never_become_metric_labels() {
    const REQUESTS: usize = 300;
    let app = spawn_app(Backend::Sqlite).await;
    let mut stream = TcpStream::connect(app.base.trim_start_matches("http://")).await.unwrap();
    let pipelined: String =
        (0..REQUESTS).map(|i| format!("XMETHOD{i} /v1/products HTTP/1.1\r\nHost: x\r\n\r\n")).collect();
    stream.write_all(pipelined.as_bytes()).await.unwrap();
    let (mut received, mut buffer) = (String::new(), vec![0; 65536]);
    while received.matches("HTTP/1.1 ").count() < REQUESTS {
        let read = stream.read(&mut buffer).await.unwrap();
        assert!(read > 0, "the server closed after {} responses", received.matches("HTTP/1.1 ").count());
        received.push_str(&String::from_utf8_lossy(&buffer[..read]));
    }
    let text = app.client.get(app.admin_url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(!text.contains("XMETHOD"), "a client's method became a label");
    assert!(text.contains(r#"method="OTHER",route="/v1/products",status="405""#), "{text}");
}
