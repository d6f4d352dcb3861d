//! `[[proxy.routes]]`: each route read and checked field by field, before
//! any port is bound (docs/design/proxy.md states the bounds).

use std::time::Duration;

use chassis::proxy::{Balance, HealthCheck, RouteSpec};
use http::uri::{Authority, PathAndQuery};

use crate::config::Config;
use crate::config::spec::{Entry, EntryError};

/// The fields a route may set.
pub const FIELDS: &[&str] = &[
    "prefix",
    "host",
    "upstreams",
    "strip_prefix",
    "preserve_host",
    "lb",
    "connect_timeout_ms",
    "response_timeout_ms",
    "idle_timeout_ms",
    "max_body_bytes",
    "retries",
    "health.path",
    "health.interval_ms",
    "health.timeout_ms",
    "health.healthy_threshold",
    "health.unhealthy_threshold",
];

/// The service's own paths: no route may match any of them.
const OWN: [&str; 2] = ["/v1/", "/openapi.json"];

/// Most upstreams per route.
const MAX_UPSTREAMS: usize = 64;

/// Reads one route and adds it to `config`.
pub fn apply(config: &mut Config, entry: &Entry) -> Result<(), EntryError> {
    let listed = entry.list_fields().find(|field| *field != "upstreams");
    if let Some(field) = listed.and_then(|name| FIELDS.iter().find(|known| **known == name)) {
        return Err(invalid(field, "expected a single value, not an array"));
    }
    let prefix = prefix(entry.require("prefix")?)?;
    let host = entry.get("host").map(host).transpose()?;
    let upstreams = upstreams(entry)?;
    let same = config.proxy_routes.iter().find(|route| route.prefix == prefix && route.host == host);
    if let Some(same) = same {
        let on = same.host.as_deref().map_or_else(String::new, |h| format!(" for host {h}"));
        return Err(invalid("prefix", format!("`{prefix}`{on} is already the prefix of another route")));
    }
    let unhealthy_threshold = number(entry, "health.unhealthy_threshold", 3, 1, 100)?;
    config.proxy_routes.push(RouteSpec {
        prefix,
        host,
        upstreams,
        strip_prefix: flag(entry, "strip_prefix")?,
        preserve_host: flag(entry, "preserve_host")?,
        balance: balance(entry.get("lb").unwrap_or("round_robin"))?,
        connect_timeout: Duration::from_millis(number(entry, "connect_timeout_ms", 1000, 1, 60_000)?),
        response_timeout: Duration::from_millis(number(entry, "response_timeout_ms", 30_000, 1, 3_600_000)?),
        idle_timeout: Duration::from_millis(number(entry, "idle_timeout_ms", 60_000, 1, 3_600_000)?),
        max_body_bytes: number(entry, "max_body_bytes", 1 << 30, 0, 1 << 40)?,
        retries: number(entry, "retries", 1, 0, 5)? as u32,
        unhealthy_threshold: unhealthy_threshold as u32,
        health: health(entry)?,
    });
    Ok(())
}

/// `[proxy.routes.health]`: active checks when `path` is set.
fn health(entry: &Entry) -> Result<Option<HealthCheck>, EntryError> {
    let interval = number(entry, "health.interval_ms", 2000, 100, 3_600_000)?;
    let timeout = number(entry, "health.timeout_ms", 1000, 1, 60_000)?;
    let healthy_threshold = number(entry, "health.healthy_threshold", 2, 1, 100)? as u32;
    let Some(path) = entry.get("health.path") else { return Ok(None) };
    let path = match path.parse::<PathAndQuery>() {
        Ok(parsed) if path.starts_with('/') => parsed,
        _ => return Err(invalid("health.path", format!("`{path}` is not a path such as /healthz"))),
    };
    Ok(Some(HealthCheck {
        path,
        interval: Duration::from_millis(interval),
        timeout: Duration::from_millis(timeout),
        healthy_threshold,
    }))
}

