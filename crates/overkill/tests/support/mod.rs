//! Starting the service for a test: in-process on port 0, on SQLite or on
//! a real PostgreSQL, through the same `Application::build` as production.
//!
//! Conformance mode: with `OVERKILL_TEST_BASE_URL` (and optionally
//! `OVERKILL_TEST_ADMIN_URL`) set, [`spawn_app`] starts nothing and the tests
//! run against that server instead — this is how the Go twin is checked
//! against the same suite. Tests then keep to their own rows by unique skus
//! and names, so a shared database is fine.

#![allow(dead_code, clippy::unwrap_used)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use overkill::config::DatabaseUrl;
use overkill::{Application, Config};
use serde_json::{Value, json};
use testkit::postgres::TestDatabase;

/// Which storage engine a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A running service and a client for it.
pub struct TestApp {
    /// `http://127.0.0.1:PORT` of the API.
    pub base: String,
    /// `http://127.0.0.1:PORT` of the admin listener.
    pub admin: String,
    /// `https://127.0.0.1:PORT` of the TLS listener (HTTP/3 on UDP at the
    /// same port), when TLS is served.
    pub tls: Option<String>,
    pub client: reqwest::Client,
    /// Set when the app runs in this process.
    pub shutdown: Option<chassis::Shutdown>,
    pub server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    pub database: Option<TestDatabase>,
    /// The database file, when the app runs in this process on SQLite.
    pub sqlite_path: Option<std::path::PathBuf>,
    /// A service process this test started (the Go twin), killed on drop.
    pub process: Option<Process>,
    _dir: Option<tempfile::TempDir>,
}

/// A child process killed when the test ends, however it ends.
pub struct Process(std::process::Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A service on `backend` with default settings.
pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

/// A service on `backend`, with `configure` applied to its configuration.
pub async fn spawn_app_with(backend: Backend, configure: impl FnOnce(&mut Config)) -> TestApp {
    if let Ok(base) = std::env::var("OVERKILL_TEST_BASE_URL") {
        return external(base);
    }
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = DatabaseUrl::Sqlite(dir.path().join("test.db"));
            let mut app = spawn_app_on(url, configure).await;
            app._dir = Some(dir);
            app
        }
        Backend::Postgres => {
            let database = TestDatabase::create().await;
            let url = DatabaseUrl::Postgres(database.url().to_owned().into());
            let mut app = spawn_app_on(url, configure).await;
            app.database = Some(database);
            app
        }
    }
}

/// A service in this process on `database`, with `configure` applied.
pub async fn spawn_app_on(database: DatabaseUrl, configure: impl FnOnce(&mut Config)) -> TestApp {
    let sqlite_path = match &database {
        DatabaseUrl::Sqlite(path) => Some(path.clone()),
        DatabaseUrl::Postgres(_) => None,
    };
    let mut config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        admin_listen: "127.0.0.1:0".parse().unwrap(),
        log_level: "warn".to_owned(),
        db_pool_size: 4,
        database,
        // Tests stop at once; the drain tests set their own grace.
        http: chassis::HttpSettings { drain_grace: std::time::Duration::ZERO, ..chassis::HttpSettings::default() },
        ..Config::default()
    };
    // Tests never reach the internet: the FX tests point this at their
    // own simulator.
    config.fx.url = None;
    configure(&mut config);
    let _ = chassis::telemetry::init_logging(chassis::telemetry::LogFormat::Pretty, &config.log_level);
    let app = Application::build(config).await.expect("the application builds");
    let tls = app.tls_addr().map(|address| format!("https://{address}"));
    let base = match app.tls_addr() {
        // TLS only: the API listener is the TLS one.
        Some(address) if address == app.api_addr() => format!("https://{address}"),
        _ => format!("http://{}", app.api_addr()),
    };
    let admin = format!("http://{}", app.admin_addr());
    let shutdown = app.shutdown();
    let server = tokio::spawn(app.run_until_stopped());
    TestApp {
        base,
        admin,
        tls,
        client: client(),
        shutdown: Some(shutdown),
        server: Some(server),
        database: None,
        sqlite_path,
        process: None,
        _dir: None,
    }
}

