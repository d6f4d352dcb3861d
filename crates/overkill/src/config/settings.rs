//! Every setting of the service, declared once: the flags, the environment
//! lookup, the file keys, the defaults, `--help` and the README's table
//! all come from [`SETTINGS`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use chassis::telemetry::LogFormat;
use secrecy::SecretString;

use super::spec::{Kind, SettingSpec};
use super::{Config, DatabaseUrl};

/// Longest duration setting accepted: one day.
const MAX_DURATION_MS: u64 = 86_400_000;

/// The settings, in the order `--help` and the README list them.
pub static SETTINGS: &[SettingSpec<Config>] = &[
    SettingSpec {
        key: "listen",
        env: Some("OVERKILL_LISTEN"),
        flag: Some("listen"),
        value_name: "ADDR",
        default: Some("0.0.0.0:8080"),
        doc: "API address, IP:port; the default binds every interface (127.0.0.1:8080: this host only); \
              port 0 picks a free port (logged)",
        kind: Kind::Value(|c, v| set(&mut c.listen, address(v))),
    },
    SettingSpec {
        key: "admin_listen",
        env: Some("OVERKILL_ADMIN_LISTEN"),
        flag: Some("admin-listen"),
        value_name: "ADDR",
        default: Some("0.0.0.0:9090"),
        doc: "probes and metrics address, IP:port; the default binds every interface",
        kind: Kind::Value(|c, v| set(&mut c.admin_listen, address(v))),
    },
    SettingSpec {
        key: "database_url",
        env: Some("DATABASE_URL"),
        flag: Some("database-url"),
        value_name: "URL",
        default: Some("sqlite://overkill.db"),
        doc: "`postgres://…` for PostgreSQL, `sqlite://PATH` for embedded SQLite (the file is created when missing)",
        kind: Kind::Value(|c, v| set(&mut c.database, database_url(v))),
    },
    SettingSpec {
        key: "db_pool_size",
        env: Some("OVERKILL_DB_POOL_SIZE"),
        flag: Some("db-pool-size"),
        value_name: "N",
        default: Some("16"),
        doc: "PostgreSQL connections at most (SQLite: read connections), 1..=1024",
        kind: Kind::Value(|c, v| set(&mut c.db_pool_size, bounded(v, 1, 1024))),
    },
    SettingSpec {
        key: "db_shared_connections",
        env: Some("OVERKILL_DB_SHARED_CONNECTIONS"),
        flag: Some("db-shared-connections"),
        value_name: "N",
        default: Some("2"),
        doc: "PostgreSQL: of the pool, connections shared by the statements that need no transaction \
              (pipelined), 0..=64, at most db_pool_size − 1; 0 gives each statement a connection of its own",
        kind: Kind::Value(|c, v| set(&mut c.db_shared_connections, bounded(v, 0, 64))),
    },
    SettingSpec {
        key: "request_timeout_ms",
        env: Some("OVERKILL_REQUEST_TIMEOUT_MS"),
        flag: Some("request-timeout-ms"),
        value_name: "MS",
        default: Some("30000"),
        doc: "time a handler may take; past it, 503 `timeout`",
        kind: Kind::Value(|c, v| set(&mut c.http.request_timeout, millis(v, 1))),
    },
    SettingSpec {
        key: "header_read_timeout_ms",
        env: Some("OVERKILL_HEADER_READ_TIMEOUT_MS"),
        flag: Some("header-read-timeout-ms"),
        value_name: "MS",
        default: Some("10000"),
        doc: "time a new connection has to send a complete request head, whatever the protocol \
              (slowloris guard); then it is closed",
        kind: Kind::Value(|c, v| set(&mut c.http.header_read_timeout, millis(v, 1))),
    },
    SettingSpec {
        key: "body_read_timeout_ms",
        env: Some("OVERKILL_BODY_READ_TIMEOUT_MS"),
        flag: Some("body-read-timeout-ms"),
        value_name: "MS",
        default: Some("10000"),
        doc: "time to send the whole request body once the head is in; past it, 408",
        kind: Kind::Value(|c, v| set(&mut c.http.body_read_timeout, millis(v, 1))),
    },
    SettingSpec {
        key: "idle_timeout_ms",
        env: Some("OVERKILL_IDLE_TIMEOUT_MS"),
        flag: Some("idle-timeout-ms"),
        value_name: "MS",
        default: Some("60000"),
        doc: "time a connection may stay open with no request in flight, or a response wait for the client to read; then it is closed (HTTP/1.1 keep-alive also closes at header_read_timeout_ms if shorter)",
        kind: Kind::Value(|c, v| set(&mut c.http.idle_timeout, millis(v, 1))),
    },
    SettingSpec {
        key: "max_body_bytes",
        env: Some("OVERKILL_MAX_BODY_BYTES"),
        flag: Some("max-body-bytes"),
        value_name: "BYTES",
        default: Some("1048576"),
        doc: "largest request body, 1..=1073741824; past it, 413",
        kind: Kind::Value(|c, v| set(&mut c.http.max_body_bytes, bounded(v, 1, 1 << 30))),
    },
    SettingSpec {
        key: "max_connections",
        env: Some("OVERKILL_MAX_CONNECTIONS"),
        flag: Some("max-connections"),
        value_name: "N",
        default: Some("1024"),
        doc: "open connections at most, 1..=1000000; more wait in the listen backlog",
        kind: Kind::Value(|c, v| set(&mut c.http.max_connections, bounded(v, 1, 1_000_000))),
    },
    SettingSpec {
        key: "max_concurrent_requests",
        env: Some("OVERKILL_MAX_CONCURRENT_REQUESTS"),
        flag: Some("max-concurrent-requests"),
        value_name: "N",
        default: Some("512"),
        doc: "requests in flight at most, 1..=1000000; more get 503 `unavailable` at once",
        kind: Kind::Value(|c, v| set(&mut c.http.max_concurrent_requests, bounded(v, 1, 1_000_000))),
    },
    SettingSpec {
        key: "max_streams_per_connection",
        env: Some("OVERKILL_MAX_STREAMS_PER_CONNECTION"),
        flag: Some("max-streams-per-connection"),
        value_name: "N",
        default: Some("100"),
        doc: "request streams one HTTP/2 or HTTP/3 connection may have open at once, 1..=10000 \
              (never above `max_concurrent_requests`)",
        kind: Kind::Value(|c, v| set(&mut c.http.max_streams_per_connection, bounded(v, 1, 10_000))),
    },
    SettingSpec {
        key: "drain_grace_ms",
        env: Some("OVERKILL_DRAIN_GRACE_MS"),
        flag: Some("drain-grace-ms"),
        value_name: "MS",
        default: Some("5000"),
        doc: "on SIGTERM/SIGINT: time to keep serving while `/readyz` says draining, before accepting stops; \
              0 for none",
        kind: Kind::Value(|c, v| set(&mut c.http.drain_grace, millis(v, 0))),
    },
    SettingSpec {
        key: "shutdown_timeout_ms",
        env: Some("OVERKILL_SHUTDOWN_TIMEOUT_MS"),
        flag: Some("shutdown-timeout-ms"),
        value_name: "MS",
        default: Some("10000"),
        doc: "after the grace: time in-flight requests have to finish before the remaining connections are closed",
        kind: Kind::Value(|c, v| set(&mut c.http.shutdown_timeout, millis(v, 1))),
    },
    SettingSpec {
        key: "tls.cert",
        env: Some("OVERKILL_TLS_CERT"),
        flag: Some("tls-cert"),
        value_name: "PATH",
        default: None,
        doc: "PEM certificate chain, leaf first; with `tls.key`, the API is served over TLS (HTTP/1.1 and HTTP/2) \
              and HTTP/3; reloaded on SIGHUP and when the file changes",
        kind: Kind::Value(|c, v| set(&mut c.tls.cert, Ok(path(v)))),
    },
    SettingSpec {
        key: "tls.key",
        env: Some("OVERKILL_TLS_KEY"),
        flag: Some("tls-key"),
        value_name: "PATH",
        default: None,
        doc: "PEM private key of the certificate (PKCS#8, PKCS#1 RSA or SEC1 EC)",
        kind: Kind::Value(|c, v| set(&mut c.tls.key, Ok(path(v)))),
    },
    SettingSpec {
        key: "tls.listen",
        env: Some("OVERKILL_TLS_LISTEN"),
        flag: Some("tls-listen"),
        value_name: "ADDR",
        default: None,
        doc: "serve TLS (TCP) and HTTP/3 (UDP) on this IP:port and keep cleartext on `listen`; \
              unset: TLS replaces cleartext on `listen`",
        kind: Kind::Value(|c, v| set(&mut c.tls.listen, address(v).map(Some))),
    },
    SettingSpec {
        key: "tls.handshake_timeout_ms",
        env: Some("OVERKILL_TLS_HANDSHAKE_TIMEOUT_MS"),
        flag: Some("tls-handshake-timeout-ms"),
        value_name: "MS",
        default: Some("5000"),
        doc: "time from accept to a finished TLS or QUIC handshake, 1..=60000; past it the connection is dropped",
        kind: Kind::Value(|c, v| set(&mut c.tls.handshake_timeout, millis_up_to(v, 1, 60_000))),
    },
    SettingSpec {
        key: "tls.reload_interval_ms",
        env: Some("OVERKILL_TLS_RELOAD_INTERVAL_MS"),
        flag: Some("tls-reload-interval-ms"),
        value_name: "MS",
        default: Some("10000"),
        doc: "how often the certificate and key files are checked for change, 100..=86400000; 0: on SIGHUP only",
        kind: Kind::Value(|c, v| {
            set(
                &mut c.tls.reload_interval,
                match v {
                    "0" => Ok(None),
                    _ => millis(v, 100).map(Some),
                },
            )
        }),
    },
    SettingSpec {
        key: "tls.http3",
        env: Some("OVERKILL_TLS_HTTP3"),
        flag: Some("tls-http3"),
        value_name: "BOOL",
        default: Some("true"),
        doc: "with TLS: serve HTTP/3 on UDP at the TLS port and advertise it with `Alt-Svc`",
        kind: Kind::Value(|c, v| set(&mut c.tls.http3, boolean(v))),
    },
    SettingSpec {
        key: "tls.alt_svc_max_age_s",
        env: Some("OVERKILL_TLS_ALT_SVC_MAX_AGE_S"),
        flag: Some("tls-alt-svc-max-age-s"),
        value_name: "S",
        default: Some("86400"),
        doc: "how long clients may remember the HTTP/3 advertisement (`ma` of `Alt-Svc`), 1..=31536000",
        kind: Kind::Value(|c, v| set(&mut c.tls.alt_svc_max_age, secs(v, 1, 31_536_000))),
    },
    SettingSpec {
        key: "idempotency_ttl_secs",
        env: Some("OVERKILL_IDEMPOTENCY_TTL_SECS"),
        flag: Some("idempotency-ttl-secs"),
        value_name: "S",
        default: Some("86400"),
        doc: "how long an `Idempotency-Key`'s answer is kept for replay, 60..=2592000 (30 days); \
              expired keys are swept in batches of 1000 a minute",
        kind: Kind::Value(|c, v| {
            set(&mut c.idempotency_ttl, bounded(v, 60, 2_592_000).map(|s| Duration::from_secs(s as u64)))
        }),
    },
    SettingSpec {
        key: "fx.url",
        env: Some("OVERKILL_FX_URL"),
        flag: Some("fx-url"),
        value_name: "URL",
        default: Some("https://api.frankfurter.dev"),
        doc: "the Frankfurter v2 exchange-rate provider, `http://` or `https://` base URL; `off` (or empty) turns conversion off: `currency=` then gets 422 `fx-disabled`",
        kind: Kind::Value(|c, v| set(&mut c.fx.url, fx_url(v))),
    },
    SettingSpec {
        key: "fx.connect_timeout_ms",
        env: Some("OVERKILL_FX_CONNECT_TIMEOUT_MS"),
        flag: Some("fx-connect-timeout-ms"),
        value_name: "MS",
        default: Some("1000"),
        doc: "time to connect to the provider (TCP and TLS), 1..=60000",
        kind: Kind::Value(|c, v| set(&mut c.fx.connect_timeout, millis_up_to(v, 1, 60_000))),
    },
    SettingSpec {
        key: "fx.attempt_timeout_ms",
        env: Some("OVERKILL_FX_ATTEMPT_TIMEOUT_MS"),
        flag: Some("fx-attempt-timeout-ms"),
        value_name: "MS",
        default: Some("2000"),
        doc: "time one provider call may take, to the end of its answer, 1..=60000",
        kind: Kind::Value(|c, v| set(&mut c.fx.attempt_timeout, millis_up_to(v, 1, 60_000))),
    },
    SettingSpec {
        key: "fx.deadline_ms",
        env: Some("OVERKILL_FX_DEADLINE_MS"),
        flag: Some("fx-deadline-ms"),
        value_name: "MS",
        default: Some("3000"),
        doc: "time one rate lookup may take, retries and waits included, 1..=60000; never past the request's own timeout: then 503 `fx-unavailable`",
        kind: Kind::Value(|c, v| set(&mut c.fx.deadline, millis_up_to(v, 1, 60_000))),
    },
    SettingSpec {
        key: "fx.quota_per_second",
        env: Some("OVERKILL_FX_QUOTA_PER_SECOND"),
        flag: Some("fx-quota-per-second"),
        value_name: "RATE",
        default: Some("5"),
        doc: "provider calls a second at most (a decimal, 0.001..=100000), for the whole process: a caller waits for a token only if it comes before its deadline, else is refused at once (stale or 503)",
        kind: Kind::Value(|c, v| set(&mut c.fx.quota_per_second, decimal(v, 0.001, 100_000.0))),
    },
    SettingSpec {
        key: "fx.quota_burst",
        env: Some("OVERKILL_FX_QUOTA_BURST"),
        flag: Some("fx-quota-burst"),
        value_name: "N",
        default: Some("10"),
        doc: "provider calls at once above the rate (token bucket size), 1..=100000",
        kind: Kind::Value(|c, v| set(&mut c.fx.quota_burst, bounded(v, 1, 100_000).map(|n| n as u32))),
    },
    SettingSpec {
        key: "fx.max_in_flight",
        env: Some("OVERKILL_FX_MAX_IN_FLIGHT"),
        flag: Some("fx-max-in-flight"),
        value_name: "N",
        default: Some("16"),
        doc: "provider calls in flight at most (bulkhead), 1..=1024",
        kind: Kind::Value(|c, v| set(&mut c.fx.max_in_flight, bounded(v, 1, 1024))),
    },
    SettingSpec {
        key: "fx.max_attempts",
        env: Some("OVERKILL_FX_MAX_ATTEMPTS"),
        flag: Some("fx-max-attempts"),
        value_name: "N",
        default: Some("3"),
        doc: "attempts per lookup, 1..=10; retried only after a connect error, a timeout, 429, 502, 503 or 504, with jittered backoff or the provider's `Retry-After`",
        kind: Kind::Value(|c, v| set(&mut c.fx.max_attempts, bounded(v, 1, 10).map(|n| n as u32))),
    },
    SettingSpec {
        key: "fx.retry_budget_ratio",
        env: Some("OVERKILL_FX_RETRY_BUDGET_RATIO"),
        flag: Some("fx-retry-budget-ratio"),
        value_name: "RATIO",
        default: Some("0.2"),
        doc: "retries at most this share of calls over the last 10 s (at least 3), 0..=1: an outage never multiplies traffic",
        kind: Kind::Value(|c, v| set(&mut c.fx.retry_budget_ratio, decimal(v, 0.0, 1.0))),
    },
    SettingSpec {
        key: "fx.breaker_failure_rate",
        env: Some("OVERKILL_FX_BREAKER_FAILURE_RATE"),
        flag: Some("fx-breaker-failure-rate"),
        value_name: "RATIO",
        default: Some("0.5"),
        doc: "the circuit breaker opens when this share of calls in its window failed, 0.01..=1 …",
        kind: Kind::Value(|c, v| set(&mut c.fx.breaker_failure_rate, decimal(v, 0.01, 1.0))),
    },
    SettingSpec {
        key: "fx.breaker_min_calls",
        env: Some("OVERKILL_FX_BREAKER_MIN_CALLS"),
        flag: Some("fx-breaker-min-calls"),
        value_name: "N",
        default: Some("10"),
        doc: "… and the window holds at least this many calls, 1..=100000",
        kind: Kind::Value(|c, v| set(&mut c.fx.breaker_min_calls, bounded(v, 1, 100_000).map(|n| n as u32))),
    },
    SettingSpec {
        key: "fx.breaker_window_secs",
        env: Some("OVERKILL_FX_BREAKER_WINDOW_SECS"),
        flag: Some("fx-breaker-window-secs"),
        value_name: "S",
        default: Some("30"),
        doc: "the breaker's window, 1..=3600",
        kind: Kind::Value(|c, v| set(&mut c.fx.breaker_window, secs(v, 1, 3600))),
    },
    SettingSpec {
        key: "fx.breaker_open_secs",
        env: Some("OVERKILL_FX_BREAKER_OPEN_SECS"),
        flag: Some("fx-breaker-open-secs"),
        value_name: "S",
        default: Some("10"),
        doc: "how long the breaker stays open before one probe call, 1..=3600",
        kind: Kind::Value(|c, v| set(&mut c.fx.breaker_open, secs(v, 1, 3600))),
    },
    SettingSpec {
        key: "fx.cache_ttl_secs",
        env: Some("OVERKILL_FX_CACHE_TTL_SECS"),
        flag: Some("fx-cache-ttl-secs"),
        value_name: "S",
        default: Some("3600"),
        doc: "how long a currency's rates are fresh, 0..=86400 (0: every lookup asks the provider)",
        kind: Kind::Value(|c, v| set(&mut c.fx.cache_ttl, secs(v, 0, 86_400))),
    },
    SettingSpec {
        key: "fx.stale_limit_secs",
        env: Some("OVERKILL_FX_STALE_LIMIT_SECS"),
        flag: Some("fx-stale-limit-secs"),
        value_name: "S",
        default: Some("86400"),
        doc: "how long past the TTL rates are still served, marked `stale`, when the provider fails, 0..=604800",
        kind: Kind::Value(|c, v| set(&mut c.fx.stale_limit, secs(v, 0, 604_800))),
    },
    SettingSpec {
        key: "proxy.routes",
        env: None,
        flag: None,
        value_name: "TABLES",
        default: None,
        doc: "reverse-proxy routes, file only: `[[proxy.routes]]` tables with `prefix`, `upstreams` and optional \
              `host`, `strip_prefix`, `preserve_host`, `lb`, timeouts, `max_body_bytes`, `retries` (see \
              docs/design/proxy.md)",
        kind: Kind::Tables { fields: crate::proxy::config::FIELDS, apply: crate::proxy::config::apply },
    },
    SettingSpec {
        key: "log_format",
        env: Some("OVERKILL_LOG_FORMAT"),
        flag: Some("log-format"),
        value_name: "FORMAT",
        default: Some("auto"),
        doc: "`json`, `pretty`, or `auto`: pretty when stderr is a terminal, else json",
        kind: Kind::Value(|c, v| set(&mut c.log_format, log_format(v))),
    },
    SettingSpec {
        key: "log_level",
        env: Some("OVERKILL_LOG_LEVEL"),
        flag: Some("log-level"),
        value_name: "FILTER",
        default: Some("info"),
        doc: "log filter: a level, then `target=level` directives, comma-separated, e.g. `warn`, `overkill=debug,warn` or `info,hyper=off`",
        kind: Kind::Value(|c, v| set(&mut c.log_level, log_filter(v))),
    },
    SettingSpec {
        key: "migrate_on_start",
        env: Some("OVERKILL_MIGRATE_ON_START"),
        flag: Some("migrate-on-start"),
        value_name: "BOOL",
        default: Some("true"),
        doc: "apply pending migrations when serving starts",
        kind: Kind::Value(|c, v| set(&mut c.migrate_on_start, boolean(v))),
    },
    SettingSpec {
        key: "ballast_mb",
        env: Some("OVERKILL_BALLAST_MB"),
        flag: Some("ballast-mb"),
        value_name: "MIB",
        default: Some("0"),
        doc: "benchmark only: MiB of live heap to hold (the arena's large-heap scenario), 0..=65536",
        kind: Kind::Value(|c, v| set(&mut c.ballast_mb, bounded(v, 0, 64 * 1024))),
    },
];

