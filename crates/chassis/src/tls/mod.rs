//! TLS for the server: one certificate store shared by the TCP listener
//! (HTTP/1.1 and HTTP/2, ALPN) and the QUIC endpoint (HTTP/3), reloaded on
//! SIGHUP and when its files change.
//!
//! rustls on ring only: aws-lc-rs is slower to build and bigger, and
//! `.ci/run` checks it stays out of the graph.

mod certs;
mod validity;

use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::response::Response;
use http::{HeaderValue, header};
use tokio::net::TcpStream;

pub use self::certs::{CertStore, PairError};
use crate::server::{Acceptor, Stream};
use crate::shutdown::Shutdown;

/// How the service serves TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM private key of the leaf.
    pub key: PathBuf,
    /// From accept to a finished handshake (TLS or QUIC); past it the
    /// connection is dropped.
    pub handshake_timeout: Duration,
    /// How often the files are checked for change; `None`: on SIGHUP only.
    pub reload_interval: Option<Duration>,
    /// Serve HTTP/3 on UDP at the TLS port, and advertise it (`Alt-Svc`).
    pub http3: bool,
    /// `ma` of the `Alt-Svc` advertisement.
    pub alt_svc_max_age: Duration,
}

/// The loaded TLS configuration.
#[derive(Debug, Clone)]
pub struct Tls {
    store: Arc<CertStore>,
    settings: TlsSettings,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

/// ALPN of the TCP listener, preferred first.
const TCP_ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

// === impl Tls ===

impl Tls {
    /// Loads and checks the certificate and key.
    pub fn load(settings: TlsSettings) -> Result<Self, PairError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let store = Arc::new(CertStore::load(&settings.cert, &settings.key, provider.clone())?);
        Ok(Self { store, settings, provider })
    }

    /// The settings it was loaded with.
    pub fn settings(&self) -> &TlsSettings {
        &self.settings
    }

    /// The certificate store every listener presents from.
    pub fn store(&self) -> &Arc<CertStore> {
        &self.store
    }

    /// The acceptor for the TCP listener: ALPN `h2` and `http/1.1`.
    pub fn acceptor(&self) -> anyhow::Result<TlsAcceptor> {
        let config = self.server_config(rustls::DEFAULT_VERSIONS, &TCP_ALPN)?;
        Ok(TlsAcceptor {
            inner: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
            timeout: self.settings.handshake_timeout,
        })
    }

    /// The rustls configuration for QUIC: TLS 1.3 only (QUIC requires it),
    /// ALPN `h3`.
    pub fn quic_config(&self) -> anyhow::Result<rustls::ServerConfig> {
        self.server_config(&[&rustls::version::TLS13], &[b"h3"])
    }

    fn server_config(
        &self,
        versions: &[&'static rustls::SupportedProtocolVersion],
        alpn: &[&[u8]],
    ) -> anyhow::Result<rustls::ServerConfig> {
        let mut config = rustls::ServerConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(versions)?
            .with_no_client_auth()
            .with_cert_resolver(self.store.clone());
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        // Session tickets let a returning client skip the full handshake,
        // as Go's crypto/tls does by default.
        config.ticketer = rustls::crypto::ring::Ticketer::new()?;
        Ok(config)
    }

    /// `Alt-Svc` for responses over TLS on `port`, when HTTP/3 is served.
    pub fn alt_svc(&self, port: u16) -> Option<HeaderValue> {
        let max_age = self.settings.alt_svc_max_age.as_secs();
        self.settings.http3.then(|| HeaderValue::try_from(format!("h3=\":{port}\"; ma={max_age}")).ok()).flatten()
    }

    /// `app` with `Alt-Svc` on every response, for the TCP listener on
    /// `port`; `app` unchanged when HTTP/3 is off.
    pub fn advertise(&self, app: Router, port: u16) -> Router {
        let Some(alt_svc) = self.alt_svc(port) else { return app };
        app.layer(axum::middleware::map_response(move |mut response: Response| {
            // Ours replaces a proxied upstream's, which names the upstream.
            response.headers_mut().insert(header::ALT_SVC, alt_svc.clone());
            std::future::ready(response)
        }))
    }

    /// Reloads the pair on SIGHUP, and when either file's modification
    /// time or size changes (checked every `reload_interval`), until `stop`.
    pub async fn watch(self, stop: Shutdown) {
        let mut hangup = hangup_signal();
        let mut seen = stamps(&self.store);
        loop {
            let tick = async {
                match self.settings.reload_interval {
                    Some(interval) => tokio::time::sleep(interval).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = stop.wait() => return,
                Some(()) = recv(&mut hangup) => tracing::info!("SIGHUP: reloading the TLS certificate"),
                () = tick => {
                    let now = stamps(&self.store);
                    if now == seen {
                        continue;
                    }
                    tracing::info!("TLS certificate files changed: reloading");
                }
            }
            seen = stamps(&self.store);
            self.store.reload();
        }
    }
}

/// What identifies a version of a file: its modification time, its size
/// and (on Unix) its inode, since a file replaced by a rename within one
/// tick of the file system's clock, at the same size, differs only there.
type Stamp = Option<(SystemTime, u64, u64)>;

fn stamps(store: &CertStore) -> [Stamp; 2] {
    store.paths().map(|path| {
        let metadata = std::fs::metadata(path).ok()?;
        Some((metadata.modified().ok()?, metadata.len(), inode(&metadata)))
    })
}

#[cfg(unix)]
fn inode(metadata: &std::fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(metadata)
}

#[cfg(not(unix))]
fn inode(_: &std::fs::Metadata) -> u64 {
    0
}

#[cfg(unix)]
fn hangup_signal() -> Option<tokio::signal::unix::Signal> {
    use tokio::signal::unix::{SignalKind, signal};
    signal(SignalKind::hangup())
        .inspect_err(
            |error| tracing::warn!(%error, "cannot listen for SIGHUP; the certificate reloads on file change only"),
        )
        .ok()
}

#[cfg(unix)]
async fn recv(signal: &mut Option<tokio::signal::unix::Signal>) -> Option<()> {
    match signal {
        Some(signal) => signal.recv().await,
        None => std::future::pending().await,
    }
}

#[cfg(not(unix))]
fn hangup_signal() -> Option<()> {
    None
}

#[cfg(not(unix))]
async fn recv(_: &mut Option<()>) -> Option<()> {
    std::future::pending().await
}

/// Completes TLS handshakes for the TCP listener, each within the
/// handshake timeout.
#[derive(Clone)]
pub struct TlsAcceptor {
    inner: tokio_rustls::TlsAcceptor,
    timeout: Duration,
}

// === impl TlsAcceptor ===

impl Acceptor for TlsAcceptor {
    async fn handshake(&self, stream: TcpStream) -> io::Result<Stream> {
        let (label, result) = match tokio::time::timeout(self.timeout, self.inner.accept(stream)).await {
            Ok(Ok(stream)) => ("ok", Ok(Stream::Tls(Box::new(stream)))),
            Ok(Err(error)) => ("failed", Err(error)),
            Err(_) => ("timeout", Err(io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))),
        };
        metrics::counter!("tls_handshakes_total", "result" => label).increment(1);
        result
    }
}
