//! HTTP/3 over QUIC (quinn + h3), serving the same router, middleware and
//! limits as the TCP listeners, with the same deadlines per connection.
//!
//! There is no first-party way to serve a tower service over h3, and the
//! third-party adapters seen buffered whole request bodies; this one
//! streams both ways: the request body is an `http_body::Body` reading the
//! QUIC stream, and the response body is written frame by frame.
//!
//! - Connections: at most `max_connections`; more are refused at once
//!   (CONNECTION_REFUSED), never queued.
//! - Handshake: `handshake_timeout`, and the first request head within
//!   `header_read_timeout` of the accept, as on TCP.
//! - Each later phase (idle, a client that stops reading, a close nobody
//!   acknowledges) follows [`super::connection`]'s rules, from the same
//!   `Activity` bookkeeping.
//! - Shutdown: GOAWAY when the drain starts (as HTTP/2 gets), no new
//!   connections once the grace is over, what is left closed at the drain
//!   timeout.

mod body;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::{Request, Response, Version};
use http_body_util::BodyExt;
use quinn::crypto::rustls::QuicServerConfig;
use tokio::sync::Semaphore;
use tokio::time::{Instant, sleep_until};
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use self::body::RecvBody;
use super::connection::{Activity, Alarm, Expiry, Phases};
use crate::settings::HttpSettings;
use crate::shutdown::Shutdown;
use crate::tls::Tls;

type H3Connection = h3::server::Connection<h3_quinn::Connection, Bytes>;
type RequestResolver = h3::server::RequestResolver<h3_quinn::Connection, Bytes>;
type SendStream = h3::server::RequestStream<h3_quinn::SendStream<Bytes>, Bytes>;

/// H3_NO_ERROR: the connection closes normally.
const NO_ERROR: u32 = 0x100;
/// H3_INTERNAL_ERROR: a response body failed mid-way.
const INTERNAL_ERROR: u64 = 0x102;

/// Largest request head (QPACK-decoded field section) accepted, in bytes.
const MAX_FIELD_SECTION: u64 = 64 * 1024;

/// Unidirectional streams a client may open: HTTP/3's control stream and
/// QPACK's two, with room for reserved (grease) stream types.
const MAX_UNI_STREAMS: u32 = 8;

/// Flow-control windows: what one stream, and one connection, may have
/// in flight towards us. They bound the memory a client can make the
/// server buffer (`max_connections` × the connection window).
const STREAM_WINDOW: u32 = 1024 * 1024;
const CONNECTION_WINDOW: u32 = 4 * 1024 * 1024;

/// How long a connection that has answered everything after GOAWAY waits
/// for the client to close it, so the last responses are delivered rather
/// than cut by our own close.
const CLOSE_LINGER: Duration = Duration::from_secs(1);

/// Binds the QUIC endpoint on UDP `address` with `tls`'s certificate.
pub fn bind(address: SocketAddr, tls: &Tls, settings: &HttpSettings) -> anyhow::Result<quinn::Endpoint> {
    let crypto =
        QuicServerConfig::try_from(Arc::new(tls.quic_config()?)).context("the TLS configuration cannot serve QUIC")?;
    let mut transport = quinn::TransportConfig::default();
    let streams = settings.max_streams_per_connection.min(settings.max_concurrent_requests);
    transport
        .max_concurrent_bidi_streams(u32::try_from(streams).unwrap_or(u32::MAX).into())
        .max_concurrent_uni_streams(MAX_UNI_STREAMS.into())
        .stream_receive_window(STREAM_WINDOW.into())
        .receive_window(CONNECTION_WINDOW.into())
        .max_idle_timeout(Some(quinn::IdleTimeout::try_from(settings.idle_timeout)?))
        // QUIC's idle timer counts silence, and a handler that runs longer
        // than it is silent: keep-alives hold the connection while the
        // client answers them; the idle rule with no request in flight is
        // the connection's own (`Activity`), as on TCP.
        .keep_alive_interval(Some((settings.idle_timeout / 3).max(Duration::from_millis(10))));
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    config.transport_config(Arc::new(transport)).max_incoming(settings.max_connections);
    Ok(quinn::Endpoint::server(config, address)?)
}

/// Serves `app` over HTTP/3 on `endpoint` until `shutdown` triggers, then
/// drains in the stages of [`super::serve`]. Boxed for the reason
/// [`super::serve`] gives.
pub fn serve(
    endpoint: quinn::Endpoint,
    app: Router,
    settings: &HttpSettings,
    handshake_timeout: Duration,
    shutdown: Shutdown,
) -> BoxFuture<'_, anyhow::Result<()>> {
    Box::pin(accept_loop(endpoint, app, settings, handshake_timeout, shutdown))
}

