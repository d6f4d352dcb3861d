//! One connection, from accept to close: every phase has a deadline.
//!
//! - Accept → first complete request head: `header_read_timeout`, whatever
//!   the protocol (a silent socket, a partial HTTP/2 preface, a preface and
//!   SETTINGS with no request are all dropped at it).
//! - No request in flight for `idle_timeout`: graceful close (HTTP/1.1 keep-
//!   alive closes at once; HTTP/2 gets GOAWAY). hyper also bounds each later
//!   HTTP/1.1 head by `header_read_timeout`, which closes an idle HTTP/1.1
//!   connection at that time if it is the shorter.
//! - A response being sent and not a byte taken by the client for
//!   `idle_timeout` (a client that stopped reading): dropped, even while
//!   other requests' handlers run. While only handlers run there is no
//!   connection deadline: the route's request timeout bounds each.
//! - Closing gracefully and no progress for `header_read_timeout` since the
//!   close began (a client that never acknowledges GOAWAY): dropped.
//! - Draining: see [`Phases`].
//!
//! Progress is a write the socket accepted ([`ProgressIo`]), a request
//! starting, a handler returning or the last response ending.
//!
//! The deadline moves with every request, so the driver does not chase it:
//! its [`Alarm`] is armed no later than the deadline could be, and when it
//! rings the deadline is read afresh: due, the connection is closed or
//! dropped; not yet, the alarm is set to it. Progress only ever moves the
//! deadline later, so a request costs no timer and no wake-up of the driver
//! (arena/findings.md, issue 12); only the first request wakes it.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use http::{HeaderValue, Request, Response, Version, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::sync::Notify;
use tokio::time::{Instant, Sleep, sleep_until};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use super::accept::Acceptor;
use super::progress::{Progress, ProgressIo};
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

// === impl Phases ===

impl Phases {
    /// The phases of a listener that starts draining when `shutdown` triggers.
    pub(super) fn new(shutdown: &Shutdown) -> Self {
        Self { draining: shutdown.clone(), closing: CancellationToken::new(), aborting: CancellationToken::new() }
    }

    /// Once the listener has stopped accepting: closes every connection
    /// gracefully, waits for them up to `shutdown_timeout`, then drops what
    /// is left. The same for TCP and QUIC listeners.
    pub(super) async fn drain(
        &self,
        connections: &TaskTracker,
        settings: &HttpSettings,
        listener: &str,
        address: SocketAddr,
    ) {
        connections.close();
        self.closing.cancel();
        tracing::info!(%address, listener, connections = connections.len(), "stopped accepting; draining");
        if tokio::time::timeout(settings.shutdown_timeout, connections.wait()).await.is_err() {
            tracing::warn!(
                %address,
                listener,
                connections = connections.len(),
                timeout_ms = settings.shutdown_timeout.as_millis(),
                "drain timed out; closing remaining connections"
            );
            self.aborting.cancel();
            connections.wait().await;
        }
    }
}

/// What a connection's requests tell its driver (over TCP or QUIC).
pub(super) struct Activity {
    /// Requests whose response has not been fully sent.
    in_flight: AtomicUsize,
    /// Requests whose handler has not returned yet.
    handling: AtomicUsize,
    /// Whether any request has arrived.
    started: AtomicBool,
    /// Whether requests arrive over HTTP/2.
    http2: AtomicBool,
    /// When the connection last made progress.
    progress: Arc<Progress>,
    /// Woken by the first request, the one change that can bring the
    /// deadline forward (HTTP/3 also wakes it when a stream ends).
    pub(super) changed: Notify,
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
    let secure = matches!(io, super::Stream::Tls(_));
    let service =
        ConnectionService { app, peer, secure, activity: activity.clone(), draining: phases.draining.clone() };
    let io = ProgressIo { io, progress: activity.progress.clone() };
    let connection = builder.serve_connection_with_upgrades(
        TokioIo::new(io),
        hyper::service::service_fn(move |request| service.call(request)),
    );
    tokio::pin!(connection);

