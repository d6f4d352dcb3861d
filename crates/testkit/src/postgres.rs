//! A real PostgreSQL for tests, and a database per test.
//!
//! With `DATABASE_URL` (a `postgres://` URL of a role that may create
//! databases) that server is used. Otherwise the first test of the process
//! starts a throwaway cluster from the `initdb` and `postgres` binaries (on
//! PATH or in `/usr/lib/postgresql/*/bin`), as the `postgres` user when run
//! as root, since PostgreSQL refuses to run as root. A watchdog shell stops
//! the cluster and removes its files when the test process exits, however it
//! exits. When no server can be had, the test panics with the reason: a
//! PostgreSQL test is never skipped.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

use anyhow::{Context, bail};
use tokio_postgres::NoTls;

/// The server all tests of this process share.
struct Server {
    /// URL of the maintenance database, where test databases are created.
    admin_url: String,
    /// host:port, for proxies.
    address: SocketAddr,
    /// Dropping this (at process exit) tells the watchdog to stop the cluster.
    _watchdog: Option<Mutex<(Child, ChildStdin)>>,
}

/// A database created for one test, dropped with it.
pub struct TestDatabase {
    name: String,
    url: String,
    admin_url: String,
    address: SocketAddr,
}

static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();
static COUNTER: AtomicU32 = AtomicU32::new(0);

impl TestDatabase {
    /// Creates an empty database on the shared server.
    pub async fn create() -> TestDatabase {
        let server = match SERVER.get_or_init(|| Server::start().map_err(|e| format!("{e:#}"))) {
            Ok(server) => server,
            Err(reason) => panic!("PostgreSQL tests need a server and none could be had: {reason}"),
        };
        let name = format!("overkill_test_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
        let admin = connect(&server.admin_url).await.expect("connect to the PostgreSQL test server");
        admin.batch_execute(&format!("CREATE DATABASE {name}")).await.expect("create a test database");
        let url = with_database(&server.admin_url, &name);
        TestDatabase { name, url, admin_url: server.admin_url.clone(), address: server.address }
    }

    /// `postgres://…` URL of this database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The same database reached through `proxy` (e.g. a [`crate::chaos::ChaosProxy`]).
    pub fn url_via(&self, proxy: SocketAddr) -> String {
        let config = tokio_postgres::Config::from_str(&self.url).expect("valid URL");
        let user = config.get_user().unwrap_or("postgres");
        format!("postgres://{user}@{}:{}/{}", proxy.ip(), proxy.port(), self.name)
    }

    /// host:port of the server.
    pub fn server_address(&self) -> SocketAddr {
        self.address
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop runs inside the test's runtime, which cannot block on async
        // work; a short-lived thread with its own runtime can.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async {
                let admin = connect(&admin_url).await?;
                admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await?;
                anyhow::Ok(())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("warning: could not drop test database {}", self.name);
        }
    }
}

async fn connect(url: &str) -> anyhow::Result<tokio_postgres::Client> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

fn with_database(url: &str, database: &str) -> String {
    let config = tokio_postgres::Config::from_str(url).expect("valid URL");
    let user = config.get_user().unwrap_or("postgres");
    let password = config.get_password().map(|p| format!(":{}", String::from_utf8_lossy(p))).unwrap_or_default();
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
        _ => "127.0.0.1".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!("postgres://{user}{password}@{host}:{port}/{database}")
}

// === impl Server ===

impl Server {
    fn start() -> anyhow::Result<Self> {
        if let Ok(url) = std::env::var("DATABASE_URL") {
            if url.starts_with("postgres") {
                return Self::external(url);
            }
        }
        Self::throwaway()
    }

    fn external(url: String) -> anyhow::Result<Self> {
        let config = tokio_postgres::Config::from_str(&url).context("DATABASE_URL is not a valid postgres:// URL")?;
        let host = match config.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
            _ => bail!("DATABASE_URL must name a TCP host"),
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let address = std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port))?
            .next()
            .context("DATABASE_URL host does not resolve")?;
        Ok(Self { admin_url: with_database(&url, "postgres"), address, _watchdog: None })
    }

    fn throwaway() -> anyhow::Result<Self> {
        let bin = find_binaries().context("no initdb found on PATH or in /usr/lib/postgresql/*/bin; install PostgreSQL (Debian: apt-get install postgresql) or set DATABASE_URL")?;
        let dir = tempfile::Builder::new().prefix("overkill-pg-").tempdir()?.keep();
        let as_root = is_root();
        if as_root {
            run(Command::new("chown").arg("-R").arg("postgres:postgres").arg(&dir))?;
        }
        let data = dir.join("data");
        let mut initdb = as_user(as_root, &bin.join("initdb"));
        initdb.args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync", "-D"]).arg(&data);
        run(&mut initdb).context("initdb failed")?;

        let port = free_port()?;
        let postgres = as_user(as_root, &bin.join("postgres"));
        let command = format!(
            "{} -D {} -p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400",
            command_line(&postgres),
            data.display(),
            dir.display()
        );
        // The watchdog: runs PostgreSQL in the background and waits on its
        // stdin; when this process exits, stdin closes and it stops the
        // cluster and removes its files. The signal goes to the postmaster
        // by its pid file, since runuser does not pass signals on.
        let script = format!(
            "{command} >{log} 2>&1 & pid=$!; echo started; read _; \
             kill -INT $(head -n 1 {pidfile}) 2>/dev/null; wait $pid; rm -rf {dir}",
            log = dir.join("postgres.log").display(),
            pidfile = data.join("postmaster.pid").display(),
            dir = dir.display()
        );
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let stdin = child.stdin.take().context("watchdog stdin")?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().context("watchdog stdout")?).read_line(&mut line)?;
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let log = dir.join("postgres.log");
        // Tests call this from inside their runtime, which cannot block on
        // another; a plain thread can.
        std::thread::spawn(move || wait_until_accepting(address, &log))
            .join()
            .map_err(|_| anyhow::anyhow!("the readiness check panicked"))??;
        Ok(Self {
            admin_url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            address,
            _watchdog: Some(Mutex::new((child, stdin))),
        })
    }
}

/// Waits for the server to accept connections: explicit readiness via
/// `pg_isready`-like polling of a real login, bounded to 30 s.
fn wait_until_accepting(address: SocketAddr, log: &Path) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let url = format!("postgres://postgres@{}:{}/postgres", address.ip(), address.port());
    runtime.block_on(async {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            if connect(&url).await.is_ok() {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                let tail = std::fs::read_to_string(log).unwrap_or_default();
                bail!("PostgreSQL did not start within 30 s; its log:\n{tail}");
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
}

fn find_binaries() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .find(|dir| dir.join("initdb").is_file() && dir.join("postgres").is_file());
    on_path.or_else(|| {
        let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|entry| entry.ok().map(|e| e.path().join("bin")))
            .filter(|bin| bin.join("initdb").is_file())
            .collect();
        versions.sort();
        versions.pop()
    })
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|out| out.stdout.trim_ascii() == b"0").unwrap_or(false)
}

fn as_user(as_root: bool, program: &Path) -> Command {
    if as_root {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn command_line(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|part| part.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

fn run(command: &mut Command) -> anyhow::Result<()> {
    let output = command.output().with_context(|| format!("failed to run {}", command_line(command)))?;
    if !output.status.success() {
        bail!("{} failed: {}", command_line(command), String::from_utf8_lossy(&output.stderr));
    }
    Ok(())
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
