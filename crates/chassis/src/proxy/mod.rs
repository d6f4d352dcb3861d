//! A reverse proxy: configured routes, each a pool of HTTP/1.1 upstreams,
//! requests and responses streamed through with their framing, hop-by-hop
//! fields removed and forwarding fields added (docs/design/proxy.md is the
//! contract).
//!
//! A request goes: [`Proxy::route_for`] (longest prefix among the routes
//! whose host matches) → [`balance::Pool::choose`] (an upstream in
//! rotation) → one exchange over a pooled keep-alive connection, with the
//! response head due within the route's response timeout and no gap
//! between body bytes longer than its idle timeout → the answer, or the
//! service's own problem when the exchange failed. A connect failure is
//! retried on another upstream when the request is idempotent and has no
//! body (a body already handed to a failed connection cannot be sent again).

pub mod balance;
pub mod headers;
mod idle;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use futures_util::future::BoxFuture;
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderValue, Method, StatusCode, Uri, header};
use hyper::body::Body as _;
use hyper_util::rt::TokioIo;
use tokio::time::Instant;

pub use balance::Balance;
use balance::Pool;
pub use idle::{BodyIdle, IdleTimeout};

use crate::client::HttpClient;
use crate::middleware::Limits;
use crate::problem::{PassThrough, Problem};

/// One route as configured.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteSpec {
    /// Requests whose path starts with this go to the route.
    pub prefix: String,
    /// Only requests for this host (lower case, no port), when set.
    pub host: Option<String>,
    /// The pool: `(name as configured, host:port)`.
    pub upstreams: Vec<(String, Authority)>,
    pub strip_prefix: bool,
    pub preserve_host: bool,
    pub balance: Balance,
    pub connect_timeout: Duration,
    /// From sending the request head to the response head.
    pub response_timeout: Duration,
    /// Longest gap between body bytes, either direction.
    pub idle_timeout: Duration,
    pub max_body_bytes: u64,
    /// Further upstreams to try after a connect failure.
    pub retries: u32,
    /// Consecutive failures that take an upstream out of rotation.
    pub unhealthy_threshold: u32,
    /// Active health checks, when configured.
    pub health: Option<HealthCheck>,
}

/// `GET path` on every upstream every `interval`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheck {
    pub path: PathAndQuery,
    pub interval: Duration,
    /// A check without a 2xx head by then fails.
    pub timeout: Duration,
    /// Passing checks in a row that bring an ejected upstream back.
    pub healthy_threshold: u32,
}

/// The routes, ready to forward.
#[derive(Debug, Clone)]
pub struct Proxy {
    routes: Arc<[Route]>,
}

#[derive(Debug)]
struct Route {
    spec: RouteSpec,
    /// Its metric handles, registered once: no label is built per request.
    meters: Meters,
    /// The route's metric label: `{index}:{prefix}`, its place in the
    /// configuration and its prefix (two routes may share a prefix).
    label: Arc<str>,
    pool: Pool,
    client: HttpClient,
}

/// Idle keep-alive connections kept per upstream.
const MAX_IDLE_PER_UPSTREAM: usize = 1024;

/// The status classes counted, in [`class`]'s order; `error`: no answer.
const CLASSES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "error"];

/// A route's request counters (per upstream, and `none` for requests that
/// reached no upstream) and its duration histogram.
#[derive(Debug)]
struct Meters {
    requests: Vec<[metrics::Counter; 6]>,
    unrouted: metrics::Counter,
    duration: metrics::Histogram,
}

/// Which route and upstream served a response: the access log names them.
#[derive(Debug, Clone)]
pub struct Target {
    pub route: Arc<str>,
    pub upstream: Option<Arc<str>>,
}

// === impl Proxy ===

impl Proxy {
    /// The routes `specs` describe. Their validation (prefixes, no clash
    /// with the service's own routes) is the caller's.
    pub fn new(specs: Vec<RouteSpec>) -> Self {
        let mut routes: Vec<Route> =
            specs.into_iter().enumerate().map(|(index, spec)| Route::new(index, spec)).collect();
        // Longest prefix first; at equal length, a route with a host first.
        routes.sort_by_key(|route| (std::cmp::Reverse(route.spec.prefix.len()), route.spec.host.is_none()));
        Self { routes: routes.into() }
    }