    // When the graceful close began, if it has.
    let mut closing: Option<Instant> = None;
    let mut draining = false;
    let mut alarm = Alarm::new(first_request_by);
    loop {
        alarm.no_later_than(activity.check_by(first_request_by, &settings, closing));
        let changed = activity.changed.notified();
        tokio::select! {
            // The connection first: a GOAWAY or a last response it can
            // still write goes out before any deadline is acted on.
            biased;
            result = connection.as_mut() => {
                // Errors here are clients going away or timing out; not ours to report.
                if let Err(error) = result {
                    tracing::debug!(%error, %peer, "connection ended with an error");
                }
                return;
            }
            () = changed => {}
            () = alarm.rung() => {
                match activity.deadline(first_request_by, &settings, closing) {
                    Some((at, Expiry::Drop(reason))) if at <= Instant::now() => {
                        return tracing::debug!(%peer, reason, "connection dropped");
                    }
                    Some((at, Expiry::Close)) if at <= Instant::now() => {
                        connection.as_mut().graceful_shutdown();
                        closing = Some(Instant::now());
                    }
                    _ => {}
                }
                alarm.set(activity.check_by(first_request_by, &settings, closing));
            }
            () = phases.draining.wait(), if !draining => draining = true,
            () = phases.closing.cancelled(), if closing.is_none() => {
                connection.as_mut().graceful_shutdown();
                closing = Some(Instant::now());
            }
            () = phases.aborting.cancelled() => return,
        }
        // HTTP/2 clients are told to move at once when the drain starts
        // (or when their first request shows the protocol); HTTP/1.1 ones
        // by `Connection: close` on their next response.
        if draining && closing.is_none() && activity.http2.load(Ordering::Acquire) {
            connection.as_mut().graceful_shutdown();
            closing = Some(Instant::now());
        }
    }
}

/// A connection's deadline timer, armed no later than its deadline could be.
pub(super) struct Alarm {
    sleep: Pin<Box<Sleep>>,
}

// === impl Alarm ===

impl Alarm {
    pub(super) fn new(at: Instant) -> Self {
        Self { sleep: Box::pin(sleep_until(at)) }
    }

    /// Rings at `at` if that is sooner than it would; a later `at` is left
    /// for the check when it rings.
    pub(super) fn no_later_than(&mut self, at: Instant) {
        if at < self.sleep.deadline() {
            self.sleep.as_mut().reset(at);
        }
    }

    /// Rings at `at`, sooner or later than it would have.
    pub(super) fn set(&mut self, at: Instant) {
        self.sleep.as_mut().reset(at);
    }

    /// Completes when it rings; again at once until it is set anew.
    pub(super) async fn rung(&mut self) {
        self.sleep.as_mut().await;
    }
}

// === impl Activity ===

impl Activity {
    pub(super) fn new() -> Self {
        Self {
            in_flight: AtomicUsize::new(0),
            handling: AtomicUsize::new(0),
            started: AtomicBool::new(false),
            http2: AtomicBool::new(false),
            progress: Arc::new(Progress::new()),
            changed: Notify::new(),
        }
    }

    /// When the connection must next have made progress, and what happens
    /// then; `None` while a handler runs.
    pub(super) fn deadline(
        &self,
        first_request_by: Instant,
        settings: &HttpSettings,
        closing: Option<Instant>,
    ) -> Option<(Instant, Expiry)> {
        if !self.started.load(Ordering::Acquire) {
            return Some((first_request_by, Expiry::Drop("no request within the header timeout")));
        }
        let progress = self.progress.last();
        let (in_flight, handling) = (self.in_flight.load(Ordering::Acquire), self.handling.load(Ordering::Acquire));
        if in_flight > handling {
            return Some((progress + settings.idle_timeout, Expiry::Drop("the client stopped reading its responses")));
        }
        if handling > 0 {
            return None;
        }
        if let Some(since) = closing {
            let last = progress.max(since);
            return Some((last + settings.header_read_timeout, Expiry::Drop("closing connection made no progress")));
        }
        Some((progress + settings.idle_timeout, Expiry::Close))
    }

