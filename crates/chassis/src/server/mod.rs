//! The accept loop: HTTP/1.1 and HTTP/2 (h2c) on one port, bounded
//! connections, deadlines on every connection phase, and a drain in stages.
//!
//! Written over hyper-util rather than `axum::serve` because `axum::serve`
//! hides the header-read timeout, has no connection limit and cannot drop a
//! connection that never sends a request.
//!
//! Handlers see the peer's address with axum's own extractor,
//! `ConnectInfo<SocketAddr>`: the server puts it on every request.
//!
//! Shutdown, once [`Shutdown`] triggers:
//! 1. grace (`drain_grace`): readiness already says draining; the listener
//!    keeps accepting and serving, HTTP/1.1 responses say `Connection: close`
//!    and HTTP/2 connections get GOAWAY, so clients and load balancers move
//!    away without a request being refused;
//! 2. drain (`shutdown_timeout`): the listener closes and every connection
//!    closes gracefully once its in-flight requests are done;
//! 3. abort: connections still open are dropped.

mod accept;
mod connection;
pub mod h3;
mod progress;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use futures_util::future::BoxFuture;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;

pub use self::accept::{Acceptor, Plain, Stream};
use self::connection::Phases;
use crate::settings::HttpSettings;
use crate::shutdown::Shutdown;
use crate::tls::TlsAcceptor;

/// On every request that arrived over TLS or QUIC (a request extension):
/// what a handler or the proxy reads to know the client's scheme was
/// `https`, whatever the request's URI says (HTTP/1.1 sends no scheme).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Secure;

/// Pause after a failed `accept` (e.g. out of file descriptors), so the loop
/// does not spin while the condition lasts.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(50);

/// Serves `app` over plain TCP on `listener` until `shutdown` triggers,
/// then drains in the stages above.
///
/// The server is returned boxed, and built here, so that its code (the
/// accept loop, hyper's connection code) is compiled once, in this crate. An
/// `async fn`'s body is compiled again in every crate that awaits it, and
/// in `release` (no generic sharing) the service crate would compile the
/// whole server a second time (measured in arena/findings.md).
pub fn serve(
    listener: TcpListener,
    app: Router,
    settings: &HttpSettings,
    shutdown: Shutdown,
) -> BoxFuture<'_, anyhow::Result<()>> {
    Box::pin(serve_with(listener, Plain, app, settings, shutdown))
}

/// [`serve`] over TLS: each accepted stream completes a TLS handshake
/// first.
pub fn serve_tls(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    app: Router,
    settings: &HttpSettings,
    shutdown: Shutdown,
) -> BoxFuture<'_, anyhow::Result<()>> {
    Box::pin(serve_with(listener, acceptor, app, settings, shutdown))
}

/// [`serve`], with each accepted stream passed through `acceptor`. Generic,
/// so compiled in the crate that calls it; [`serve`] and [`serve_tls`] are
/// not.
pub async fn serve_with<A: Acceptor>(
    listener: TcpListener,
    acceptor: A,
    app: Router,
    settings: &HttpSettings,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let address = listener.local_addr().context("failed to read the listener address")?;
    let builder = Arc::new(connection_builder(settings));
    let shared = Arc::new(settings.clone());
    let permits = Arc::new(Semaphore::new(settings.max_connections));
    let phases = Phases::new(&shutdown);
    let connections = TaskTracker::new();
    let grace_over = async {
        shutdown.wait().await;
        tracing::info!(%address, grace_ms = settings.drain_grace.as_millis(), "draining: still serving for the grace period");
        tokio::time::sleep(settings.drain_grace).await;
    };
    tokio::pin!(grace_over);

    loop {
        // Waiting for a permit before accepting leaves excess clients in the
        // kernel backlog instead of accepting connections we cannot serve.
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit.context("connection semaphore closed")?,
            () = &mut grace_over => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, %address, "accept failed");
                    tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                    continue;
                }
            },
            () = &mut grace_over => break,
        };
        let _ = stream.set_nodelay(true);
        let serving = connection::serve(
            stream,
            peer,
            acceptor.clone(),
            app.clone(),
            builder.clone(),
            shared.clone(),
            phases.clone(),
        );
        connections.spawn(async move {
            serving.await;
            drop(permit);
        });
    }

    drop(listener);
    phases.drain(&connections, settings, "TCP", address).await;
    Ok(())
}

fn connection_builder(settings: &HttpSettings) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(settings.header_read_timeout);
    let streams = settings.max_streams_per_connection.min(settings.max_concurrent_requests);
    builder.http2().timer(TokioTimer::new()).max_concurrent_streams(u32::try_from(streams).unwrap_or(u32::MAX));
    builder
}