    /// Whether there are routes at all.
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// The route for a request to `host` (its `Host`, any port) and `path`.
    pub fn route_for(&self, host: Option<&str>, path: &str) -> Option<usize> {
        // Configured hosts are lower case: compared without allocating, as
        // this runs twice per request (limits, then forwarding).
        let host = host.map(strip_port);
        self.routes.iter().position(|route| {
            path.starts_with(&route.spec.prefix)
                && route.spec.host.as_ref().is_none_or(|want| host.is_some_and(|h| h.eq_ignore_ascii_case(want)))
        })
    }

    /// The limits a request to route `index` runs under: its body streamed
    /// (bounded by the route's size and idle time), and the handler's time
    /// bounded by the proxy's own timeouts rather than the service's.
    pub fn limits(&self, index: usize) -> Option<Limits> {
        let spec = &self.routes.get(index)?.spec;
        let attempts = spec.retries + 1;
        Some(Limits {
            request_timeout: (spec.connect_timeout * attempts + spec.response_timeout) + Duration::from_secs(1),
            body_read_timeout: spec.idle_timeout,
            max_body_bytes: usize::try_from(spec.max_body_bytes).unwrap_or(usize::MAX),
            buffer_body: false,
        })
    }

    /// Forwards `request`, from `peer`, on route `index`.
    ///
    /// Boxed, so the forwarding code (and hyper's client under it) is
    /// compiled once, here: an `async fn`'s body is compiled again in every
    /// crate that awaits it.
    pub fn forward<'a>(
        &'a self,
        index: usize,
        request: Request,
        peer: SocketAddr,
        request_id: Option<&'a str>,
    ) -> BoxFuture<'a, Response> {
        Box::pin(async move {
            let Some(route) = self.routes.get(index) else {
                return Problem::not_found("no route").into_response();
            };
            let mut response = route.forward(request, peer, request_id).await;
            if response.extensions().get::<Target>().is_none() {
                response.extensions_mut().insert(Target { route: route.label.clone(), upstream: None });
            }
            response
        })
    }

    /// Sets the per-upstream gauges (before a scrape): requests in flight
    /// and whether each is in rotation.
    pub fn record_gauges(&self) {
        for route in self.routes.iter() {
            for upstream in route.pool.upstreams() {
                let labels = [("route", route.label.to_string()), ("upstream", upstream.name.to_string())];
                metrics::gauge!("proxy_upstream_active_requests", &labels).set(upstream.in_flight() as f64);
                metrics::gauge!("proxy_upstream_healthy", &labels).set(if upstream.healthy() { 1.0 } else { 0.0 });
            }
        }
    }

    /// Runs the active health checks of every route that has them, until
    /// `shutdown`.
    pub fn spawn_health_checks(&self, shutdown: crate::Shutdown) {
        for index in 0..self.routes.len() {
            let Some(check) = self.routes[index].spec.health.clone() else { continue };
            let (proxy, shutdown) = (self.clone(), shutdown.clone());
            tokio::spawn(async move {
                let mut ticks = tokio::time::interval(check.interval);
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tokio::select! {
                        () = shutdown.wait() => return,
                        _ = ticks.tick() => proxy.routes[index].check_all(&check).await,
                    }
                }
            });
        }
    }
}

/// Refuses what a reverse proxy must not do: tunnel (`CONNECT`), or fetch
/// an absolute-form target naming another host (an open proxy).
pub fn refuse_open_proxy(request: &Request) -> Result<(), Problem> {
    if request.method() == Method::CONNECT {
        return Err(Problem::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            "Method not allowed",
            "CONNECT is not served: this is not a forward proxy",
        ));
    }
    // HTTP/2 always carries the authority; HTTP/1.1 only in absolute form.
    let (Some(authority), Some(host)) = (request.uri().authority(), request.headers().get(header::HOST)) else {
        return Ok(());
    };
    if host.as_bytes().eq_ignore_ascii_case(authority.as_str().as_bytes()) {
        return Ok(());
    }
    Err(Problem::new(
        StatusCode::BAD_REQUEST,
        "bad-request",
        "Bad request",
        "an absolute-form target for another host is not served: this is not a forward proxy",
    ))
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split_once(']').map_or(host, |(addr, _)| addr.trim_start_matches('['));
    }
    host.rsplit_once(':')
        .map_or(host, |(name, port)| if port.bytes().all(|b| b.is_ascii_digit()) { name } else { host })
}

// === impl Route ===

