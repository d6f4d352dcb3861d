//! The accept loop: HTTP/1.1 and HTTP/2 (h2c) on one port, bounded
//! connections, a header-read timeout, and a graceful drain.
//!
//! Written over hyper-util rather than `axum::serve` because `axum::serve`
//! hides the header-read timeout and has no connection limit.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::settings::HttpSettings;
use crate::shutdown::Shutdown;

/// Pause after a failed `accept` (e.g. out of file descriptors), so the loop
/// does not spin while the condition lasts.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(50);

/// Serves `app` on `listener` until `shutdown` triggers, then lets in-flight
/// requests finish for up to `settings.shutdown_timeout`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    settings: &HttpSettings,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let address = listener.local_addr().context("failed to read the listener address")?;
    let builder = connection_builder(settings);
    let permits = Arc::new(Semaphore::new(settings.max_connections));
    let graceful = GracefulShutdown::new();

    loop {
        // Waiting for a permit before accepting leaves excess clients in the
        // kernel backlog instead of accepting connections we cannot serve.
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit.context("connection semaphore closed")?,
            () = shutdown.wait() => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(error) => {
                    tracing::warn!(%error, %address, "accept failed");
                    tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                    continue;
                }
            },
            () = shutdown.wait() => break,
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service).into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // Errors here are clients going away or timing out; not ours to report.
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection ended with an error");
            }
            drop(permit);
        });
    }

    drop(listener);
    tracing::info!(%address, connections = graceful.count(), "stopped accepting; draining");
    if tokio::time::timeout(settings.shutdown_timeout, graceful.shutdown()).await.is_err() {
        tracing::warn!(%address, timeout_ms = settings.shutdown_timeout.as_millis(), "drain timed out; closing remaining connections");
    }
    Ok(())
}

fn connection_builder(settings: &HttpSettings) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(settings.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(u32::try_from(settings.max_concurrent_requests).unwrap_or(u32::MAX));
    builder
}