    /// When the deadline must next be checked: at the deadline, or, while
    /// there is none (handlers running), an idle timeout from now, by when
    /// one may have begun.
    pub(super) fn check_by(
        &self,
        first_request_by: Instant,
        settings: &HttpSettings,
        closing: Option<Instant>,
    ) -> Instant {
        self.deadline(first_request_by, settings, closing).map_or(Instant::now() + settings.idle_timeout, |(at, _)| at)
    }

    /// Records progress now (a response byte taken by the client).
    pub(super) fn touch(&self) {
        self.progress.touch();
    }

    /// Records a request's start; the guard records its end when dropped.
    pub(super) fn begin(self: &Arc<Self>, version: Version) -> InFlight {
        // `handling` first, for the reason in `InFlight::drop`.
        self.handling.fetch_add(1, Ordering::AcqRel);
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        if version == Version::HTTP_2 {
            self.http2.store(true, Ordering::Release);
        }
        self.touch();
        // The first request changes the deadline's kind, and shows the
        // protocol (a draining HTTP/2 connection gets GOAWAY at once); the
        // later ones only move it later, which the alarm finds by itself.
        if !self.started.swap(true, Ordering::AcqRel) {
            self.changed.notify_one();
        }
        InFlight { activity: self.clone(), handled: false }
    }
}

/// What happens to a connection at its deadline.
#[derive(Debug, Clone, Copy)]
pub(super) enum Expiry {
    /// Close gracefully: it is idle.
    Close,
    /// Drop it, for this reason.
    Drop(&'static str),
}

/// Held from a request's start until its response body has been sent (or
/// dropped).
pub(super) struct InFlight {
    activity: Arc<Activity>,
    /// Whether the handler has returned.
    handled: bool,
}

// === impl InFlight ===

impl InFlight {
    /// The handler returned: the response is being sent.
    pub(super) fn handled(&mut self) {
        self.handled = true;
        // Progress first: the moment a response is pending must not look
        // like one stalled since the last write.
        self.activity.touch();
        self.activity.handling.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        // `in_flight` first, so it is never seen above `handling` by
        // mistake (that would read as a stalled response).
        let last = self.activity.in_flight.fetch_sub(1, Ordering::AcqRel) == 1;
        if !self.handled {
            self.activity.handling.fetch_sub(1, Ordering::AcqRel);
        }
        if last {
            self.activity.touch();
        }
    }
}

/// The service hyper calls for each request of the connection: hands the
/// request to the router with the peer address, and tracks it.
#[derive(Clone)]
struct ConnectionService {
    app: Router,
    peer: SocketAddr,
    /// Whether the connection is TLS.
    secure: bool,
    activity: Arc<Activity>,
    draining: Shutdown,
}

type ResponseFuture = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

// === impl ConnectionService ===

impl ConnectionService {
    fn call(&self, request: Request<Incoming>) -> ResponseFuture {
        let version = request.version();
        let mut guard = self.activity.begin(version);
        let mut request = request.map(Body::new);
        // axum's `ConnectInfo` extractor reads this: handlers see the peer.
        request.extensions_mut().insert(ConnectInfo(self.peer));
        if self.secure {
            request.extensions_mut().insert(super::Secure);
        }
        let (app, draining) = (self.app.clone(), self.draining.clone());
        Box::pin(async move {
            let Ok(mut response) = app.oneshot(request).await;
            guard.handled();
            if draining.is_triggered() && version < Version::HTTP_2 {
                response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            // The guard lives in the body, so the request counts as in
            // flight until its last byte is sent.
            Ok(response.map(|body| {
                Body::new(body.map_frame(move |frame| {
                    let _in_flight = &guard;
                    frame
                }))
            }))
        })
    }
}