impl Route {
    fn new(index: usize, spec: RouteSpec) -> Self {
        let client = crate::client::http_client(spec.connect_timeout, MAX_IDLE_PER_UPSTREAM);
        let label: Arc<str> = format!("{index}:{}", spec.prefix).into();
        let pool = Pool::new(spec.upstreams.clone(), spec.balance, spec.unhealthy_threshold, spec.health.is_some());
        let route = label.to_string();
        let counter = |upstream: &str, class: &'static str| {
            let labels = [("route", route.clone()), ("upstream", upstream.to_owned()), ("class", class.to_owned())];
            metrics::counter!("proxy_requests_total", &labels)
        };
        let meters = Meters {
            requests: spec.upstreams.iter().map(|(name, _)| CLASSES.map(|class| counter(name, class))).collect(),
            unrouted: counter("none", "error"),
            duration: metrics::histogram!("proxy_request_duration_seconds", "route" => route.clone()),
        };
        Self { spec, meters, label, pool, client }
    }

    async fn forward(&self, mut request: Request, peer: SocketAddr, request_id: Option<&str>) -> Response {
        let started = Instant::now();
        let upgrade = headers::is_upgrade(request.headers()).then(|| hyper::upgrade::on(&mut request));
        let (mut parts, body) = request.into_parts();
        let retryable = is_idempotent(&parts.method) && body.is_end_stream();
        // HTTP/2 and HTTP/3 carry the host in `:authority`, not `Host`.
        let client_host = parts
            .headers
            .get(header::HOST)
            .cloned()
            .or_else(|| parts.uri.authority().and_then(|authority| HeaderValue::from_str(authority.as_str()).ok()));
        let proto = if parts.extensions.get::<crate::server::Secure>().is_some() { "https" } else { "http" };
        headers::remove_hop_by_hop(&mut parts.headers, true);
        // The client's `Expect: 100-continue` was answered here, when the
        // body was first read; upstream, the body simply follows the head.
        parts.headers.remove(header::EXPECT);
        headers::add_forwarding(&mut parts.headers, &headers::Origin { peer, host: client_host.as_ref(), proto });
        if let Some(id) = request_id.and_then(|id| HeaderValue::from_str(id).ok()) {
            parts.headers.insert(header::HeaderName::from_static("x-request-id"), id);
        }
        let path = self.upstream_path(&parts.uri);
        let mut body = Some(body);
        let mut tried = Vec::new();
        loop {
            let Some(picked) = self.pool.choose(&tried) else {
                let problem = if tried.is_empty() {
                    Problem::unavailable("no upstream of this route is healthy; retry shortly")
                        .with_cause("proxy: no upstream in rotation")
                } else {
                    Problem::bad_gateway("the upstream could not be reached").with_cause("proxy: connect failed")
                };
                self.count(None, ERROR, started);
                return problem.into_response();
            };
            tried.push(picked.index);
            let upstream = picked.upstream;
            let mut outgoing = http::request::Builder::new()
                .method(parts.method.clone())
                .uri(upstream_uri(&upstream.authority, &path))
                .version(http::Version::HTTP_11)
                .body(body.take().unwrap_or_else(Body::empty))
                .unwrap_or_else(|_| http::Request::new(Body::empty()));
            *outgoing.headers_mut() = parts.headers.clone();
            let host = if self.spec.preserve_host { client_host.clone() } else { Some(upstream.host.clone()) };
            if let Some(host) = host {
                outgoing.headers_mut().insert(header::HOST, host);
            }
            let exchange = tokio::time::timeout(self.spec.response_timeout, self.client.request(outgoing)).await;
            let name = upstream.name.clone();
            match exchange {
                Ok(Ok(response)) => {
                    // An upstream's own error is an answer, passed through.
                    self.pool.report(picked.index, true);
                    self.count(Some(picked.index), class(response.status()), started);
                    return self.answer(response, upgrade, name);
                }
                Ok(Err(error)) => {
                    self.pool.report(picked.index, false);
                    tracing::warn!(upstream = %name, %error, "proxy: upstream exchange failed");
                    if error.is_connect() && retryable && tried.len() <= self.spec.retries as usize {
                        body = Some(Body::empty());
                        continue;
                    }
                    self.count(Some(picked.index), ERROR, started);
                    return with_target(
                        Problem::bad_gateway("the upstream failed before answering")
                            .with_cause(format!("proxy: {error}")),
                        &self.label,
                        name,
                    );
                }
                Err(_) => {
                    self.pool.report(picked.index, false);
                    self.count(Some(picked.index), ERROR, started);
                    let limit = self.spec.response_timeout.as_millis();
                    return with_target(
                        Problem::gateway_timeout(format!("the upstream sent no response head within {limit} ms"))
                            .with_cause("proxy: response timeout"),
                        &self.label,
                        name,
                    );
                }
            }
        }
    }

    /// Checks every upstream at once: a 2xx head within the timeout passes.
    async fn check_all(&self, check: &HealthCheck) {
        let checks = self.pool.upstreams().iter().enumerate().map(|(index, upstream)| async move {
            let request = http::Request::get(upstream_uri(&upstream.authority, &check.path))
                .header(header::USER_AGENT, "overkill-health-check")
                .body(Body::empty());
            let passed = match request {
                Ok(request) => match tokio::time::timeout(check.timeout, self.client.request(request)).await {
                    Ok(Ok(response)) => response.status().is_success(),
                    _ => false,
                },
                Err(_) => false,
            };
            self.pool.check_result(index, passed, check.healthy_threshold);
        });
        futures_util::future::join_all(checks).await;
    }

    /// The upstream's answer as the client gets it: hop-by-hop fields out,
    /// `Via` in, the body streamed under the idle timeout, and marked so
    /// the problem renderer leaves even an upstream's error as it is.
    fn answer(
        &self,
        mut response: http::Response<hyper::body::Incoming>,
        upgrade: Option<hyper::upgrade::OnUpgrade>,
        upstream: Arc<str>,
    ) -> Response {
        if response.status() == StatusCode::SWITCHING_PROTOCOLS {
            if let Some(client) = upgrade {
                tokio::spawn(join_upgraded(client, hyper::upgrade::on(&mut response)));
            }
        }
        let (mut parts, incoming) = response.into_parts();
        // On a 101, `Upgrade` and `Connection: upgrade` are kept.
        headers::remove_hop_by_hop(&mut parts.headers, false);
        headers::append_list(&mut parts.headers, header::VIA, headers::VIA);
        parts.extensions.insert(PassThrough);
        parts.extensions.insert(Target { route: self.label.clone(), upstream: Some(upstream) });
        let body = Body::new(IdleTimeout::new(incoming, self.spec.idle_timeout));
        Response::from_parts(parts, body)
    }

    /// The request target upstream: the path, less the prefix when
    /// stripped, and the query.
    fn upstream_path(&self, uri: &Uri) -> PathAndQuery {
        let path = uri.path();
        let path = if self.spec.strip_prefix {
            let rest = &path[self.spec.prefix.len().min(path.len())..];
            if rest.starts_with('/') { rest.to_owned() } else { format!("/{rest}") }
        } else {
            path.to_owned()
        };
        let target = match uri.query() {
            Some(query) => format!("{path}?{query}"),
            None => path,
        };
        target.parse().unwrap_or_else(|_| PathAndQuery::from_static("/"))
    }

    fn count(&self, upstream: Option<usize>, class: usize, started: Instant) {
        let counter = match upstream.and_then(|index| self.meters.requests.get(index)) {
            Some(classes) => &classes[class.min(ERROR)],
            None => &self.meters.unrouted,
        };
        counter.increment(1);
        self.meters.duration.record(started.elapsed().as_secs_f64());
    }
}

