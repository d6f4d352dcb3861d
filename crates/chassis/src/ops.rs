//! The ops surface on the admin listener: liveness, readiness, metrics.
//!
//! Kept off the API port so probes and scrapes are never shed, rate limited
//! or exposed with the public API.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{StatusCode, header};
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::json;

use crate::shutdown::Shutdown;

/// How long a readiness check may take before the service reports unready.
const READINESS_TIMEOUT: Duration = Duration::from_secs(1);

/// A boxed future, for the object-safe [`Readiness`] trait.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What `/readyz` asks: can the service do its job now (typically, does the
/// database answer)?
pub trait Readiness: Send + Sync + 'static {
    /// `Err` with a short, loggable reason when not ready.
    fn check(&self) -> BoxFuture<'_, Result<(), String>>;

    /// Called before each scrape to refresh gauges (e.g. pool sizes).
    fn record_gauges(&self) {}

    /// Members added to the `/readyz` body, ready or not: the state of
    /// dependencies the service can do without (e.g. a third party's
    /// circuit breaker), which never make it unready.
    fn details(&self) -> serde_json::Map<String, serde_json::Value> {
        serde_json::Map::new()
    }
}

/// Everything the admin endpoints need.
#[derive(Clone)]
pub struct Ops {
    /// The service's readiness check.
    pub readiness: Arc<dyn Readiness>,
    /// Once triggered, `/readyz` reports draining.
    pub shutdown: Shutdown,
    /// Renders the process's metrics.
    pub metrics: PrometheusHandle,
}

/// The admin router: `/livez`, `/readyz`, `/metrics`.
pub fn router(ops: Ops) -> Router {
    Router::new()
        .route("/livez", get(livez))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(ops)
}

async fn livez() -> Response {
    axum::Json(json!({"status": "ok"})).into_response()
}

async fn readyz(State(ops): State<Ops>) -> Response {
    let details = ops.readiness.details();
    if ops.shutdown.is_triggered() {
        return answer(StatusCode::SERVICE_UNAVAILABLE, "draining", details);
    }
    match tokio::time::timeout(READINESS_TIMEOUT, ops.readiness.check()).await {
        Ok(Ok(())) => answer(StatusCode::OK, "ready", details),
        Ok(Err(reason)) => {
            tracing::warn!(%reason, "readiness check failed");
            answer(StatusCode::SERVICE_UNAVAILABLE, "unavailable", details)
        }
        Err(_) => {
            tracing::warn!(timeout_ms = READINESS_TIMEOUT.as_millis(), "readiness check timed out");
            answer(StatusCode::SERVICE_UNAVAILABLE, "unavailable", details)
        }
    }
}

/// `{"status": …}` and the readiness details.
fn answer(status: StatusCode, word: &str, mut body: serde_json::Map<String, serde_json::Value>) -> Response {
    body.insert("status".to_owned(), json!(word));
    (status, axum::Json(body)).into_response()
}

async fn metrics(State(ops): State<Ops>) -> Response {
    ops.readiness.record_gauges();
    ops.metrics.run_upkeep();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], ops.metrics.render()).into_response()
}
