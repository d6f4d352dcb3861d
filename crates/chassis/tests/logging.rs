//! Log lines of a request: every line inside it carries the request id
//! through the request span, and the access line says why a 5xx happened.

#![allow(clippy::unwrap_used)]

use std::io;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use chassis::{HttpSettings, Problem};
use http::Request;
use serde_json::Value;
use tower::ServiceExt;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

async fn failing() -> Problem {
    tracing::error!("store failed: connection refused");
    Problem::internal().with_cause("database error")
}

#[tokio::test]
async fn lines_inside_a_request_carry_its_id_and_the_access_line_its_cause() {
    let captured = Captured::default();
    let writer = captured.clone();
    let filter = chassis::telemetry::parse_filter("info").unwrap();
    let subscriber = chassis::telemetry::json_subscriber(filter, move || writer.clone());
    let _guard = tracing::subscriber::set_default(subscriber);

    let app = chassis::middleware::apply(Router::new().route("/fail", get(failing)), &HttpSettings::default());
    let request = Request::get("/fail").header("host", "test").header("x-request-id", "req-42").body(Body::empty());
    let response = app.oneshot(request.unwrap()).await.unwrap();
    assert_eq!(response.status(), 500);

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<Value> = text.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    let inner = lines.iter().find(|line| line["message"] == "store failed: connection refused").unwrap();
    assert_eq!(inner["span"]["request_id"], "req-42", "{inner}");
    let access = lines.iter().find(|line| line["message"] == "request").unwrap();
    assert_eq!(access["http.status"], 500, "{access}");
    assert_eq!(access["error.cause"], "database error", "{access}");
    assert!(!access.to_string().contains("refused"), "the detail stays in its own line: {access}");
}
