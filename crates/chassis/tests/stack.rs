//! The middleware stack without a socket: `Router::oneshot`.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use chassis::HttpSettings;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

fn app(settings: &HttpSettings) -> Router {
    let router = Router::new()
        .route("/panic", get(panics))
        .route("/slow", get(|| async { tokio::time::sleep(Duration::from_secs(3600)).await }))
        .route("/ok", get(|| async { "ok" }));
    chassis::middleware::apply(router, settings)
}

async fn panics() -> &'static str {
    panic!("secret internal detail")
}

async fn call(router: Router, path: &str) -> (StatusCode, http::HeaderMap, Value) {
    let response = router.oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
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
    let response =
        app(&HttpSettings::default()).oneshot(Request::post("/ok").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(response.headers()["allow"].to_str().unwrap().contains("GET"));
    assert_eq!(response.headers()["content-type"], "application/problem+json");
}

#[tokio::test]
async fn successful_responses_pass_through_untouched() {
    let response =
        app(&HttpSettings::default()).oneshot(Request::get("/ok").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().contains_key("x-request-id"));
    assert_eq!(response.into_body().collect().await.unwrap().to_bytes(), "ok");
}
