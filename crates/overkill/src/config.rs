//! Typed configuration, layered: defaults < TOML file < environment < flags.
//!
//! Every setting is declared once in [`SETTINGS`] (see [`spec`] for how the
//! sources derive from it). Every source is read as text and parsed by the
//! setting's one parser, so a bad value gets the same one-line error
//! wherever it came from, naming the setting and its source. Loading never
//! binds a port.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use chassis::HttpSettings;
use chassis::telemetry::LogFormat;
use secrecy::{ExposeSecret, SecretString};

use crate::cli::SettingFlags;
use crate::fx::FxSettings;

mod file;
mod settings;
pub mod spec;

use file::SettingsFile;
pub use settings::SETTINGS;
use spec::Sources;

/// The environment variable naming the settings file (flag `--config`).
pub const CONFIG_ENV: &str = "OVERKILL_CONFIG";

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
    /// PostgreSQL connections shared by single statements (pipelined).
    pub db_shared_connections: usize,
    /// HTTP limits and timeouts.
    pub http: HttpSettings,
    /// Log line format.
    pub log_format: LogFormat,
    /// Log filter directive, already checked by the log subscriber's parser.
    pub log_level: String,
    /// Apply pending migrations when `serve` starts.
    pub migrate_on_start: bool,
    /// How long an idempotency key's answer is kept.
    pub idempotency_ttl: Duration,
    /// The exchange-rate provider and how it is called (`[fx]`).
    pub fx: FxSettings,
    /// TLS and HTTP/3 (`[tls]`).
    pub tls: TlsConfig,
    /// Reverse-proxy routes (`[[proxy.routes]]`, file only).
    pub proxy_routes: Vec<chassis::proxy::RouteSpec>,
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

/// The `[tls]` settings as given; [`TlsConfig::settings`] says whether TLS is on.
#[derive(Debug, Clone, Default)]
pub struct TlsConfig {
    /// PEM certificate chain.
    pub cert: Option<PathBuf>,
    /// PEM private key.
    pub key: Option<PathBuf>,
    /// TLS on its own address; `None`: on `listen`, instead of cleartext.
    pub listen: Option<SocketAddr>,
    /// From accept to a finished handshake.
    pub handshake_timeout: Duration,
    /// How often the files are checked for change; `None`: SIGHUP only.
    pub reload_interval: Option<Duration>,
    /// Serve and advertise HTTP/3.
    pub http3: bool,
    /// `ma` of `Alt-Svc`.
    pub alt_svc_max_age: Duration,
}

/// A setting with a bad value: names the setting and where the value came from.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {setting} (from {origin}): {reason}")]
pub struct ConfigError {
    setting: String,
    origin: String,
    reason: String,
}

// === impl Config ===

impl Default for Config {
    /// Every setting at its declared default.
    fn default() -> Self {
        // Placeholders only: every field below is overwritten by the
        // declared default of its setting.
        let mut config = Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 0)),
            admin_listen: SocketAddr::from(([0, 0, 0, 0], 0)),
            database: DatabaseUrl::Sqlite(PathBuf::new()),
            db_pool_size: 0,
            db_shared_connections: 0,
            http: HttpSettings::default(),
            log_format: LogFormat::Json,
            log_level: String::new(),
            migrate_on_start: false,
            idempotency_ttl: Duration::ZERO,
            fx: FxSettings::default(),
            tls: TlsConfig::default(),
            proxy_routes: Vec::new(),
            ballast_mb: 0,
        };
        spec::apply_defaults(SETTINGS, &mut config);
        config
    }
}

impl Config {
    /// Loads the configuration from `flags`, the environment as seen through
    /// `env`, and the TOML file named by `--config` or `OVERKILL_CONFIG`.
    pub fn load(flags: &SettingFlags, env: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let file_path = flags.config.clone().or_else(|| env(CONFIG_ENV).map(PathBuf::from));
        let file = file_path.map(|path| SettingsFile::read(&path, SETTINGS)).transpose()?;
        let mut config = Self::default();
        spec::resolve(SETTINGS, &mut config, &Sources { flags: flags.values(), env: &env, file: file.as_ref() })?;
        config.tls.check()?;
        Ok(config)
    }
}

// === impl ConfigError ===

impl ConfigError {
    fn new(setting: impl Into<String>, origin: impl Into<String>, reason: impl Into<String>) -> Self {
        Self { setting: setting.into(), origin: origin.into(), reason: reason.into() }
    }
}

// === impl TlsConfig ===

impl TlsConfig {
    /// The TLS settings, when a certificate and key are given.
    pub fn settings(&self) -> Option<chassis::tls::TlsSettings> {
        let (cert, key) = (self.cert.clone()?, self.key.clone()?);
        Some(chassis::tls::TlsSettings {
            cert,
            key,
            handshake_timeout: self.handshake_timeout,
            reload_interval: self.reload_interval,
            http3: self.http3,
            alt_svc_max_age: self.alt_svc_max_age,
        })
    }

    /// Settings that only make sense together.
    fn check(&self) -> Result<(), ConfigError> {
        let origin = "the settings together";
        match (&self.cert, &self.key) {
            (Some(_), None) => Err(ConfigError::new("tls.key", origin, "required when tls.cert is set")),
            (None, Some(_)) => Err(ConfigError::new("tls.cert", origin, "required when tls.key is set")),
            (None, None) if self.listen.is_some() => {
                Err(ConfigError::new("tls.listen", origin, "needs tls.cert and tls.key"))
            }
            _ => Ok(()),
        }
    }
}

// === impl DatabaseUrl ===

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
