//! fx-sim: a simulated Frankfurter v2 FX provider, for tests, the arena and
//! for trying the service offline.
//!
//! It speaks the v2 format (module `frankfurter`) with deterministic rates
//! ([`rates`]: a function of the pair and the date), and misbehaves on
//! demand through [`Knobs`]: a quota (429 with `Retry-After` and the IETF
//! `RateLimit-Policy`/`RateLimit` headers past it, module `quota`), latency with
//! jitter, an error rate, a black hole, outages (steady or periodic) and
//! malformed answers. It counts every call it receives, and every call over
//! quota ([`Stats`]).
//!
//! In a test, [`spawn`] starts one on a free port and the handle sets knobs
//! and reads counters directly; the `fx-sim` binary serves the same router,
//! with `POST /_control` and `GET /_stats` for the same over HTTP.

mod frankfurter;
mod knobs;
mod quota;
pub mod rates;
mod rng;
mod server;
mod stats;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use frankfurter::{MAX_QUERY_BYTES, MAX_QUOTES};
pub use knobs::{KnobError, Knobs, KnobsPatch, MAX_DELAY_MS, Malformed};
pub use stats::Stats;

/// A running simulator. Dropping it stops the server (calls held by the
/// black hole are released with a 503); [`Simulator::shutdown`] also waits
/// for it to finish.
#[derive(Debug)]
pub struct Simulator {
    address: SocketAddr,
    shared: Arc<server::Shared>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<io::Result<()>>>,
}

/// Why a simulator did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A knob is out of range.
    #[error("invalid knob {0}")]
    Knobs(#[from] KnobError),
    /// The address cannot be bound.
    #[error("cannot listen: {0}")]
    Bind(#[source] io::Error),
}

/// Starts a simulator on `127.0.0.1` and a free port, for tests.
///
/// # Panics
///
/// When a knob is out of range or no port can be bound: a test helper has
/// no better answer, and the message says which.
pub async fn spawn(knobs: Knobs) -> Simulator {
    let address = SocketAddr::from(([127, 0, 0, 1], 0));
    match Simulator::bind(address, knobs).await {
        Ok(simulator) => simulator,
        Err(error) => panic!("fx-sim: {error}"),
    }
}

// === impl Simulator ===

impl Simulator {
    /// Binds `address` (port 0 picks a free one) and serves until dropped
    /// or shut down.
    pub async fn bind(address: SocketAddr, knobs: Knobs) -> Result<Self, StartError> {
        knobs.validate()?;
        let listener = TcpListener::bind(address).await.map_err(StartError::Bind)?;
        let address = listener.local_addr().map_err(StartError::Bind)?;
        let (stop, stopping) = watch::channel(false);
        let shared = Arc::new(server::Shared::new(knobs, stopping.clone()));
        let app = server::router(shared.clone());
        let mut stopped = stopping;
        // Answers are written whole, but a truncated one comes in two
        // writes: without Nagle's delay, latency is exactly what the knobs say.
        let listener = listener.tap_io(|stream| {
            let _ = stream.set_nodelay(true);
        });
        let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = stopped.wait_for(|stopping| *stopping).await;
        });
        let task = tokio::spawn(std::future::IntoFuture::into_future(serve));
        Ok(Self { address, shared, stop, task: Some(task) })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.address
    }

    /// Its base URL, `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The knobs now.
    pub fn knobs(&self) -> Knobs {
        (*self.shared.knobs()).clone()
    }

    /// Changes the knobs `patch` names, as `POST /_control` does; returns
    /// every knob after the change. A changed quota starts from a full bucket.
    pub fn set(&self, patch: KnobsPatch) -> Result<Knobs, KnobError> {
        self.shared.set(patch)
    }

    /// The counters now.
    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    /// Zeroes the counters (and restarts the sequence of random draws).
    pub fn reset_stats(&self) {
        self.shared.reset_stats();
    }

    /// Stops accepting, releases black-holed calls, and waits for the
    /// connections in progress to finish.
    pub async fn shutdown(mut self) -> io::Result<()> {
        self.stop.send_replace(true);
        match self.task.take() {
            Some(task) => task.await.map_err(io::Error::other)?,
            None => Ok(()),
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}
