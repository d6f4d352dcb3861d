//! The command line: `overkill [serve|migrate]` and the setting flags.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// overkill: products, orders, FX prices and proxy routes over HTTP.
///
/// Settings come from defaults < the TOML file < OVERKILL_* environment
/// variables (and DATABASE_URL) < these flags. See the README for the table.
#[derive(Debug, Parser)]
#[command(name = "overkill", version, about)]
pub struct Cli {
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Settings given as flags.
    #[command(flatten)]
    pub settings: SettingFlags,
}

/// Subcommands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Serve the API and the admin endpoints (the default).
    Serve,
    /// Apply database migrations, then exit.
    Migrate,
}

/// One flag per setting; each overrides the file and the environment.
/// Values stay text here and are parsed with the other sources, so every
/// source gets the same validation and the same error messages.
#[derive(Debug, Default, Args)]
pub struct SettingFlags {
    /// TOML settings file [env: OVERKILL_CONFIG]
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// API listen address [env: OVERKILL_LISTEN] [default: 0.0.0.0:8080]
    #[arg(long, global = true, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Admin (probes, metrics) listen address [env: OVERKILL_ADMIN_LISTEN] [default: 0.0.0.0:9090]
    #[arg(long, global = true, value_name = "ADDR")]
    pub admin_listen: Option<String>,
    /// postgres://… or sqlite://PATH [env: DATABASE_URL] [default: sqlite://overkill.db]
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// Database connections at most [env: OVERKILL_DB_POOL_SIZE] [default: 16]
    #[arg(long, global = true, value_name = "N")]
    pub db_pool_size: Option<String>,
    /// Handler time limit [env: OVERKILL_REQUEST_TIMEOUT_MS] [default: 30000]
    #[arg(long, global = true, value_name = "MS")]
    pub request_timeout_ms: Option<String>,
    /// Time to send request headers [env: OVERKILL_HEADER_READ_TIMEOUT_MS] [default: 10000]
    #[arg(long, global = true, value_name = "MS")]
    pub header_read_timeout_ms: Option<String>,
    /// Largest request body [env: OVERKILL_MAX_BODY_BYTES] [default: 1048576]
    #[arg(long, global = true, value_name = "BYTES")]
    pub max_body_bytes: Option<String>,
    /// Open connections at most [env: OVERKILL_MAX_CONNECTIONS] [default: 1024]
    #[arg(long, global = true, value_name = "N")]
    pub max_connections: Option<String>,
    /// Requests in flight at most [env: OVERKILL_MAX_CONCURRENT_REQUESTS] [default: 512]
    #[arg(long, global = true, value_name = "N")]
    pub max_concurrent_requests: Option<String>,
    /// Drain time on shutdown [env: OVERKILL_SHUTDOWN_TIMEOUT_MS] [default: 10000]
    #[arg(long, global = true, value_name = "MS")]
    pub shutdown_timeout_ms: Option<String>,
    /// json or pretty [env: OVERKILL_LOG_FORMAT] [default: pretty on a TTY, json otherwise]
    #[arg(long, global = true, value_name = "FORMAT")]
    pub log_format: Option<String>,
    /// Log filter, e.g. info or overkill=debug [env: OVERKILL_LOG_LEVEL] [default: info]
    #[arg(long, global = true, value_name = "FILTER")]
    pub log_level: Option<String>,
    /// Apply migrations when serving starts [env: OVERKILL_MIGRATE_ON_START] [default: true]
    #[arg(long, global = true, value_name = "BOOL")]
    pub migrate_on_start: Option<String>,
    /// Benchmark only: hold this many MiB of live heap [env: OVERKILL_BALLAST_MB] [default: 0]
    #[arg(long, global = true, value_name = "MIB")]
    pub ballast_mb: Option<String>,
}