fn invalid(field: &'static str, reason: impl Into<String>) -> EntryError {
    EntryError { field, reason: reason.into() }
}

fn prefix(text: &str) -> Result<String, EntryError> {
    let valid = text.starts_with('/')
        && text.len() <= 256
        && !text.bytes().any(|b| matches!(b, b'?' | b'#' | b'%' | b'\\') || b.is_ascii_control() || b == b' ')
        && !text.split('/').any(|segment| segment == ".." || segment == ".");
    if !valid {
        return Err(invalid(
            "prefix",
            format!(
                "`{text}` is not a path prefix: it starts with /, has at most 256 bytes, no ?, #, %, spaces or . and .. segments"
            ),
        ));
    }
    for own in OWN {
        if own.starts_with(text) || text.starts_with(own) {
            return Err(invalid("prefix", format!("`{text}` would shadow the service's own routes ({own}…)")));
        }
    }
    Ok(text.to_owned())
}

fn host(text: &str) -> Result<String, EntryError> {
    let lower = text.to_ascii_lowercase();
    let valid = !lower.is_empty()
        && lower.len() <= 253
        && lower.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'))
        || lower.parse::<std::net::IpAddr>().is_ok();
    if !valid {
        return Err(invalid("host", format!("`{text}` is not a host name or IP address (without a port)")));
    }
    Ok(lower)
}

fn upstreams(entry: &Entry) -> Result<Vec<(String, Authority)>, EntryError> {
    let Some(list) = entry.list("upstreams")? else {
        return Err(invalid("upstreams", "required: a list such as [\"127.0.0.1:9001\"]"));
    };
    if list.is_empty() || list.len() > MAX_UPSTREAMS {
        return Err(invalid("upstreams", format!("needs 1 to {MAX_UPSTREAMS} upstreams")));
    }
    list.iter().map(|text| upstream(text).map(|authority| (text.clone(), authority))).collect()
}

/// `host:port` or `http://host:port` (no path, query or userinfo).
fn upstream(text: &str) -> Result<Authority, EntryError> {
    let bare = text.strip_prefix("http://").unwrap_or(text).trim_end_matches('/');
    let problem = || {
        let why = if text.starts_with("https://") { " (https upstreams are not served yet)" } else { "" };
        invalid("upstreams", format!("`{text}` is not host:port or http://host:port{why}"))
    };
    if text.contains("://") && !text.starts_with("http://") {
        return Err(problem());
    }
    let authority: Authority = bare.parse().map_err(|_| problem())?;
    if authority.port_u16().is_none() || authority.as_str().contains('@') || authority.host().is_empty() {
        return Err(problem());
    }
    Ok(authority)
}

fn flag(entry: &Entry, field: &'static str) -> Result<bool, EntryError> {
    match entry.get(field) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(invalid(field, format!("`{other}` is not true or false"))),
    }
}

fn balance(text: &str) -> Result<Balance, EntryError> {
    match text {
        "round_robin" => Ok(Balance::RoundRobin),
        "least_requests" => Ok(Balance::LeastRequests),
        "p2c" => Ok(Balance::PowerOfTwo),
        other => Err(invalid("lb", format!("`{other}` is not round_robin, least_requests or p2c"))),
    }
}

fn number(entry: &Entry, field: &'static str, default: u64, min: u64, max: u64) -> Result<u64, EntryError> {
    match entry.get(field) {
        None => Ok(default),
        Some(text) => match text.parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(invalid(field, format!("`{text}` is not an integer in {min}..={max}"))),
        },
    }
}

#[cfg(test)]
mod tests {
    use crate::cli::SettingFlags;
    use crate::config::Config;

