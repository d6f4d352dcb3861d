//! Typed configuration, layered: defaults < TOML file < environment < flags.
//!
//! Every source is read as text and parsed by the same function, so a bad
//! value gets the same one-line error wherever it came from, naming the
//! setting and its source. Loading never binds a port.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use chassis::HttpSettings;
use chassis::telemetry::LogFormat;
use secrecy::{ExposeSecret, SecretString};

use crate::cli::SettingFlags;

/// The whole configuration of a running service.
#[derive(Debug, Clone)]
pub struct Config {
    /// API listener.
    pub listen: SocketAddr,
    /// Admin listener: probes and metrics.
    pub admin_listen: SocketAddr,
    /// Where the data lives.
    pub database: DatabaseUrl,
    /// Database connections at most (PostgreSQL pool size; SQLite readers).
    pub db_pool_size: usize,
    /// HTTP limits and timeouts.
    pub http: HttpSettings,
    /// Log line format.
    pub log_format: LogFormat,
    /// Log filter directive.
    pub log_level: String,
    /// Apply pending migrations when `serve` starts.
    pub migrate_on_start: bool,
    /// Benchmark only: MiB of live heap to hold (see `crate::ballast`).
    pub ballast_mb: usize,
}

/// The database to use, from `DATABASE_URL`.
#[derive(Debug, Clone)]
pub enum DatabaseUrl {
    /// `postgres://…` or `postgresql://…`; secret because it may hold a password.
    Postgres(SecretString),
    /// `sqlite://PATH`: an embedded database file, created when missing.
    Sqlite(PathBuf),
}

/// A setting with a bad value: names the setting and where the value came from.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {setting} (from {origin}): {reason}")]
pub struct ConfigError {
    setting: String,
    origin: String,
    reason: String,
}

/// Names of one setting in each source.
struct Setting {
    key: &'static str,
    env: &'static str,
}

const LISTEN: Setting = Setting { key: "listen", env: "OVERKILL_LISTEN" };
const ADMIN_LISTEN: Setting = Setting { key: "admin_listen", env: "OVERKILL_ADMIN_LISTEN" };
const DATABASE_URL: Setting = Setting { key: "database_url", env: "DATABASE_URL" };
const DB_POOL_SIZE: Setting = Setting { key: "db_pool_size", env: "OVERKILL_DB_POOL_SIZE" };
const REQUEST_TIMEOUT: Setting = Setting { key: "request_timeout_ms", env: "OVERKILL_REQUEST_TIMEOUT_MS" };
const HEADER_READ_TIMEOUT: Setting = Setting { key: "header_read_timeout_ms", env: "OVERKILL_HEADER_READ_TIMEOUT_MS" };
const MAX_BODY: Setting = Setting { key: "max_body_bytes", env: "OVERKILL_MAX_BODY_BYTES" };
const MAX_CONNECTIONS: Setting = Setting { key: "max_connections", env: "OVERKILL_MAX_CONNECTIONS" };
const MAX_CONCURRENT: Setting = Setting { key: "max_concurrent_requests", env: "OVERKILL_MAX_CONCURRENT_REQUESTS" };
const SHUTDOWN_TIMEOUT: Setting = Setting { key: "shutdown_timeout_ms", env: "OVERKILL_SHUTDOWN_TIMEOUT_MS" };
const LOG_FORMAT: Setting = Setting { key: "log_format", env: "OVERKILL_LOG_FORMAT" };
const LOG_LEVEL: Setting = Setting { key: "log_level", env: "OVERKILL_LOG_LEVEL" };
const MIGRATE_ON_START: Setting = Setting { key: "migrate_on_start", env: "OVERKILL_MIGRATE_ON_START" };
const BALLAST_MB: Setting = Setting { key: "ballast_mb", env: "OVERKILL_BALLAST_MB" };

const KNOWN_KEYS: &[&str] = &[
    LISTEN.key,
    ADMIN_LISTEN.key,
    DATABASE_URL.key,
    DB_POOL_SIZE.key,
    REQUEST_TIMEOUT.key,
    HEADER_READ_TIMEOUT.key,
    MAX_BODY.key,
    MAX_CONNECTIONS.key,
    MAX_CONCURRENT.key,
    SHUTDOWN_TIMEOUT.key,
    LOG_FORMAT.key,
    LOG_LEVEL.key,
    MIGRATE_ON_START.key,
    BALLAST_MB.key,
];