async fn accept_loop(
    endpoint: quinn::Endpoint,
    app: Router,
    settings: &HttpSettings,
    handshake_timeout: Duration,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let address = endpoint.local_addr().context("failed to read the QUIC endpoint's address")?;
    let shared = Arc::new(settings.clone());
    let permits = Arc::new(Semaphore::new(settings.max_connections));
    let phases = Phases::new(&shutdown);
    let connections = TaskTracker::new();
    let grace_over = async {
        shutdown.wait().await;
        tokio::time::sleep(settings.drain_grace).await;
    };
    tokio::pin!(grace_over);

    loop {
        let incoming = tokio::select! {
            incoming = endpoint.accept() => match incoming {
                Some(incoming) => incoming,
                None => break,
            },
            () = &mut grace_over => break,
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            metrics::counter!("quic_connections_refused_total").increment(1);
            incoming.refuse();
            continue;
        };
        let serving = connection(incoming, app.clone(), shared.clone(), handshake_timeout, phases.clone());
        connections.spawn(async move {
            serving.await;
            drop(permit);
        });
    }

    // No new connections from here on; the ones open drain.
    endpoint.set_server_config(None);
    phases.drain(&connections, settings, "QUIC", address).await;
    endpoint.close(NO_ERROR.into(), b"shutdown");
    let _ = tokio::time::timeout(CLOSE_LINGER, endpoint.wait_idle()).await;
    Ok(())
}

/// Serves one QUIC connection until it ends or a deadline or shutdown
/// phase ends it.
async fn connection(
    incoming: quinn::Incoming,
    app: Router,
    settings: Arc<HttpSettings>,
    handshake_timeout: Duration,
    phases: Phases,
) {
    let peer = incoming.remote_address();
    let accepted_at = Instant::now();
    let first_request_by = accepted_at + settings.header_read_timeout;
    let handshake_by = first_request_by.min(accepted_at + handshake_timeout);
    let Some(quic) = handshake(incoming, handshake_by, &phases).await else { return };
    let mut builder = h3::server::builder();
    builder.max_field_section_size(MAX_FIELD_SECTION);
    let setup = builder.build::<_, Bytes>(h3_quinn::Connection::new(quic.clone()));
    let mut h3 = tokio::select! {
        built = setup => match built {
            Ok(h3) => h3,
            Err(error) => return tracing::debug!(%error, %peer, "HTTP/3 connection setup failed"),
        },
        () = sleep_until(first_request_by) => return quic.close(NO_ERROR.into(), b""),
    };

    let activity = Arc::new(Activity::new());
    // Request streams being served (not the refused ones).
    let streams = Arc::new(AtomicUsize::new(0));
    let mut closing: Option<Instant> = None;
    let mut alarm = Alarm::new(first_request_by);
    loop {
        alarm.no_later_than(activity.check_by(first_request_by, &settings, closing));
        let changed = activity.changed.notified();
        tokio::select! {
            biased;
            accepted = h3.accept() => match accepted {
                // After our GOAWAY every new stream is one it says was not
                // processed: refused, never run (the client may retry it).
                Ok(Some(resolver)) if closing.is_some() => {
                    tokio::spawn(refuse(resolver, settings.header_read_timeout));
                }
                Ok(Some(resolver)) => {
                    let open = Open::new(&activity, &streams);
                    tokio::spawn(request(resolver, app.clone(), peer, open, settings.header_read_timeout));
                }
                // GOAWAY sent or received, and every request answered.
                Ok(None) => break,
                Err(error) => return tracing::debug!(%error, %peer, "HTTP/3 connection ended with an error"),
            },
            () = changed => {}
            () = alarm.rung() => {
                match activity.deadline(first_request_by, &settings, closing) {
                    Some((at, Expiry::Drop(reason))) if at <= Instant::now() => {
                        tracing::debug!(%peer, reason, "HTTP/3 connection dropped");
                        return quic.close(NO_ERROR.into(), b"");
                    }
                    Some((at, Expiry::Close)) if at <= Instant::now() => {
                        let Some(at) = go_away(&mut h3, settings.header_read_timeout).await else {
                            return quic.close(NO_ERROR.into(), b"");
                        };
                        closing = Some(at);
                    }
                    _ => {}
                }
                alarm.set(activity.check_by(first_request_by, &settings, closing));
            }
            () = phases.draining.wait(), if closing.is_none() => {
                let Some(at) = go_away(&mut h3, settings.header_read_timeout).await else {
                    return quic.close(NO_ERROR.into(), b"shutdown");
                };
                closing = Some(at);
            }
            () = phases.aborting.cancelled() => return quic.close(NO_ERROR.into(), b"shutdown"),
        }
        // h3 ends `accept` only after a GOAWAY it *received*; after ours,
        // the connection is done once no request stream is left.
        if closing.is_some() && streams.load(Ordering::Acquire) == 0 {
            break;
        }
    }
    // Every request is answered: give the client a moment to take the last
    // bytes and close first.
    tokio::select! {
        _ = quic.closed() => {}
        () = tokio::time::sleep(CLOSE_LINGER) => quic.close(NO_ERROR.into(), b""),
        () = phases.aborting.cancelled() => quic.close(NO_ERROR.into(), b"shutdown"),
    }
}

