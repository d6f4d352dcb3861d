//! Limits: framing checks, body size and read deadline, handler time and
//! requests in flight, each configurable per route.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode, Version, header};
use hyper::body::Body as _;
use tokio::sync::Semaphore;

use super::observe::RequestMetrics;
use crate::body;
use crate::deadline::Deadline;
use crate::problem::Problem;
use crate::settings::HttpSettings;

/// The limits one request runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Time the handler may take; then 503 `timeout`.
    pub request_timeout: Duration,
    /// Time the client has to send the whole body; then 408.
    pub body_read_timeout: Duration,
    /// Largest body; a larger one (declared or sent) gets 413.
    pub max_body_bytes: usize,
    /// Whether the whole body is read before the handler runs, and before
    /// it takes a request slot, so a slow upload holds only a body slot and
    /// never locks out requests without a body. `false` for routes that
    /// stream bodies through (a proxy): they are bounded while read.
    pub buffer_body: bool,
}

/// Limits for routes that need others than the service-wide ones (a proxy
/// route streaming large uploads, say), keyed by route template exactly as
/// registered (`/v1/products/{id}`); and, for requests no route template
/// matched (the router's fallback: proxy routes match on host and prefix),
/// a function of the request.
#[derive(Clone, Default)]
pub struct RouteLimits {
    by_route: HashMap<String, Limits>,
    unmatched: Option<Arc<UnmatchedLimits>>,
}

/// Chooses the limits of a request no route template matched.
pub type UnmatchedLimits = dyn Fn(&Request) -> Option<Limits> + Send + Sync;

/// What the stages share: the defaults, the per-route limits, the permits
/// of requests in flight and of bodies being received, the metric handles.
pub(super) struct Stack {
    defaults: Limits,
    routes: RouteLimits,
    permits: Semaphore,
    /// As many as request permits: bounds the memory of buffered bodies to
    /// `max_concurrent_requests × max_body_bytes`.
    body_permits: Semaphore,
    pub(super) metrics: RequestMetrics,
}

// === impl Limits ===

impl From<&HttpSettings> for Limits {
    fn from(settings: &HttpSettings) -> Self {
        Self {
            request_timeout: settings.request_timeout,
            body_read_timeout: settings.body_read_timeout,
            max_body_bytes: settings.max_body_bytes,
            buffer_body: true,
        }
    }
}

// === impl RouteLimits ===

impl RouteLimits {
    /// Puts the route with template `route` under `limits`.
    pub fn set(&mut self, route: impl Into<String>, limits: Limits) {
        self.by_route.insert(route.into(), limits);
    }

    /// Puts requests no route template matched under the limits `choose`
    /// gives (the service-wide ones when it gives none).
    pub fn set_unmatched(&mut self, choose: Arc<UnmatchedLimits>) {
        self.unmatched = Some(choose);
    }
}

// === impl Stack ===

impl Stack {
    pub(super) fn new(settings: &HttpSettings, routes: RouteLimits) -> Self {
        Self {
            defaults: Limits::from(settings),
            routes,
            permits: Semaphore::new(settings.max_concurrent_requests),
            body_permits: Semaphore::new(settings.max_concurrent_requests),
            metrics: RequestMetrics::default(),
        }
    }

    pub(super) fn limits_for(&self, request: &Request) -> Limits {
        let limits = match request.extensions().get::<MatchedPath>() {
            Some(route) => self.routes.by_route.get(route.as_str()).copied(),
            None => self.routes.unmatched.as_ref().and_then(|choose| choose(request)),
        };
        limits.unwrap_or(self.defaults)
    }
}

/// Rejects bad framing and over-size declared bodies before any work, and
/// bounds the body's size and read time: the request to run, or the refusal.
pub(super) async fn bound_request(stack: &Stack, limits: Limits, request: Request) -> Result<Request, Response> {
    if let Err(problem) = check_host(request.version(), request.headers()) {
        return Err(problem.into_response());
    }
    // Decided from the declaration first: a 413 at once, and never a
    // `100 Continue` for a body we would refuse (hyper sends it only when
    // the body is first read).
    if declared_length(request.headers()).is_some_and(|length| length > limits.max_body_bytes as u64) {
        return Err(Problem::payload_too_large().into_response());
    }
    if request.body().is_end_stream() {
        return Ok(request);
    }
    let (parts, body) = request.into_parts();
    if !limits.buffer_body {
        // Streamed: the read timeout bounds each gap between bytes, not
        // the whole body, so a large upload that keeps moving goes through.
        let body = body::bounded_streaming(body, limits.max_body_bytes, limits.body_read_timeout);
        return Ok(Request::from_parts(parts, body));
    }
    let body = body::bounded(body, limits.max_body_bytes, limits.body_read_timeout);
    let bytes = {
        let Ok(_receiving) = stack.body_permits.try_acquire() else {
            return Err(Problem::unavailable("too many request bodies being received; retry shortly")
                .with_cause("load shed: every body slot taken")
                .into_response());
        };
        body::read_all(body).await.map_err(IntoResponse::into_response)?
    };
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

/// RFC 9112 §3.2: an HTTP/1.1 request carries exactly one `Host`. HTTP/2
/// and HTTP/3 carry the authority in the request line instead.
fn check_host(version: Version, headers: &HeaderMap) -> Result<(), Problem> {
    if version != Version::HTTP_11 || headers.get_all(header::HOST).iter().count() == 1 {
        return Ok(());
    }
    Err(Problem::new(
        StatusCode::BAD_REQUEST,
        "bad-request",
        "Bad request",
        "an HTTP/1.1 request must carry exactly one Host header",
    ))
}

/// The `Content-Length` the client declared, when it is one valid number.
/// (hyper has already refused conflicting or malformed lengths.)
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

/// Gives up on `handler` after the route's request timeout.
pub(super) async fn timeout<H, F>(limits: Limits, mut request: Request, handler: H) -> Response
where
    H: FnOnce(Request) -> F,
    F: Future<Output = Response>,
{
    let limit = limits.request_timeout;
    request.extensions_mut().insert(Deadline(tokio::time::Instant::now() + limit));
    match tokio::time::timeout(limit, handler(request)).await {
        Ok(response) => response,
        Err(_) => Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            "Request timed out",
            format!("the request took longer than {} ms", limit.as_millis()),
        )
        .with_cause("request timeout")
        .into_response(),
    }
}

/// Refuses requests past the concurrency limit at once rather than queueing
/// them: a fast 503 (with `Retry-After`) lets clients and balancers retry
/// elsewhere.
pub(super) async fn shed_load(stack: &Stack, request: Request, next: Next) -> Response {
    match stack.permits.try_acquire() {
        Ok(_permit) => next.run(request).await,
        Err(_) => Problem::unavailable("too many requests in flight; retry shortly")
            .with_cause("load shed: every request slot taken")
            .into_response(),
    }
}
