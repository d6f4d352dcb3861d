//! One connection, from accept to close: every phase has a deadline.
//!
//! - Accept → first complete request head: `header_read_timeout`, whatever
//!   the protocol (a silent socket, a partial HTTP/2 preface, a preface and
//!   SETTINGS with no request are all dropped at it).
//! - No request in flight for `idle_timeout`: graceful close (HTTP/1.1 keep-
//!   alive closes at once; HTTP/2 gets GOAWAY); still nothing after another
//!   `header_read_timeout`: dropped. (hyper also bounds each later HTTP/1.1
//!   head by `header_read_timeout`, which closes idle HTTP/1.1 connections
//!   at that time if it is the shorter.)
//! - Draining: see [`Phases`].

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use http::{HeaderValue, Request, Response, Version, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::sync::Notify;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use super::accept::Acceptor;
use crate::settings::HttpSettings;
use crate::shutdown::Shutdown;

/// The stages of shutdown every connection watches.
#[derive(Clone)]
pub(super) struct Phases {
    /// Shutdown started: readiness reports draining; HTTP/1.1 responses
    /// carry `Connection: close` and HTTP/2 connections get GOAWAY, but the
    /// listener still accepts and serves (the drain grace period).
    pub draining: Shutdown,
    /// The grace period is over: every connection closes gracefully (idle
    /// ones at once, busy ones after their in-flight requests).
    pub closing: CancellationToken,
    /// The drain timeout is over: what is left is dropped.
    pub aborting: CancellationToken,
}

/// What a connection's requests tell its driver.
struct Activity {
    /// Requests whose response has not been fully sent.
    in_flight: AtomicUsize,
    /// Whether any request has arrived.
    started: AtomicBool,
    /// Whether requests arrive over HTTP/2.
    http2: AtomicBool,
    /// When `in_flight` last fell to zero.
    idle_since: Mutex<Instant>,
    /// Woken on every change above.
    changed: Notify,
}

/// Serves one accepted connection until it ends or a deadline or shutdown
/// phase ends it.
pub(super) async fn serve<A: Acceptor>(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    acceptor: A,
    app: Router,
    builder: Arc<auto::Builder<TokioExecutor>>,
    settings: Arc<HttpSettings>,
    phases: Phases,
) {
    let first_request_by = Instant::now() + settings.header_read_timeout;
    let io = tokio::select! {
        io = acceptor.handshake(stream) => match io {
            Ok(io) => io,
            Err(error) => return tracing::debug!(%error, %peer, "handshake failed"),
        },
        () = sleep_until(first_request_by) => return tracing::debug!(%peer, "handshake timed out"),
        () = phases.aborting.cancelled() => return,
    };
    let activity = Arc::new(Activity::new());
    let service = ConnectionService { app, peer, activity: activity.clone(), draining: phases.draining.clone() };
    let connection = builder.serve_connection_with_upgrades(
        TokioIo::new(io),
        hyper::service::service_fn(move |request| service.call(request)),
    );
    tokio::pin!(connection);

    let mut closing = false;
    let mut draining = false;
    loop {
        let deadline = activity.deadline(first_request_by, &settings, closing);
        let changed = activity.changed.notified();
        tokio::select! {
            result = connection.as_mut() => {
                // Errors here are clients going away or timing out; not ours to report.
                if let Err(error) = result {
                    tracing::debug!(%error, %peer, "connection ended with an error");
                }
                return;
            }
            () = changed => {}
            () = sleep_until(deadline.unwrap_or(first_request_by)), if deadline.is_some() => {
                if !activity.started.load(Ordering::Acquire) || closing {
                    return tracing::debug!(%peer, "connection made no progress; dropped");
                }
                connection.as_mut().graceful_shutdown();
                closing = true;
            }
            () = phases.draining.wait(), if !draining => draining = true,
            () = phases.closing.cancelled(), if !closing => {
                connection.as_mut().graceful_shutdown();
                closing = true;
            }
            () = phases.aborting.cancelled() => return,
        }
        // HTTP/2 clients are told to move at once when the drain starts
        // (or when their first request shows the protocol); HTTP/1.1 ones
        // by `Connection: close` on their next response.
        if draining && !closing && activity.http2.load(Ordering::Acquire) {
            connection.as_mut().graceful_shutdown();
            closing = true;
        }
    }
}

// === impl Activity ===

impl Activity {
    fn new() -> Self {
        Self {
            in_flight: AtomicUsize::new(0),
            started: AtomicBool::new(false),
            http2: AtomicBool::new(false),
            idle_since: Mutex::new(Instant::now()),
            changed: Notify::new(),
        }
    }

    /// When the connection must next have made progress; `None` while a
    /// request is in flight (the request timeout bounds it).
    fn deadline(&self, first_request_by: Instant, settings: &HttpSettings, closing: bool) -> Option<Instant> {
        if !self.started.load(Ordering::Acquire) {
            return Some(first_request_by);
        }
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        let idle_since = *self.idle_since.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        Some(idle_since + if closing { settings.header_read_timeout } else { settings.idle_timeout })
    }

    /// Records a request's start; the guard records its end when dropped.
    fn begin(self: &Arc<Self>, version: Version) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.started.store(true, Ordering::Release);
        if version == Version::HTTP_2 {
            self.http2.store(true, Ordering::Release);
        }
        self.changed.notify_one();
        InFlight(self.clone())
    }
}

/// Held until a response's body has been sent (or dropped).
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            *self.0.idle_since.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Instant::now();
        }
        self.0.changed.notify_one();
    }
}

/// The service hyper calls for each request of the connection: hands the
/// request to the router with the peer address, and tracks it.
#[derive(Clone)]
struct ConnectionService {
    app: Router,
    peer: SocketAddr,
    activity: Arc<Activity>,
    draining: Shutdown,
}

type ResponseFuture = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

// === impl ConnectionService ===

impl ConnectionService {
    fn call(&self, request: Request<Incoming>) -> ResponseFuture {
        let version = request.version();
        let guard = self.activity.begin(version);
        let mut request = request.map(Body::new);
        // axum's `ConnectInfo` extractor reads this: handlers see the peer.
        request.extensions_mut().insert(ConnectInfo(self.peer));
        let (app, draining) = (self.app.clone(), self.draining.clone());
        Box::pin(async move {
            let Ok(mut response) = app.oneshot(request).await;
            if draining.is_triggered() && version < Version::HTTP_2 {
                response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            // The guard lives in the body, so the request counts as in
            // flight until its last byte is sent.
            Ok(response.map(|body| {
                Body::new(body.map_frame(move |frame| {
                    let _held = &guard;
                    frame
                }))
            }))
        })
    }
}
