//! Shutdown: one token every listener and background task watches.

use tokio_util::sync::CancellationToken;

/// Cancelled once, when the service should stop accepting work and drain.
/// Cheap to clone; every clone observes the same cancellation.
#[derive(Debug, Clone, Default)]
pub struct Shutdown(CancellationToken);

// === impl Shutdown ===

impl Shutdown {
    /// A token not yet triggered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts shutdown; idempotent.
    pub fn trigger(&self) {
        self.0.cancel();
    }

    /// Whether shutdown has started.
    pub fn is_triggered(&self) -> bool {
        self.0.is_cancelled()
    }

    /// Completes when shutdown starts.
    pub async fn wait(&self) {
        self.0.cancelled().await;
    }

    /// Triggers this token on SIGTERM or SIGINT. Runs until one arrives.
    pub async fn trigger_on_signal(self) {
        wait_for_signal().await;
        tracing::info!("shutdown signal received; draining");
        self.trigger();
    }
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        tracing::error!("cannot install signal handlers; the service will not drain on signals");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}
