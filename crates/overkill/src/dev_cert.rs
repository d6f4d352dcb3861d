//! `overkill dev-cert`: a self-signed certificate and key for `localhost`,
//! so TLS and HTTP/3 can be tried (and tested) with no CA at hand.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;

/// Longest validity accepted: 825 days, the most browsers ever accepted
/// for a leaf certificate.
const MAX_DAYS: u32 = 825;

/// Where and for how long.
#[derive(Debug, Clone, Args)]
pub struct DevCertArgs {
    /// Directory to write `cert.pem` and `key.pem` into.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
    /// Days the certificate is valid, 1..=825.
    #[arg(long, value_name = "N", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_DAYS)))]
    pub days: u32,
    /// Replace existing files.
    #[arg(long)]
    pub force: bool,
}

/// Writes the pair: an ECDSA P-256 key and a certificate for `localhost`,
/// `127.0.0.1` and `::1`, valid from now for `days`. Returns the two paths.
pub fn write(args: &DevCertArgs) -> anyhow::Result<(PathBuf, PathBuf)> {
    let (cert_path, key_path) = (args.dir.join("cert.pem"), args.dir.join("key.pem"));
    if !args.force {
        for path in [&cert_path, &key_path] {
            anyhow::ensure!(!path.exists(), "{} exists; pass --force to replace it", path.display());
        }
    }
    let (cert, key) = generate(time::Duration::days(i64::from(args.days)))?;
    write_file(&cert_path, cert.as_bytes(), false)?;
    write_file(&key_path, key.as_bytes(), true)?;
    Ok((cert_path, key_path))
}

/// A self-signed pair valid from a minute ago (clock skew) for `validity`:
/// the certificate and the key, PEM.
pub fn generate(validity: time::Duration) -> anyhow::Result<(String, String)> {
    let names = ["localhost", "127.0.0.1", "::1"].map(str::to_owned).to_vec();
    let mut params = rcgen::CertificateParams::new(names).context("invalid subject names")?;
    params.distinguished_name.push(rcgen::DnType::CommonName, "overkill dev-cert (localhost)");
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::minutes(1);
    params.not_after = now + validity;
    let key = rcgen::KeyPair::generate().context("failed to generate a key")?;
    let cert = params.self_signed(&key).context("failed to sign the certificate")?;
    Ok((cert.pem(), key.serialize_pem()))
}

fn write_file(path: &Path, contents: &[u8], secret: bool) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path).with_context(|| format!("cannot write {}", path.display()))?;
    // `mode` applies only to a new file: an existing one (`--force`) is
    // narrowed too.
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::PermissionsExt as _;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("cannot restrict {}", path.display()))?;
    }
    let _ = secret;
    file.write_all(contents).with_context(|| format!("cannot write {}", path.display()))
}
