//! The certificate and key the TLS and QUIC listeners present, loaded from
//! PEM files, checked, and swapped in place on reload.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use super::validity::{self, Validity};

/// Why a certificate and key pair was refused. The message is one line
/// naming the file, for an operator.
#[derive(Debug, thiserror::Error)]
pub enum PairError {
    /// The certificate file is unusable.
    #[error("{}: {reason}", path.display())]
    Cert {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The key file is unusable or does not belong to the certificate.
    #[error("{}: {reason}", path.display())]
    Key {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

// === impl PairError ===

impl PairError {
    /// The setting naming the file at fault: `tls.cert` or `tls.key`.
    pub fn setting(&self) -> &'static str {
        match self {
            Self::Cert { .. } => "tls.cert",
            Self::Key { .. } => "tls.key",
        }
    }
}

/// The pair in use, shared by every listener; [`CertStore::reload`]
/// replaces it for later handshakes without touching open connections.
pub struct CertStore {
    cert_path: PathBuf,
    key_path: PathBuf,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
}

// === impl CertStore ===

impl CertStore {
    /// Loads and checks the pair: both files readable PEM, the key
    /// matching the leaf certificate, the leaf valid now.
    pub fn load(cert_path: &Path, key_path: &Path, provider: Arc<CryptoProvider>) -> Result<Self, PairError> {
        let (key, validity) = load_pair(cert_path, key_path, &provider)?;
        record(validity);
        Ok(Self {
            cert_path: cert_path.to_owned(),
            key_path: key_path.to_owned(),
            provider,
            current: RwLock::new(Arc::new(key)),
        })
    }

    /// Reads the files again; a good pair replaces the one in use, a bad one
    /// is logged and the old one stays.
    pub fn reload(&self) {
        match load_pair(&self.cert_path, &self.key_path, &self.provider) {
            Ok((key, validity)) => {
                *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(key);
                record(validity);
                metrics::counter!("tls_certificate_reloads_total", "result" => "ok").increment(1);
                tracing::info!(cert = %self.cert_path.display(), not_after = validity.not_after, "TLS certificate reloaded");
            }
            Err(error) => {
                metrics::counter!("tls_certificate_reloads_total", "result" => "rejected").increment(1);
                tracing::warn!(%error, "TLS certificate reload rejected; the previous certificate stays in use");
            }
        }
    }

    /// The two files, for the change watcher.
    pub fn paths(&self) -> [&Path; 2] {
        [&self.cert_path, &self.key_path]
    }

    /// The pair in use now.
    pub fn current(&self) -> Arc<CertifiedKey> {
        self.current.read().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

impl fmt::Debug for CertStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertStore").field("cert_path", &self.cert_path).field("key_path", &self.key_path).finish()
    }
}

fn record(validity: Validity) {
    // Unix seconds fit an f64 exactly for the next 285 million years.
    #[allow(clippy::cast_precision_loss)]
    metrics::gauge!("tls_certificate_not_after_seconds").set(validity.not_after as f64);
}

fn load_pair(
    cert_path: &Path,
    key_path: &Path,
    provider: &CryptoProvider,
) -> Result<(CertifiedKey, Validity), PairError> {
    let cert_error = |reason: String| PairError::Cert { path: cert_path.to_owned(), reason };
    let key_error = |reason: String| PairError::Key { path: key_path.to_owned(), reason };

    let cert_pem = std::fs::read(cert_path).map_err(|e| cert_error(format!("cannot read: {e}")))?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| cert_error(format!("not a PEM certificate chain: {e}")))?;
    let leaf = chain.first().ok_or_else(|| cert_error("no PEM certificate in it".to_owned()))?;
    let validity = validity::read(leaf).map_err(|e| cert_error(e.to_string()))?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
    if validity.not_after < now {
        return Err(cert_error(format!("the certificate expired {} s ago (notAfter)", now - validity.not_after)));
    }
    if validity.not_before > now {
        return Err(cert_error(format!(
            "the certificate is not valid for another {} s (notBefore)",
            validity.not_before - now
        )));
    }

    let key_pem = std::fs::read(key_path).map_err(|e| key_error(format!("cannot read: {e}")))?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| key_error(format!("no PEM private key (PKCS#8, PKCS#1 or SEC1) in it: {e}")))?;
    let signing =
        provider.key_provider.load_private_key(key).map_err(|e| key_error(format!("unusable private key: {e}")))?;
    let certified = CertifiedKey::new(chain, signing);
    match certified.keys_match() {
        Ok(()) => Ok((certified, validity)),
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
            Err(key_error(format!("the key does not match the certificate in {}", cert_path.display())))
        }
        // ring's keys always know their public half; anything else is a
        // certificate webpki cannot parse.
        Err(e) => Err(cert_error(format!("unusable certificate: {e}"))),
    }
}