/// Stores a parsed value, or passes its error on.
fn set<V>(slot: &mut V, parsed: Result<V, String>) -> Result<(), String> {
    *slot = parsed?;
    Ok(())
}

fn address(value: &str) -> Result<SocketAddr, String> {
    SocketAddr::from_str(value).map_err(|_| format!("`{value}` is not an IP:port address such as 0.0.0.0:8080"))
}

/// A file path; empty means unset.
fn path(value: &str) -> Option<PathBuf> {
    (!value.is_empty()).then(|| PathBuf::from(value))
}

fn bounded(value: &str, min: usize, max: usize) -> Result<usize, String> {
    match value.parse::<usize>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("`{value}` is not an integer in {min}..={max}")),
    }
}

/// A whole number of milliseconds from `min` to one day.
fn millis(value: &str, min: u64) -> Result<Duration, String> {
    match value.parse::<u64>() {
        Ok(ms) if (min..=MAX_DURATION_MS).contains(&ms) => Ok(Duration::from_millis(ms)),
        _ => Err(format!("`{value}` is not a number of milliseconds in {min}..={MAX_DURATION_MS}")),
    }
}

/// A whole number of milliseconds in `min..=max`.
fn millis_up_to(value: &str, min: u64, max: u64) -> Result<Duration, String> {
    match value.parse::<u64>() {
        Ok(ms) if (min..=max).contains(&ms) => Ok(Duration::from_millis(ms)),
        _ => Err(format!("`{value}` is not a number of milliseconds in {min}..={max}")),
    }
}

