//! The outbound HTTP/1.1 client: pooled keep-alive connections, plain or
//! TLS (rustls on ring, Mozilla's roots compiled in, so https works in an
//! image without a CA store).
//!
//! One client type for every caller (the proxy's routes, the service's
//! third-party providers), and a type of ours rather than hyper's generic
//! one: hyper's client code is then compiled once, in this crate, and not
//! again in each crate that sends (measured: 0.25 MB of binary per extra
//! instantiation, and build time in arena/findings.md).

use std::time::Duration;

use axum::body::Body;
use http::Request;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::{Client, ResponseFuture};
use hyper_util::rt::{TokioExecutor, TokioTimer};

/// The client; requests carry an axum [`Body`] (streamed or empty).
/// Cloning it shares its connection pool.
#[derive(Clone, Debug)]
pub struct HttpClient(Client<HttpsConnector<HttpConnector>, Body>);

/// How long an idle pooled connection is kept before it is closed.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// A client for `http://` and `https://` origins, connecting within
/// `connect_timeout` (TCP; the TLS handshake is bounded by the caller's
/// own deadline) and keeping up to `max_idle_per_host` idle connections
/// for 90 s.
pub fn http_client(connect_timeout: Duration, max_idle_per_host: usize) -> HttpClient {
    let mut tcp = HttpConnector::new();
    tcp.set_connect_timeout(Some(connect_timeout));
    tcp.set_nodelay(true);
    tcp.enforce_http(false);
    let connector = HttpsConnectorBuilder::new().with_webpki_roots().https_or_http().enable_http1().wrap_connector(tcp);
    let client = Client::builder(TokioExecutor::new())
        // Without a timer, idle connections are never closed (hyper#3640).
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .pool_max_idle_per_host(max_idle_per_host)
        .build(connector);
    HttpClient(client)
}

// === impl HttpClient ===

impl HttpClient {
    /// Sends `request` on a pooled connection to its origin, or a new one.
    pub fn request(&self, request: Request<Body>) -> ResponseFuture {
        self.0.request(request)
    }
}
