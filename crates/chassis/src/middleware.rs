//! The middleware stack every route runs through, in one place.
//!
//! Order, outermost first, and why:
//! 1. [`request_id::assign`]: everything below, including log lines and
//!    problem bodies, needs the id.
//! 2. [`observe`]: the access log line and the metrics must see the final
//!    status, after panics, timeouts and load shedding have been turned into
//!    responses.
//! 3. [`render_problems`]: writes every error body as RFC 9457, including the
//!    ones produced by the three layers below and by the router itself.
//! 4. [`catch_panic`]: a panicking handler becomes a 500, not a dropped
//!    connection.
//! 5. [`timeout`]: bounds handler time; inside the panic guard so a timed-out
//!    future is simply dropped.
//! 6. [`shed_load`]: innermost, so a permit is held only while the handler runs.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::middleware::{Next, from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;
use http::{StatusCode, header};
use tokio::sync::Semaphore;
use tower::ServiceBuilder;

use crate::problem::{self, Problem};
use crate::request_id::{self, RequestId};
use crate::settings::HttpSettings;

/// Wraps every route of `router` (and its fallback) in the stack above.
pub fn apply(router: Router, settings: &HttpSettings) -> Router {
    let permits = Arc::new(Semaphore::new(settings.max_concurrent_requests));
    router.layer(
        ServiceBuilder::new()
            .layer(from_fn(request_id::assign))
            .layer(from_fn(observe))
            .layer(from_fn(render_problems))
            .layer(from_fn(catch_panic))
            .layer(from_fn_with_state(settings.request_timeout, timeout))
            .layer(from_fn_with_state(permits, shed_load))
            .layer(DefaultBodyLimit::max(settings.max_body_bytes)),
    )
}

/// Route label for requests that matched no route: keeps metric cardinality
/// bounded whatever paths clients try.
const UNMATCHED: &str = "unmatched";

/// Logs one line per request and records the request metrics.
async fn observe(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request.extensions().get::<MatchedPath>().map_or(UNMATCHED.to_owned(), |path| path.as_str().to_owned());
    let request_id = request.extensions().get::<RequestId>().cloned();

    let in_flight = metrics::gauge!("http_requests_in_flight");
    in_flight.increment(1.0);
    let response = next.run(request).await;
    in_flight.decrement(1.0);

    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    let labels = [("method", method.as_str().to_owned()), ("route", route.clone()), ("status", status.to_string())];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels[..2]).record(elapsed.as_secs_f64());
    tracing::info!(
        http.method = %method,
        http.route = %route,
        http.status = status,
        duration_ms = elapsed.as_secs_f64() * 1000.0,
        request_id = request_id.as_ref().map_or("", RequestId::as_str),
        "request"
    );
    response
}

/// Writes problem bodies: for [`Problem`]s handlers returned, and for bare
/// error statuses the router or an extractor produced.
async fn render_problems(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let request_id = request.extensions().get::<RequestId>().cloned();
    let mut response = next.run(request).await;

    let problem = match response.extensions_mut().remove::<Problem>() {
        Some(problem) => problem,
        None if is_bare_error(&response) => problem_for_status(response.status(), &path),
        None => return response,
    };
    let mut problem = problem;
    problem.instance = Some(path);
    problem.request_id = request_id.map(|id| id.as_str().to_owned());

    let body = serde_json::to_vec(&problem).unwrap_or_default();
    let (mut parts, _) = response.into_parts();
    parts.status = problem.status_code();
    parts.headers.insert(header::CONTENT_TYPE, http::HeaderValue::from_static(problem::CONTENT_TYPE));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, body.into())
}

/// An error status without a problem body: made by the framework, not by us.
fn is_bare_error(response: &Response) -> bool {
    let is_error = response.status().is_client_error() || response.status().is_server_error();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes() == problem::CONTENT_TYPE.as_bytes());
    is_error && !is_problem
}

fn problem_for_status(status: StatusCode, path: &str) -> Problem {
    match status {
        StatusCode::NOT_FOUND => Problem::not_found(format!("no resource at {path}")),
        StatusCode::METHOD_NOT_ALLOWED => Problem::new(
            status,
            "method-not-allowed",
            "Method not allowed",
            format!("{path} does not support this method; see the Allow header"),
        ),
        StatusCode::PAYLOAD_TOO_LARGE => payload_too_large(),
        StatusCode::INTERNAL_SERVER_ERROR => Problem::internal(),
        other if other.is_server_error() => Problem::unavailable("the service cannot handle the request now"),
        other => Problem::new(other, "bad-request", "Bad request", "the request is invalid"),
    }
}

/// 413: the body is over the configured limit.
pub fn payload_too_large() -> Problem {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload-too-large",
        "Payload too large",
        "the request body is larger than the service accepts",
    )
}

/// Turns a panicking handler into a 500. The panic message is logged, never sent.
async fn catch_panic(request: Request, next: Next) -> Response {
    match AssertUnwindSafe(next.run(request)).catch_unwind().await {
        Ok(response) => response,
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(panic.message = %message, "handler panicked");
            Problem::internal().into_response()
        }
    }
}

/// Gives up on a handler after the request timeout.
async fn timeout(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            "Request timed out",
            format!("the request took longer than {} ms", limit.as_millis()),
        )
        .into_response(),
    }
}

/// Refuses requests past the concurrency limit at once rather than queueing
/// them: a fast 503 lets clients and balancers retry elsewhere.
async fn shed_load(State(permits): State<Arc<Semaphore>>, request: Request, next: Next) -> Response {
    match permits.try_acquire() {
        Ok(_permit) => next.run(request).await,
        Err(_) => Problem::unavailable("too many requests in flight; retry shortly").into_response(),
    }
}