/// A whole number of seconds in `min..=max`.
fn secs(value: &str, min: u64, max: u64) -> Result<Duration, String> {
    match value.parse::<u64>() {
        Ok(s) if (min..=max).contains(&s) => Ok(Duration::from_secs(s)),
        _ => Err(format!("`{value}` is not a number of seconds in {min}..={max}")),
    }
}

/// A plain decimal number (`5`, `0.25`) in `min..=max`.
fn decimal(value: &str, min: f64, max: f64) -> Result<f64, String> {
    let plain = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    match value.parse::<f64>() {
        Ok(n) if plain && (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("`{value}` is not a decimal number in {min}..={max}")),
    }
}

/// The provider's base URL, or `None` (`off` or empty): conversion off.
fn fx_url(value: &str) -> Result<Option<String>, String> {
    if value.is_empty() || value.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let parsed: http::Uri = value.parse().map_err(|_| format!("`{value}` is not a URL"))?;
    let scheme_ok = matches!(parsed.scheme_str(), Some("http" | "https"));
    if !scheme_ok || parsed.host().is_none() || parsed.query().is_some() {
        return Err(format!("`{value}` is not an http:// or https:// base URL (without a query), nor `off`"));
    }
    Ok(Some(value.trim_end_matches('/').to_owned()))
}

fn boolean(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(format!("`{value}` is not true or false")),
    }
}

fn log_format(value: &str) -> Result<LogFormat, String> {
    use std::io::IsTerminal;
    match value {
        "json" => Ok(LogFormat::Json),
        "pretty" => Ok(LogFormat::Pretty),
        "auto" if std::io::stderr().is_terminal() => Ok(LogFormat::Pretty),
        "auto" => Ok(LogFormat::Json),
        _ => Err(format!("`{value}` is not json, pretty or auto")),
    }
}

/// A filter the log subscriber will accept, checked by its own parser.
pub(super) fn log_filter(value: &str) -> Result<String, String> {
    chassis::telemetry::check_log_filter(value).map(|()| value.to_owned())
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
