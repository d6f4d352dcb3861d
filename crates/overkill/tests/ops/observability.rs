//! Metrics and probes.

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
        r#"http_requests_total{method="POST",route="/v1/products",status="201"}"#,
        r#"http_requests_total{method="GET",route="/v1/products/{id}",status="200"}"#,
        r#"http_requests_total{method="GET",route="/v1/products/{id}",status="404"}"#,
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