    fn load(toml: &str) -> Result<Config, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let path = dir.path().join("overkill.toml");
        std::fs::write(&path, toml).map_err(|e| e.to_string())?;
        let path = path.display().to_string();
        Config::load(&SettingFlags::default(), |name| (name == "OVERKILL_CONFIG").then(|| path.clone()))
            .map_err(|error| error.to_string())
    }

    #[test]
    fn a_route_takes_its_defaults() {
        let config = load(
            "[[proxy.routes]]\nprefix = \"/api/\"\nupstreams = [\"127.0.0.1:9001\", \"http://localhost:9002/\"]\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let route = &config.proxy_routes[0];
        assert_eq!(
            route.upstreams.iter().map(|(_, a)| a.as_str()).collect::<Vec<_>>(),
            ["127.0.0.1:9001", "localhost:9002"]
        );
        assert_eq!((route.retries, route.max_body_bytes, route.strip_prefix), (1, 1 << 30, false));
        assert_eq!(route.response_timeout, std::time::Duration::from_secs(30));
    }

    #[test]
    fn every_bad_route_names_its_index_and_key() {
        let ok = "[[proxy.routes]]\nprefix = \"/a/\"\nupstreams = [\"127.0.0.1:1\"]\n";
        for (route, key) in [
            ("prefix = \"/\"\nupstreams = [\"127.0.0.1:1\"]", "proxy.routes[1].prefix"),
            ("prefix = \"/v1\"\nupstreams = [\"127.0.0.1:1\"]", "proxy.routes[1].prefix"),
            ("prefix = \"/v1/other/\"\nupstreams = [\"127.0.0.1:1\"]", "proxy.routes[1].prefix"),
            ("prefix = \"/open\"\nupstreams = [\"127.0.0.1:1\"]", "proxy.routes[1].prefix"),
            ("prefix = \"/a/\"\nupstreams = [\"127.0.0.1:1\"]", "proxy.routes[1].prefix"),
            ("prefix = \"no-slash\"\nupstreams = [\"127.0.0.1:1\"]", "proxy.routes[1].prefix"),
            ("prefix = \"/a/../b\"\nupstreams = [\"127.0.0.1:1\"]", "proxy.routes[1].prefix"),
            ("prefix = \"/b/\"\nupstreams = []", "proxy.routes[1].upstreams"),
            ("prefix = \"/b/\"", "proxy.routes[1].upstreams"),
            ("prefix = \"/b/\"\nupstreams = \"127.0.0.1:1\"", "proxy.routes[1].upstreams"),
            ("prefix = \"/b/\"\nupstreams = [\"https://x:443\"]", "proxy.routes[1].upstreams"),
            ("prefix = \"/b/\"\nupstreams = [\"x\"]", "proxy.routes[1].upstreams"),
            ("prefix = \"/b/\"\nupstreams = [\"http://u@x:1\"]", "proxy.routes[1].upstreams"),
            ("prefix = \"/b/\"\nupstreams = [\"127.0.0.1:1\"]\nlb = \"random\"", "proxy.routes[1].lb"),
            ("prefix = \"/b/\"\nupstreams = [\"127.0.0.1:1\"]\nretries = 6", "proxy.routes[1].retries"),
            ("prefix = \"/b/\"\nupstreams = [\"127.0.0.1:1\"]\nhost = \"a b\"", "proxy.routes[1].host"),
            ("prefix = [\"/b/\"]\nupstreams = [\"127.0.0.1:1\"]", "proxy.routes[1].prefix"),
            (
                "prefix = \"/b/\"\nupstreams = [\"127.0.0.1:1\"]\n[proxy.routes.health]\nunhealthy_threshold = 0",
                "proxy.routes[1].health.unhealthy_threshold",
            ),
            ("prefix = \"/b/\"\nupstreams = [\"127.0.0.1:1\"]\nmystery = 1", "proxy.routes[1].mystery"),
        ] {
            let error = load(&format!("{ok}\n[[proxy.routes]]\n{route}\n")).err().unwrap_or_default();
            assert!(error.contains(key), "{route:?}: {error}");
        }
    }
}