/// Completes the QUIC handshake by `deadline`, counting the outcome.
async fn handshake(incoming: quinn::Incoming, deadline: Instant, phases: &Phases) -> Option<quinn::Connection> {
    let peer = incoming.remote_address();
    let outcome = match incoming.accept() {
        Err(error) => Err(("failed", error.to_string())),
        Ok(connecting) => tokio::select! {
            connected = connecting => connected.map_err(|error| ("failed", error.to_string())),
            () = sleep_until(deadline) => Err(("timeout", "QUIC handshake timed out".to_owned())),
            () = phases.aborting.cancelled() => return None,
        },
    };
    let label = outcome.as_ref().map_or_else(|(label, _)| *label, |_| "ok");
    metrics::counter!("quic_handshakes_total", "result" => label).increment(1);
    outcome.inspect_err(|(_, error)| tracing::debug!(%error, %peer, "QUIC handshake failed")).ok()
}

/// Sends GOAWAY: requests already open are answered, later ones refused
/// (H3_REQUEST_REJECTED, safe for the client to retry elsewhere). `None`
/// when the frame could not be written within `timeout` (a client that
/// grants no flow-control credit): the caller closes the connection.
async fn go_away(h3: &mut H3Connection, timeout: Duration) -> Option<Instant> {
    // h3 counts from the last stream it accepted: 1 names the next one,
    // the first *not* processed, as RFC 9114 §5.2 wants (0 would tell the
    // client its last request was never run, inviting a retry).
    match tokio::time::timeout(timeout, h3.shutdown(1)).await {
        Ok(Ok(())) => Some(Instant::now()),
        Ok(Err(error)) => {
            tracing::debug!(%error, "HTTP/3 GOAWAY failed");
            Some(Instant::now())
        }
        Err(_) => None,
    }
}

/// Refuses a request stream that arrived after GOAWAY, without running it.
async fn refuse(resolver: RequestResolver, head_timeout: Duration) {
    if let Ok(Ok((_, mut stream))) = tokio::time::timeout(head_timeout, resolver.resolve_request()).await {
        stream.stop_sending(h3::error::Code::H3_REQUEST_REJECTED);
        stream.stop_stream(h3::error::Code::H3_REQUEST_REJECTED);
    }
}

/// A request stream's hold on its connection: the connection counts them
/// to know when nothing is left after GOAWAY, and is woken as each ends
/// (after the count drops, so the wake never sees a stale count).
struct Open {
    activity: Arc<Activity>,
    streams: Arc<AtomicUsize>,
}

impl Open {
    fn new(activity: &Arc<Activity>, streams: &Arc<AtomicUsize>) -> Self {
        streams.fetch_add(1, Ordering::AcqRel);
        Self { activity: activity.clone(), streams: streams.clone() }
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.streams.fetch_sub(1, Ordering::AcqRel);
        self.activity.changed.notify_one();
    }
}

/// Reads one request's head, runs it through the router with its body
/// streaming, and writes the response as it comes.
async fn request(resolver: RequestResolver, app: Router, peer: SocketAddr, open: Open, head_timeout: Duration) {
    let activity = &open.activity;
    let (head, stream) = match tokio::time::timeout(head_timeout, resolver.resolve_request()).await {
        Ok(Ok(resolved)) => resolved,
        Ok(Err(error)) => return tracing::debug!(%error, %peer, "HTTP/3 request rejected"),
        Err(_) => return tracing::debug!(%peer, "HTTP/3 request head timed out"),
    };
    let mut guard = activity.begin(Version::HTTP_3);
    let (mut send, recv) = stream.split();
    let mut request = Request::from_parts(head.into_parts().0, Body::new(RecvBody::new(recv)));
    *request.version_mut() = Version::HTTP_3;
    request.extensions_mut().insert(ConnectInfo(peer));
    request.extensions_mut().insert(super::Secure);
    let Ok(response) = app.oneshot(request).await;
    guard.handled();
    // The guard lives until the last byte is written: the connection
    // watches for a client that stops reading, as on TCP.
    if let Err(error) = respond(&mut send, response, activity).await {
        tracing::debug!(%error, %peer, "HTTP/3 response not completed");
        send.stop_stream(h3::error::Code::from(INTERNAL_ERROR));
    }
    drop(guard);
}

async fn respond(send: &mut SendStream, response: Response<Body>, activity: &Activity) -> anyhow::Result<()> {
    let (parts, mut body) = response.into_parts();
    send.send_response(Response::from_parts(parts, ())).await?;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|error| anyhow::anyhow!("response body failed: {error}"))?;
        match frame.into_data() {
            Ok(data) => {
                if !data.is_empty() {
                    send.send_data(data).await?;
                    activity.touch();
                }
            }
            Err(frame) => {
                if let Ok(trailers) = frame.into_trailers() {
                    send.send_trailers(trailers).await?;
                }
            }
        }
    }
    Ok(send.finish().await?)
}