/// Longest duration setting accepted: one day.
const MAX_DURATION_MS: u64 = 86_400_000;

// === impl Config ===

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 8080)),
            admin_listen: SocketAddr::from(([0, 0, 0, 0], 9090)),
            database: DatabaseUrl::Sqlite(PathBuf::from("overkill.db")),
            db_pool_size: 16,
            http: HttpSettings::default(),
            log_format: default_log_format(),
            log_level: "info".to_owned(),
            migrate_on_start: true,
            ballast_mb: 0,
        }
    }
}

impl Config {
    /// Loads the configuration from `flags`, the environment as seen through
    /// `env`, and the TOML file named by `--config` or `OVERKILL_CONFIG`.
    pub fn load(flags: &SettingFlags, env: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let file_path = flags.config.clone().or_else(|| env("OVERKILL_CONFIG").map(PathBuf::from));
        let file = match &file_path {
            Some(path) => read_file(path)?,
            None => toml::Table::new(),
        };
        let layers = Layers { env: &env, file, file_path };
        let d = Self::default();
        let http = HttpSettings {
            max_body_bytes: layers
                .get(&MAX_BODY, &flags.max_body_bytes, |v| bounded(v, 1, 1 << 30))?
                .unwrap_or(d.http.max_body_bytes),
            request_timeout: layers
                .get(&REQUEST_TIMEOUT, &flags.request_timeout_ms, millis)?
                .unwrap_or(d.http.request_timeout),
            header_read_timeout: layers
                .get(&HEADER_READ_TIMEOUT, &flags.header_read_timeout_ms, millis)?
                .unwrap_or(d.http.header_read_timeout),
            max_connections: layers
                .get(&MAX_CONNECTIONS, &flags.max_connections, |v| bounded(v, 1, 1_000_000))?
                .unwrap_or(d.http.max_connections),
            max_concurrent_requests: layers
                .get(&MAX_CONCURRENT, &flags.max_concurrent_requests, |v| bounded(v, 1, 1_000_000))?
                .unwrap_or(d.http.max_concurrent_requests),
            shutdown_timeout: layers
                .get(&SHUTDOWN_TIMEOUT, &flags.shutdown_timeout_ms, millis)?
                .unwrap_or(d.http.shutdown_timeout),
            ..d.http
        };
        Ok(Self {
            listen: layers.get(&LISTEN, &flags.listen, address)?.unwrap_or(d.listen),
            admin_listen: layers.get(&ADMIN_LISTEN, &flags.admin_listen, address)?.unwrap_or(d.admin_listen),
            database: layers.get(&DATABASE_URL, &flags.database_url, database_url)?.unwrap_or(d.database),
            db_pool_size: layers
                .get(&DB_POOL_SIZE, &flags.db_pool_size, |v| bounded(v, 1, 1024))?
                .unwrap_or(d.db_pool_size),
            http,
            log_format: layers.get(&LOG_FORMAT, &flags.log_format, log_format)?.unwrap_or(d.log_format),
            log_level: layers.get(&LOG_LEVEL, &flags.log_level, log_filter)?.unwrap_or(d.log_level),
            migrate_on_start: layers
                .get(&MIGRATE_ON_START, &flags.migrate_on_start, boolean)?
                .unwrap_or(d.migrate_on_start),
            ballast_mb: layers
                .get(&BALLAST_MB, &flags.ballast_mb, |v| bounded(v, 0, 64 * 1024))?
                .unwrap_or(d.ballast_mb),
        })
    }
}

/// JSON when stderr is not a terminal (containers, CI), pretty otherwise.
fn default_log_format() -> LogFormat {
    use std::io::IsTerminal;
    if std::io::stderr().is_terminal() { LogFormat::Pretty } else { LogFormat::Json }
}

struct Layers<'a> {
    env: &'a dyn Fn(&str) -> Option<String>,
    file: toml::Table,
    file_path: Option<PathBuf>,
}

