//! The independent clients the TLS tests drive: curl (HTTP/1.1 and HTTP/2
//! over TLS, OpenSSL underneath), h2load (nghttp2) and aioquic's HTTP/3
//! under `scripts/h3client.py`. None shares code with the service.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// The workspace root, where `scripts/` lives.
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// What curl saw: the protocol, the status, the headers (lower-cased
/// names) and the body.
#[derive(Debug)]
pub struct CurlAnswer {
    pub version: String,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl CurlAnswer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }
}

/// `curl` over `protocol` (`--http1.1` or `--http2`), trusting only `ca`.
pub async fn curl(protocol: &str, ca: &Path, url: &str, extra: &[&str]) -> CurlAnswer {
    let dir = tempfile::tempdir().unwrap();
    let headers_file = dir.path().join("headers");
    let output = Command::new("curl")
        .args(["--silent", "--show-error", "--max-time", "20", protocol, "--cacert"])
        .arg(ca)
        .arg("--dump-header")
        .arg(&headers_file)
        .args(["--write-out", "\n%{http_version} %{http_code}"])
        .args(extra)
        .arg(url)
        .output()
        .await
        .expect("curl runs (scripts/test installs it)");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "curl {protocol} {url} failed: {}", String::from_utf8_lossy(&output.stderr));
    let (body, trailer) = stdout.rsplit_once('\n').unwrap();
    let (version, status) = trailer.split_once(' ').unwrap();
    let raw = std::fs::read_to_string(&headers_file).unwrap();
    let headers = raw
        .lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(key, value)| (key.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    CurlAnswer { version: version.to_owned(), status: status.parse().unwrap(), headers, body: body.to_owned() }
}

