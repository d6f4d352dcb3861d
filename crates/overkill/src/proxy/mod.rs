//! Reverse-proxy routes: requests none of the service's own routes handle
//! go to the configured route with the longest matching prefix, and
//! through `chassis::proxy` to one of its upstreams.

pub mod config;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use chassis::middleware::RouteLimits;
use chassis::proxy::{Proxy, refuse_open_proxy};
use chassis::request_id::RequestId;
use http::{StatusCode, header};

/// The limits of proxied requests: each route's own (bodies streamed).
pub fn limits(proxy: &Proxy) -> RouteLimits {
    let mut limits = RouteLimits::default();
    if !proxy.is_empty() {
        let proxy = proxy.clone();
        limits.set_unmatched(Arc::new(move |request: &Request| {
            proxy.route_for(host(request), request.uri().path()).and_then(|index| proxy.limits(index))
        }));
    }
    limits
}

/// The router's fallback: a request for no route of the service's own.
pub async fn forward(State(proxy): State<Proxy>, request: Request) -> Response {
    if let Err(problem) = refuse_open_proxy(&request) {
        return problem.into_response();
    }
    let Some(index) = proxy.route_for(host(&request), request.uri().path()) else {
        // The renderer turns it into the usual 404 problem.
        return StatusCode::NOT_FOUND.into_response();
    };
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(SocketAddr::from(([0, 0, 0, 0], 0)), |ConnectInfo(peer)| *peer);
    let request_id = request.extensions().get::<RequestId>().map(|id| id.as_str().to_owned());
    proxy.forward(index, request, peer, request_id.as_deref()).await
}

/// The host a request is for: its `Host`, or HTTP/2's authority.
fn host(request: &Request) -> Option<&str> {
    request.headers().get(header::HOST).and_then(|value| value.to_str().ok()).or_else(|| request.uri().host())
}
