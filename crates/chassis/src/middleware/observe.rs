//! One access log line and the request metrics per request, under a span
//! that ties every log line of the request to its id.

use std::collections::HashMap;
use std::sync::{OnceLock, PoisonError, RwLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::response::Response;
use http::{Method, Version};
use metrics::{Counter, Gauge, Histogram};

use crate::problem::ErrorCause;
use crate::proxy::Target;
use crate::request_id::RequestId;

/// Route label for requests that matched no route: keeps metric cardinality
/// bounded whatever paths clients try.
const UNMATCHED: &str = "unmatched";

/// Status recorded for a request whose client went away before the
/// response was ready (nginx's convention; no response was sent).
const CLIENT_CLOSED: u16 = 499;

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

/// The handles of the request metrics, each registered with the recorder
/// once, on first use, rather than looked up by its labels on every
/// request. Every label comes from a bounded set: the route templates the
/// router was built with (or `unmatched`), [`method_label`], the status
/// (100–999) and [`protocol_label`].
#[derive(Default)]
pub(super) struct RequestMetrics {
    in_flight: OnceLock<Gauge>,
    by_route: RwLock<HashMap<String, RouteSeries>>,
}

/// One route's series: few enough to search in order.
#[derive(Default)]
struct RouteSeries {
    /// `http_requests_total` by method, status and protocol.
    requests: Vec<((&'static str, u16, &'static str), Counter)>,
    /// `http_request_duration_seconds` by method.
    durations: Vec<(&'static str, Histogram)>,
}

impl RouteSeries {
    fn requests(&self, method: &'static str, status: u16, protocol: &'static str) -> Option<&Counter> {
        self.requests.iter().find(|(key, _)| *key == (method, status, protocol)).map(|(_, counter)| counter)
    }

    fn duration(&self, method: &'static str) -> Option<&Histogram> {
        self.durations.iter().find(|(key, _)| *key == method).map(|(_, histogram)| histogram)
    }
}

impl RequestMetrics {
    fn in_flight(&self) -> &Gauge {
        self.in_flight.get_or_init(|| metrics::gauge!("http_requests_in_flight"))
    }

    fn record(&self, route: &str, method: &'static str, status: u16, protocol: &'static str, seconds: f64) {
        let known = self.by_route.read().unwrap_or_else(PoisonError::into_inner).get(route).and_then(|series| {
            Some((series.requests(method, status, protocol)?.clone(), series.duration(method)?.clone()))
        });
        let (requests, duration) = known.unwrap_or_else(|| self.register(route, method, status, protocol));
        requests.increment(1);
        duration.record(seconds);
    }

    /// The handles for a label set not seen before, registered.
    #[cold]
    fn register(&self, route: &str, method: &'static str, status: u16, protocol: &'static str) -> (Counter, Histogram) {
        let mut by_route = self.by_route.write().unwrap_or_else(PoisonError::into_inner);
        let series = by_route.entry(route.to_owned()).or_default();
        let requests = match series.requests(method, status, protocol) {
            Some(counter) => counter.clone(),
            None => {
                let counter = metrics::counter!(
                    "http_requests_total",
                    "method" => method,
                    "route" => route.to_owned(),
                    "status" => status.to_string(),
                    "protocol" => protocol
                );
                series.requests.push(((method, status, protocol), counter.clone()));
                counter
            }
        };
        let duration = match series.duration(method) {
            Some(histogram) => histogram.clone(),
            None => {
                let histogram = metrics::histogram!("http_request_duration_seconds", "method" => method, "route" => route.to_owned());
                series.durations.push((method, histogram.clone()));
                histogram
            }
        };
        (requests, duration)
    }
}

/// A request being observed. Dropped without [`Observation::finish`] (the
/// client disconnected and the server dropped the request), it still
/// lowers the in-flight gauge and records the request as 499.
pub(super) struct Observation<'a> {
    metrics: &'a RequestMetrics,
    started: Instant,
    method: &'static str,
    /// `http1`, `http2` or `http3`.
    protocol: &'static str,
    route: Option<MatchedPath>,
    request_id: &'a RequestId,
    finished: bool,
}

// === impl Observation ===

impl<'a> Observation<'a> {
    /// Starts observing `request`: counts it in flight.
    pub(super) fn start(request: &Request, request_id: &'a RequestId, metrics: &'a RequestMetrics) -> Self {
        metrics.in_flight().increment(1.0);
        Self {
            metrics,
            started: Instant::now(),
            method: method_label(request.method()),
            protocol: protocol_label(request.version()),
            route: request.extensions().get::<MatchedPath>().cloned(),
            request_id,
            finished: false,
        }
    }

    /// The span every log line of the request is recorded under.
    pub(super) fn span(&self) -> tracing::Span {
        let request_id = self.request_id.as_str();
        tracing::info_span!("request", request_id, http.method = self.method, http.route = self.route())
    }

    /// Records the response's status: the metrics and the access log line.
    pub(super) fn finish(mut self, response: Response) -> Response {
        self.finished = true;
        let cause = response.extensions().get::<ErrorCause>().map(|cause| cause.0.as_str());
        let target = response.extensions().get::<Target>();
        self.record(response.status().as_u16(), cause, target);
        response
    }

    fn route(&self) -> &str {
        self.route.as_ref().map_or(UNMATCHED, MatchedPath::as_str)
    }

    fn record(&self, status: u16, cause: Option<&str>, target: Option<&Target>) {
        let elapsed = self.started.elapsed();
        self.metrics.record(self.route(), self.method, status, self.protocol, elapsed.as_secs_f64());
        tracing::info!(
            http.method = self.method,
            http.protocol = self.protocol,
            http.route = self.route(),
            http.status = status,
            duration_ms = elapsed.as_secs_f64() * 1000.0,
            request_id = self.request_id.as_str(),
            error.cause = cause,
            proxy.route = target.map(|t| t.route.as_ref()),
            proxy.upstream = target.and_then(|t| t.upstream.as_deref()),
            "request"
        );
    }
}

impl Drop for Observation<'_> {
    fn drop(&mut self) {
        self.metrics.in_flight().decrement(1.0);
        if !self.finished {
            self.record(CLIENT_CLOSED, Some("the client closed the connection before the response"), None);
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
