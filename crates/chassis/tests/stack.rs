//! The middleware stack without a socket: `Router::oneshot`.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use axum::Extension;
use axum::Router;
use axum::body::Body;
use axum::routing::{get, post};
use chassis::extract::JsonObject;
use chassis::middleware::{Limits, RouteLimits};
use chassis::{HttpSettings, PassThrough};
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

fn routes() -> Router {
    Router::new()
        .route("/panic", get(panics))
        .route("/slow", get(|| async { tokio::time::sleep(Duration::from_secs(3600)).await }))
        .route("/ok", get(|| async { "ok" }))
        .route("/echo", post(|JsonObject(body): JsonObject| async move { body.len().to_string() }))
        .route("/bare-502", get(|| async { StatusCode::BAD_GATEWAY }))
        .route("/proxied-502", get(|| async { (StatusCode::BAD_GATEWAY, Extension(PassThrough), "upstream text") }))
}

fn app(settings: &HttpSettings) -> Router {
    chassis::middleware::apply(routes(), settings)
}

/// A request as an HTTP/1.1 client sends it: with `Host`.
fn request(method: &str, path: &str, body: Body) -> Request<Body> {
    Request::builder().method(method).uri(path).header("host", "test").body(body).unwrap()
}

async fn panics() -> &'static str {
    panic!("secret internal detail")
}

async fn call(router: Router, path: &str) -> (StatusCode, http::HeaderMap, Value) {
    let response = router.oneshot(request("GET", path, Body::empty())).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    (parts.status, parts.headers, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_panic_becomes_a_500_problem_without_the_panic_text() {
    let (status, headers, body) = call(app(&HttpSettings::default()), "/panic").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(headers["content-type"], "application/problem+json");
    assert_eq!(body["type"], "/problems/internal");
    assert_eq!(body["request_id"], headers["x-request-id"].to_str().unwrap());
    assert!(!body.to_string().contains("secret"), "{body}");
}

#[tokio::test(start_paused = true)]
async fn a_slow_handler_gets_a_503_timeout_problem() {
    let settings = HttpSettings { request_timeout: Duration::from_secs(2), ..HttpSettings::default() };
    let (status, _, body) = call(app(&settings), "/slow").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["type"], "/problems/timeout");
    assert_eq!(body["instance"], "/slow");
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems() {
    let (status, _, body) = call(app(&HttpSettings::default()), "/missing").await;
    assert_eq!((status, body["type"].as_str()), (StatusCode::NOT_FOUND, Some("/problems/not-found")));
    let response = app(&HttpSettings::default()).oneshot(request("POST", "/ok", Body::empty())).await.unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(response.headers()["allow"].to_str().unwrap().contains("GET"));
    assert_eq!(response.headers()["content-type"], "application/problem+json");
}

#[tokio::test]
async fn successful_responses_pass_through_untouched() {
    let response = app(&HttpSettings::default()).oneshot(request("GET", "/ok", Body::empty())).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().contains_key("x-request-id"));
    assert_eq!(response.into_body().collect().await.unwrap().to_bytes(), "ok");
}

#[tokio::test]
async fn bare_error_statuses_keep_their_status_and_proxied_ones_pass_untouched() {
    let (status, _, body) = call(app(&HttpSettings::default()), "/bare-502").await;
    assert_eq!((status, body["type"].as_str()), (StatusCode::BAD_GATEWAY, Some("/problems/bad-gateway")));
    let response = app(&HttpSettings::default()).oneshot(request("GET", "/proxied-502", Body::empty())).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert!(response.headers().get("content-type").is_none_or(|v| v != "application/problem+json"));
    assert_eq!(response.into_body().collect().await.unwrap().to_bytes(), "upstream text");
}

#[tokio::test(start_paused = true)]
async fn every_503_says_when_to_retry() {
    let settings = HttpSettings { request_timeout: Duration::from_secs(2), ..HttpSettings::default() };
    let (status, headers, _) = call(app(&settings), "/slow").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers["retry-after"], "1");
}

#[tokio::test]
async fn an_http11_request_without_host_is_a_400_problem() {
    let response =
        app(&HttpSettings::default()).oneshot(Request::get("/ok").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    let h2 = Request::get("/ok").version(http::Version::HTTP_2).body(Body::empty()).unwrap();
    assert_eq!(app(&HttpSettings::default()).oneshot(h2).await.unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn a_declared_length_over_the_limit_is_refused_before_the_body_is_read() {
    let settings = HttpSettings { max_body_bytes: 10, ..HttpSettings::default() };
    // A body that would never end: answering proves it was not read.
    let endless = Body::from_stream(futures_util::stream::pending::<Result<Vec<u8>, std::io::Error>>());
    let mut over = request("POST", "/echo", endless);
    over.headers_mut().insert("content-type", "application/json".parse().unwrap());
    over.headers_mut().insert("content-length", "11".parse().unwrap());
    let response = app(&settings).oneshot(over).await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(response.headers()["connection"], "close");
}

#[tokio::test(start_paused = true)]
async fn a_body_slower_than_the_body_read_timeout_gets_408() {
    let settings = HttpSettings { body_read_timeout: Duration::from_secs(1), ..HttpSettings::default() };
    let stalled = Body::from_stream(futures_util::stream::pending::<Result<Vec<u8>, std::io::Error>>());
    let mut slow = request("POST", "/echo", stalled);
    slow.headers_mut().insert("content-type", "application/json".parse().unwrap());
    let (parts, body) = app(&settings).oneshot(slow).await.unwrap().into_parts();
    assert_eq!(parts.status, StatusCode::REQUEST_TIMEOUT);
    let body: Value = serde_json::from_slice(&body.collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(body["type"], "/problems/request-timeout");
}

#[tokio::test]
async fn a_route_can_have_its_own_limits() {
    let settings = HttpSettings { max_body_bytes: 10, ..HttpSettings::default() };
    let mut overrides = RouteLimits::default();
    overrides.set("/echo", Limits { max_body_bytes: 1000, ..Limits::from(&settings) });
    let body = r#"{"a": "more than ten bytes"}"#;
    let send = |router: Router| {
        let mut post = request("POST", "/echo", Body::from(body));
        post.headers_mut().insert("content-type", "application/json".parse().unwrap());
        router.oneshot(post)
    };
    assert_eq!(send(app(&settings)).await.unwrap().status(), StatusCode::PAYLOAD_TOO_LARGE);
    let wider = chassis::middleware::apply_with(routes(), &settings, overrides);
    assert_eq!(send(wider).await.unwrap().status(), StatusCode::OK);
}
