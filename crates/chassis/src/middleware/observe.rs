//! One access log line and the request metrics per request, under a span
//! that ties every log line of the request to its id.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use http::{Method, Version};
use tracing::Instrument;

use crate::problem::ErrorCause;
use crate::proxy::Target;
use crate::request_id::RequestId;

/// Route label for requests that matched no route: keeps metric cardinality
/// bounded whatever paths clients try.
const UNMATCHED: &str = "unmatched";

/// Status recorded for a request whose client went away before the
/// response was ready (nginx's convention; no response was sent).
const CLIENT_CLOSED: u16 = 499;

/// Logs one line per request and records the request metrics.
pub(super) async fn observe(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or(UNMATCHED, MatchedPath::as_str).to_owned();
    let request_id = request.extensions().get::<RequestId>().map(|id| id.as_str().to_owned()).unwrap_or_default();
    let method = method_label(request.method());
    let protocol = protocol_label(request.version());
    let span = tracing::info_span!("request", request_id = %request_id, http.method = method, http.route = %route);
    let mut observation =
        Observation { started: Instant::now(), method, protocol, route, request_id, finished: false, target: None };
    metrics::gauge!("http_requests_in_flight").increment(1.0);

    let response = next.run(request).instrument(span).await;
    let cause = response.extensions().get::<ErrorCause>().map(|cause| cause.0.as_str());
    observation.target = response.extensions().get::<Target>().cloned();
    observation.finish(response.status().as_u16(), cause);
    response
}

/// The metric label for a method: the standard ones by name, anything else
/// (hyper accepts any token as a method) as `OTHER`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "OTHER",
    }
}

/// The metric label for the protocol a request came over.
fn protocol_label(version: Version) -> &'static str {
    match version {
        Version::HTTP_2 => "http2",
        Version::HTTP_3 => "http3",
        _ => "http1",
    }
}

/// A request being observed. Dropped without [`Observation::finish`] (the
/// client disconnected and the server dropped the request), it still
/// lowers the in-flight gauge and records the request as 499.
struct Observation {
    started: Instant,
    method: &'static str,
    /// `http1`, `http2` or `http3`.
    protocol: &'static str,
    route: String,
    request_id: String,
    finished: bool,
    /// The proxy route and upstream, for a proxied request.
    target: Option<Target>,
}

// === impl Observation ===

impl Observation {
    fn finish(&mut self, status: u16, cause: Option<&str>) {
        self.finished = true;
        self.record(status, cause);
    }

    fn record(&self, status: u16, cause: Option<&str>) {
        let elapsed = self.started.elapsed();
        let (method, route) = (self.method, self.route.clone());
        metrics::counter!(
            "http_requests_total",
            "method" => method,
            "route" => route.clone(),
            "status" => status.to_string(),
            "protocol" => self.protocol
        )
        .increment(1);
        metrics::histogram!("http_request_duration_seconds", "method" => method, "route" => route)
            .record(elapsed.as_secs_f64());
        tracing::info!(
            http.method = self.method,
            http.protocol = self.protocol,
            http.route = %self.route,
            http.status = status,
            duration_ms = elapsed.as_secs_f64() * 1000.0,
            request_id = %self.request_id,
            error.cause = cause,
            proxy.route = self.target.as_ref().map(|t| t.route.as_ref()),
            proxy.upstream = self.target.as_ref().and_then(|t| t.upstream.as_deref()),
            "request"
        );
    }
}

impl Drop for Observation {
    fn drop(&mut self) {
        metrics::gauge!("http_requests_in_flight").decrement(1.0);
        if !self.finished {
            self.record(CLIENT_CLOSED, Some("the client closed the connection before the response"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_standard_methods_are_labels() {
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        for token in ["MABCDEFGHIJ", "get", "PROPFIND"] {
            assert_eq!(method_label(&Method::from_bytes(token.as_bytes()).unwrap()), "OTHER", "{token}");
        }
    }
}