impl Layers<'_> {
    /// The highest-precedence value of `setting`, parsed; `None` when no
    /// source sets it.
    fn get<T>(
        &self,
        setting: &Setting,
        flag: &Option<String>,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Option<T>, ConfigError> {
        let (value, origin) = if let Some(value) = flag {
            (value.clone(), format!("--{}", setting.key.replace('_', "-")))
        } else if let Some(value) = (self.env)(setting.env) {
            (value, format!("environment variable {}", setting.env))
        } else if let Some(value) = self.file.get(setting.key) {
            let text = match value {
                toml::Value::String(text) => text.clone(),
                toml::Value::Integer(number) => number.to_string(),
                toml::Value::Boolean(flag) => flag.to_string(),
                // Tables, arrays, floats and dates fit no setting; let the
                // parser reject a value that cannot be valid.
                _ => String::from("(not a string, integer or boolean)"),
            };
            let path = self.file_path.as_deref().unwrap_or(Path::new("?")).display();
            (text, format!("{path}"))
        } else {
            return Ok(None);
        };
        parse(value.trim()).map(Some).map_err(|reason| ConfigError { setting: setting.key.to_owned(), origin, reason })
    }
}

fn read_file(path: &Path) -> Result<toml::Table, ConfigError> {
    let error =
        |reason: String| ConfigError { setting: "config".to_owned(), origin: path.display().to_string(), reason };
    let text = std::fs::read_to_string(path).map_err(|e| error(format!("cannot read the file: {e}")))?;
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| error(e.message().to_owned()))?;
    if let Some(unknown) = table.keys().find(|key| !KNOWN_KEYS.contains(&key.as_str())) {
        return Err(error(format!("unknown setting `{unknown}`")));
    }
    Ok(table)
}

fn address(value: &str) -> Result<SocketAddr, String> {
    SocketAddr::from_str(value).map_err(|_| format!("`{value}` is not an IP:port address such as 0.0.0.0:8080"))
}

fn bounded(value: &str, min: usize, max: usize) -> Result<usize, String> {
    match value.parse::<usize>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("`{value}` is not an integer in {min}..={max}")),
    }
}

fn millis(value: &str) -> Result<Duration, String> {
    match value.parse::<u64>() {
        Ok(ms) if (1..=MAX_DURATION_MS).contains(&ms) => Ok(Duration::from_millis(ms)),
        _ => Err(format!("`{value}` is not a number of milliseconds in 1..={MAX_DURATION_MS}")),
    }
}

fn boolean(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(format!("`{value}` is not true or false")),
    }
}

fn log_format(value: &str) -> Result<LogFormat, String> {
    match value {
        "json" => Ok(LogFormat::Json),
        "pretty" => Ok(LogFormat::Pretty),
        _ => Err(format!("`{value}` is not json or pretty")),
    }
}

fn log_filter(value: &str) -> Result<String, String> {
    tracing_subscriber_filter_is_valid(value)
        .then(|| value.to_owned())
        .ok_or_else(|| format!("`{value}` is not a log filter such as info or overkill=debug,warn"))
}

/// Accepts the `EnvFilter` directive syntax we document: comma-separated
/// `level` or `target=level` items.
fn tracing_subscriber_filter_is_valid(value: &str) -> bool {
    const LEVELS: &[&str] = &["trace", "debug", "info", "warn", "error", "off"];
    !value.is_empty()
        && value.split(',').all(|item| {
            let level = item.rsplit('=').next().unwrap_or_default();
            let target_ok = item.split('=').count() <= 2;
            target_ok && LEVELS.contains(&level.to_ascii_lowercase().as_str())
        })
}

/// The database URL. PostgreSQL URLs are checked by the driver's own parser
/// and never echoed, since they may carry a password.
fn database_url(value: &str) -> Result<DatabaseUrl, String> {
    if value.starts_with("postgres://") || value.starts_with("postgresql://") {
        tokio_postgres::Config::from_str(value)
            .map(|_| DatabaseUrl::Postgres(SecretString::from(value.to_owned())))
            .map_err(|_| "not a valid postgres:// URL (value not shown: it may hold a password)".to_owned())
    } else if let Some(path) = value.strip_prefix("sqlite://") {
        if path.is_empty() {
            return Err("sqlite:// needs a file path, e.g. sqlite://overkill.db".to_owned());
        }
        Ok(DatabaseUrl::Sqlite(PathBuf::from(path)))
    } else {
        Err("expected postgres://… or sqlite://PATH".to_owned())
    }
}

impl DatabaseUrl {
    /// The PostgreSQL connection string, for the driver only.
    pub fn postgres_url(&self) -> Option<&str> {
        match self {
            Self::Postgres(url) => Some(url.expose_secret()),
            Self::Sqlite(_) => None,
        }
    }
}

#[cfg(test)]
mod tests;