/// The PEM certificate chain curl was shown by the server at `url`
/// (curl's `%{certs}` without its text description).
pub async fn served_certificate(ca: &Path, url: &str) -> String {
    let output = Command::new("curl")
        .args(["--silent", "--show-error", "--max-time", "20", "--output", "/dev/null", "--cacert"])
        .arg(ca)
        .args(["--write-out", "%{certs}", url])
        .output()
        .await
        .unwrap();
    assert!(output.status.success(), "curl failed: {}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8_lossy(&output.stdout);
    let start = text.find("-----BEGIN CERTIFICATE-----").expect("curl shows the certificate");
    text[start..].trim().to_owned()
}

/// Runs h2load (HTTP/2 over TLS) and returns its report.
pub async fn h2load(url: &str, requests: u32, clients: u32, streams: u32) -> String {
    let run = Command::new("h2load")
        .args(["-n", &requests.to_string(), "-c", &clients.to_string(), "-m", &streams.to_string(), url])
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("h2load finishes within 60 s")
        .expect("h2load runs (scripts/test installs nghttp2-client)");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// An aioquic HTTP/3 client holding one QUIC connection
/// (`scripts/h3client.py`), driven one JSON line at a time.
pub struct H3Client {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
}

/// How long one line of the client may take to come back.
const H3_LINE_TIMEOUT: Duration = Duration::from_secs(30);

impl H3Client {
    /// Connects to `https://127.0.0.1:PORT` (`base`), trusting only `ca`.
    pub fn connect(base: &str, ca: &Path) -> Self {
        Self::connect_with(base, ca, &[])
    }

    /// [`H3Client::connect`] with more client flags (`--concurrent`).
    pub fn connect_with(base: &str, ca: &Path, flags: &[&str]) -> Self {
        let (python, script) = h3client();
        let mut child = Command::new(python)
            .arg(script)
            .args(["--url", base, "--ca"])
            .arg(ca)
            .args(flags)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("the HTTP/3 client starts");
        let stdin = child.stdin.take().unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Self { child, stdin, lines }
    }

    /// Sends one line and returns the answer line.
    pub async fn send(&mut self, line: &Value) -> Value {
        let mut text = serde_json::to_string(line).unwrap();
        text.push('\n');
        self.stdin.write_all(text.as_bytes()).await.unwrap();
        self.stdin.flush().await.unwrap();
        self.read().await
    }

    /// Reads one answer line.
    pub async fn read(&mut self) -> Value {
        let line = tokio::time::timeout(H3_LINE_TIMEOUT, self.lines.next_line())
            .await
            .expect("the HTTP/3 client answers in time")
            .unwrap()
            .expect("the HTTP/3 client is still running");
        serde_json::from_str(&line).unwrap()
    }

    /// Sends several request lines at once (with `--concurrent`), each on
    /// its own stream, and returns the answers in order.
    pub async fn send_batch(&mut self, lines: &[Value]) -> Vec<Value> {
        let mut text = String::new();
        for line in lines {
            text.push_str(&serde_json::to_string(line).unwrap());
            text.push('\n');
        }
        text.push('\n');
        self.stdin.write_all(text.as_bytes()).await.unwrap();
        self.stdin.flush().await.unwrap();
        let mut answers = Vec::new();
        for _ in lines {
            answers.push(self.read().await);
        }
        answers
    }

    /// A request without a body.
    pub async fn request(&mut self, method: &str, path: &str) -> H3Answer {
        H3Answer(self.send(&json!({"method": method, "path": path})).await)
    }

    /// A request without a body, with headers.
    pub async fn request_with(&mut self, method: &str, path: &str, headers: &[(&str, &str)]) -> H3Answer {
        let headers: Vec<Value> = headers.iter().map(|(k, v)| json!([k, v])).collect();
        H3Answer(self.send(&json!({"method": method, "path": path, "headers": headers})).await)
    }

    /// A request with a JSON body and extra headers.
    pub async fn request_json(&mut self, method: &str, path: &str, body: &Value, headers: &[(&str, &str)]) -> H3Answer {
        use base64::Engine as _;
        let mut all = vec![json!(["content-type", "application/json"])];
        all.extend(headers.iter().map(|(k, v)| json!([k, v])));
        let body = base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(body).unwrap());
        H3Answer(self.send(&json!({"method": method, "path": path, "headers": all, "body_b64": body})).await)
    }

    /// Ends the client: closes its stdin and waits for it to exit.
    pub async fn finish(mut self) {
        drop(self.stdin);
        let _ = tokio::time::timeout(H3_LINE_TIMEOUT, self.child.wait()).await;
    }
}

/// One HTTP/3 answer line.
#[derive(Debug)]
pub struct H3Answer(pub Value);

impl H3Answer {
    pub fn status(&self) -> u16 {
        assert!(self.0.get("error").is_none(), "the HTTP/3 exchange failed: {}", self.0);
        u16::try_from(self.0["status"].as_u64().unwrap()).unwrap()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.0["headers"].as_array()?.iter().find(|pair| pair[0] == name).and_then(|pair| pair[1].as_str())
    }

    pub fn body(&self) -> Vec<u8> {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.decode(self.0["body_b64"].as_str().unwrap_or_default()).unwrap()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body()).unwrap()
    }
}

/// The aioquic python and our client script: from the environment
/// (`scripts/test` exports them) or installed now by `scripts/lib.sh`, so
/// a bare `cargo test` runs these tests too.
fn h3client() -> (String, PathBuf) {
    let script = std::env::var("OVERKILL_TEST_H3_CLIENT")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace().join("scripts/h3client.py"));
    if let Ok(python) = std::env::var("OVERKILL_TEST_H3_PYTHON") {
        return (python, script);
    }
    static PYTHON: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let python = PYTHON.get_or_init(|| {
        let output = std::process::Command::new("bash")
            .args(["-c", "source scripts/lib.sh && aioquic_python"])
            .current_dir(workspace())
            .stderr(Stdio::inherit())
            .output()
            .expect("bash runs");
        assert!(output.status.success(), "installing aioquic failed");
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    });
    (python.clone(), script)
}