fn upstream_uri(authority: &Authority, path: &PathAndQuery) -> Uri {
    Uri::builder()
        .scheme(Scheme::HTTP)
        .authority(authority.clone())
        .path_and_query(path.clone())
        .build()
        .unwrap_or_else(|_| Uri::from_static("http://127.0.0.1/"))
}

fn with_target(problem: Problem, route: &Arc<str>, upstream: Arc<str>) -> Response {
    let mut response = problem.into_response();
    response.extensions_mut().insert(Target { route: route.clone(), upstream: Some(upstream) });
    response
}

/// Copies bytes both ways between the client's and the upstream's
/// upgraded connections until either side closes.
async fn join_upgraded(client: hyper::upgrade::OnUpgrade, upstream: hyper::upgrade::OnUpgrade) {
    let (client, upstream) = match tokio::try_join!(client, upstream) {
        Ok(both) => both,
        Err(error) => return tracing::debug!(%error, "proxy: upgrade failed"),
    };
    let (mut client, mut upstream) = (TokioIo::new(client), TokioIo::new(upstream));
    if let Err(error) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
        tracing::debug!(%error, "proxy: upgraded connection ended");
    }
}

fn is_idempotent(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE | Method::TRACE)
}

/// Index of `error` in [`CLASSES`].
const ERROR: usize = 5;

/// The status class's index in [`CLASSES`]; bounded whatever the upstream sends.
fn class(status: StatusCode) -> usize {
    match status.as_u16() {
        100..=199 => 0,
        200..=299 => 1,
        300..=399 => 2,
        400..=499 => 3,
        _ => 4,
    }
}