fn external(base: String) -> TestApp {
    let admin = std::env::var("OVERKILL_TEST_ADMIN_URL").unwrap_or_default();
    TestApp {
        base,
        admin,
        tls: None,
        client: client(),
        shutdown: None,
        server: None,
        database: None,
        sqlite_path: None,
        process: None,
        _dir: None,
    }
}

/// A service of its own for this test, configured by environment
/// variables (`OVERKILL_FX_URL`, …) as an operator would: in this process
/// on SQLite, or — in twin mode, with `OVERKILL_TEST_TWIN_BIN` and
/// `OVERKILL_TEST_TWIN_DATABASE_URL` set — that binary started with them.
/// For tests that need settings the shared conformance server lacks.
pub async fn spawn_with_env(env: &[(&str, String)]) -> TestApp {
    if let Ok(binary) = std::env::var("OVERKILL_TEST_TWIN_BIN") {
        return spawn_process(&binary, env);
    }
    let lookup = |name: &str| env.iter().find(|(key, _)| *key == name).map(|(_, value)| value.clone());
    let loaded = Config::load(&overkill::cli::SettingFlags::default(), lookup).expect("the test's settings are valid");
    let drain_grace =
        if lookup("OVERKILL_DRAIN_GRACE_MS").is_some() { loaded.http.drain_grace } else { Duration::ZERO };
    spawn_app_with(Backend::Sqlite, move |config| {
        config.fx = loaded.fx;
        config.proxy_routes = loaded.proxy_routes;
        config.tls = loaded.tls;
        config.http = chassis::HttpSettings { drain_grace, ..loaded.http };
    })
    .await
}

/// Starts `binary serve` with `env` on free ports and waits for its
/// `listening` log line on stdout (at most 30 s), which names both addresses.
fn spawn_process(binary: &str, env: &[(&str, String)]) -> TestApp {
    let database = std::env::var("OVERKILL_TEST_TWIN_DATABASE_URL").expect("OVERKILL_TEST_TWIN_DATABASE_URL is set");
    let mut command = std::process::Command::new(binary);
    command
        .arg("serve")
        .env("DATABASE_URL", database)
        .env("OVERKILL_DRAIN_GRACE_MS", "0")
        .env("OVERKILL_LOG_LEVEL", "info")
        .envs(env.iter().map(|(key, value)| (*key, value.as_str())));
    // The twin logs JSON lines to stdout.
    let (process, line) = start_listening(command, Log::Stdout);
    let address = |key: &str| line[key].as_str().map(str::to_owned);
    let tls_only = env.iter().any(|(key, _)| *key == "OVERKILL_TLS_CERT")
        && !env.iter().any(|(key, _)| *key == "OVERKILL_TLS_LISTEN");
    // TLS only: the twin names the one API address `tls_listen`.
    let listen = address("listen").or_else(|| address("tls_listen")).unwrap();
    let tls = address("tls_listen").or_else(|| tls_only.then(|| listen.clone())).map(|a| format!("https://{a}"));
    let base = if tls_only { format!("https://{listen}") } else { format!("http://{listen}") };
    TestApp {
        process: Some(process),
        admin: format!("http://{}", address("admin_listen").unwrap()),
        tls,
        ..external(base)
    }
}

/// Where a service writes its JSON log lines.
enum Log {
    Stdout,
    Stderr,
}

/// Starts `command` on free ports and waits (30 s at most) for the
/// `listening` line of its `log`, returned parsed; it names both addresses.
/// The log is read on a thread of its own and kept draining, so the child
/// never blocks on a full pipe.
fn start_listening(mut command: std::process::Command, log: Log) -> (Process, Value) {
    use std::io::BufRead;
    use std::process::Stdio;
    command.env("OVERKILL_LISTEN", "127.0.0.1:0").env("OVERKILL_ADMIN_LISTEN", "127.0.0.1:0");
    let (stdout, stderr) = match log {
        Log::Stdout => (Stdio::piped(), Stdio::inherit()),
        Log::Stderr => (Stdio::null(), Stdio::piped()),
    };
    let mut child = command.stdout(stdout).stderr(stderr).spawn().expect("the service starts");
    let lines: Box<dyn std::io::Read + Send> = match log {
        Log::Stdout => Box::new(child.stdout.take().unwrap()),
        Log::Stderr => Box::new(child.stderr.take().unwrap()),
    };
    let process = Process(child);
    let (found, listening) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut found = Some(found);
        for line in std::io::BufReader::new(lines).lines().map_while(Result::ok) {
            if line.contains("\"listening\"") {
                if let Some(found) = found.take() {
                    let _ = found.send(line);
                }
            }
        }
    });
    let line = listening.recv_timeout(std::time::Duration::from_secs(30)).expect("the service listens within 30 s");
    (process, serde_json::from_str(&line).unwrap())
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(std::time::Duration::from_secs(30)).build().unwrap()
}

