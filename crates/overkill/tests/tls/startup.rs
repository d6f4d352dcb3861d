//! Start-up checks of the certificate and key: every unusable pair stops
//! the binary with exit 64 and one line naming the setting at fault.

use std::path::Path;
use std::process::Command;

use super::{dev_cert, pair};

/// Runs `overkill serve` with `cert` and `key` and returns its exit status
/// and stderr. A valid pair would serve; every case here must exit.
fn start(cert: &Path, key: &Path, extra: &[(&str, &str)]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    // `timeout`: a pair wrongly accepted would serve forever.
    let output = Command::new("timeout")
        .args(["20", env!("CARGO_BIN_EXE_overkill"), "serve"])
        .env_remove("OVERKILL_CONFIG")
        .env("DATABASE_URL", format!("sqlite://{}", dir.path().join("never.db").display()))
        .env("OVERKILL_LISTEN", "127.0.0.1:0")
        .env("OVERKILL_ADMIN_LISTEN", "127.0.0.1:0")
        .env("OVERKILL_TLS_CERT", cert)
        .env("OVERKILL_TLS_KEY", key)
        .envs(extra.iter().copied())
        .output()
        .unwrap();
    (output.status.code(), String::from_utf8_lossy(&output.stderr).into_owned())
}

fn assert_refused(result: (Option<i32>, String), setting: &str, words: &str) {
    let (status, stderr) = result;
    assert_eq!(status, Some(64), "{stderr}");
    let line = stderr.trim();
    assert_eq!(line.lines().count(), 1, "one line: {line}");
    assert!(line.starts_with(&format!("overkill: invalid configuration: {setting}")), "{line}");
    assert!(line.contains(words), "`{words}` in: {line}");
}

#[test]
fn missing_garbage_mismatched_and_expired_pairs_exit_64_naming_the_file() {
    let good = pair();
    let missing = good.dir.path().join("missing.pem");
    assert_refused(start(&missing, &good.key, &[]), "tls.cert", "cannot read");
    assert_refused(start(&good.cert, &missing, &[]), "tls.key", "cannot read");

    let garbage = good.dir.path().join("garbage.pem");
    std::fs::write(&garbage, "hello\n").unwrap();
    assert_refused(start(&garbage, &good.key, &[]), "tls.cert", "no PEM certificate");
    assert_refused(start(&good.cert, &garbage, &[]), "tls.key", "no PEM private key");
    // The key where the certificate should be, and the reverse.
    assert_refused(start(&good.key, &good.cert, &[]), "tls.cert", "no PEM certificate");

    let other = tempfile::tempdir().unwrap();
    let (_, other_key) = dev_cert(other.path());
    assert_refused(start(&good.cert, &other_key, &[]), "tls.key", "does not match");

    let expired_dir = tempfile::tempdir().unwrap();
    let (cert, key) = overkill::dev_cert::generate(time::Duration::days(-1)).unwrap();
    let (expired_cert, expired_key) = (expired_dir.path().join("cert.pem"), expired_dir.path().join("key.pem"));
    std::fs::write(&expired_cert, cert).unwrap();
    std::fs::write(&expired_key, key).unwrap();
    assert_refused(start(&expired_cert, &expired_key, &[]), "tls.cert", "expired");
}

#[test]
fn half_a_pair_is_an_invalid_configuration() {
    let good = pair();
    let output = Command::new("timeout")
        .args(["20", env!("CARGO_BIN_EXE_overkill"), "serve"])
        .env_remove("OVERKILL_CONFIG")
        .env("OVERKILL_TLS_CERT", &good.cert)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&output.stderr).contains("tls.key"), "{output:?}");
}
