//! A request the server drops mid-flight (its client went away) is still
//! counted and logged, and leaves no gauge raised. Its own test binary: it
//! reads the process-wide metrics, which other tests would disturb.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::post;
use chassis::HttpSettings;
use http::Request;
use tower::ServiceExt;

#[tokio::test(start_paused = true)]
async fn a_request_dropped_mid_flight_is_counted_as_499_and_lowers_the_gauge() {
    let metrics = chassis::telemetry::init_metrics().unwrap();
    let router = Router::new().route("/upload", post(|body: String| async move { body }));
    let app = chassis::middleware::apply(router, &HttpSettings::default());
    let stalled = Body::from_stream(futures_util::stream::pending::<Result<Vec<u8>, std::io::Error>>());
    let request = Request::post("/upload").header("host", "test").body(stalled).unwrap();

    // The server drops the request future, as hyper does when the client resets.
    let dropped = tokio::time::timeout(Duration::from_secs(1), app.oneshot(request)).await;
    assert!(dropped.is_err(), "the request was still in flight");

    let text = metrics.render();
    assert!(text.contains("http_requests_in_flight 0"), "{text}");
    let counted = r#"http_requests_total{method="POST",route="/upload",status="499",protocol="http1"} 1"#;
    assert!(text.contains(counted), "{text}");
}