/// Whether tests run against an external server (conformance mode).
pub fn is_external() -> bool {
    std::env::var("OVERKILL_TEST_BASE_URL").is_ok()
}

/// A string unique in this run, for skus and names.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{prefix}{:x}{}{}", nanos, std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// A valid create body with a unique sku.
pub fn new_product(name: &str, price_minor: i64, stock: i64) -> Value {
    json!({"sku": unique("SKU-"), "name": name, "price_minor": price_minor, "currency": "EUR", "stock": stock})
}

// === impl TestApp ===

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn admin_url(&self, path: &str) -> String {
        format!("{}{path}", self.admin)
    }

    /// POSTs `body` as JSON to `/v1/products`.
    pub async fn create(&self, body: &Value) -> reqwest::Response {
        self.client.post(self.url("/v1/products")).json(body).send().await.unwrap()
    }

    /// Creates a product and returns its JSON, asserting 201.
    pub async fn create_ok(&self, body: &Value) -> Value {
        let response = self.create(body).await;
        assert_eq!(response.status(), 201, "create failed: {:?}", response.text().await);
        response.json().await.unwrap()
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// PATCHes `/v1/products/{id}` with a merge patch.
    pub async fn patch(&self, id: &Value, body: &Value, if_match: Option<&str>) -> reqwest::Response {
        let mut request = self
            .client
            .patch(self.url(&format!("/v1/products/{id}")))
            .header("content-type", "application/merge-patch+json")
            .body(body.to_string());
        if let Some(tag) = if_match {
            request = request.header("if-match", tag);
        }
        request.send().await.unwrap()
    }

    /// Triggers graceful shutdown and waits for the server to stop.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(shutdown) = &self.shutdown {
            shutdown.trigger();
        }
        match self.server.take() {
            Some(server) => server.await?,
            None => Ok(()),
        }
    }
}

/// Asserts `response` is an RFC 9457 problem of `status` and `slug`, and returns its body.
pub async fn assert_problem(response: reqwest::Response, status: u16, slug: &str) -> Value {
    assert_eq!(response.status(), status, "unexpected status");
    let content_type = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(content_type.as_deref(), Some("application/problem+json"));
    let request_id = response.headers().get("x-request-id").map(|v| v.to_str().unwrap().to_owned());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], format!("/problems/{slug}"), "{body}");
    assert_eq!(body["status"], status, "{body}");
    assert!(body["title"].is_string() && body["detail"].is_string(), "{body}");
    assert_eq!(body["request_id"].as_str(), request_id.as_deref(), "{body}");
    body
}

/// Declares each listed `async fn(TestApp)` as two tests, one per backend.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::support::spawn_app($crate::support::Backend::Sqlite).await).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::support::spawn_app($crate::support::Backend::Postgres).await).await
                }
            )*
        }
    };
}

/// The `overkill` binary serving on free ports, with `env` on top of a
/// JSON log; killed (SIGKILL) when dropped. Tests that need the real
/// process (a SIGKILL, its peak RSS) use it.
pub struct Binary {
    pub process: Process,
    /// `IP:port` of the API.
    pub address: String,
}

impl Binary {
    /// Starts `overkill serve` and waits until it logs its addresses
    /// (explicit readiness).
    pub fn start(env: &[(&str, String)]) -> Self {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_overkill"));
        command
            .arg("serve")
            .env_remove("OVERKILL_CONFIG")
            .env("OVERKILL_LOG_FORMAT", "json")
            .env("OVERKILL_LOG_LEVEL", "info")
            .envs(env.iter().map(|(key, value)| (*key, value.as_str())));
        let (process, line) = start_listening(command, Log::Stderr);
        Self { process, address: line["listen"].as_str().unwrap().to_owned() }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.process.0.id()
    }
}
