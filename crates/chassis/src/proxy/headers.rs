//! Header hygiene for a proxied exchange (RFC 9110 §7.6): hop-by-hop fields
//! never cross the proxy, in either direction, and the request gains the
//! forwarding fields that say where it came from.

use std::net::{IpAddr, SocketAddr};

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// Fields that describe one connection, not the message (RFC 9110 §7.6.1),
/// plus the pre-standard `Proxy-Connection` and `Keep-Alive`. `Trailer`
/// stays: it declares the trailer fields that pass through with the body
/// (Go's ReverseProxy drops it and announces the same names again), and
/// hyper sends only declared trailers.
const HOP_BY_HOP: [HeaderName; 7] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// What the proxy says of itself in `Via`.
pub const VIA: &str = "1.1 overkill";

/// Whether `headers` ask to switch protocols (`Connection: upgrade` and an
/// `Upgrade` field): then `Upgrade` and `Connection: upgrade` are kept.
pub fn is_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE)
        && connection_tokens(headers).any(|token| token.eq_ignore_ascii_case("upgrade"))
}

/// Removes every hop-by-hop field: the fixed ones, and every field the
/// `Connection` header names. `TE: trailers` survives on requests (the
/// only `TE` a proxy may forward); with `upgrade`, `Upgrade` and
/// `Connection: upgrade` survive.
pub fn remove_hop_by_hop(headers: &mut HeaderMap, is_request: bool) {
    let upgrade = is_upgrade(headers).then(|| headers.get(header::UPGRADE).cloned()).flatten();
    let named: Vec<HeaderName> =
        connection_tokens(headers).filter_map(|token| HeaderName::from_bytes(token.as_bytes()).ok()).collect();
    for name in named.iter().chain(HOP_BY_HOP.iter()) {
        headers.remove(name);
    }
    let trailers_only = headers
        .get_all(header::TE)
        .iter()
        .all(|value| value.to_str().is_ok_and(|v| v.split(',').all(|t| t.trim().eq_ignore_ascii_case("trailers"))));
    if !is_request || !trailers_only {
        headers.remove(header::TE);
    }
    if let Some(protocol) = upgrade {
        headers.insert(header::UPGRADE, protocol);
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    }
}

/// The tokens of every `Connection` field.
fn connection_tokens(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|token| !token.is_empty())
}

/// Where a request came from, for the forwarding fields.
#[derive(Debug, Clone)]
pub struct Origin<'a> {
    /// The client's address.
    pub peer: SocketAddr,
    /// The `Host` the client asked for, if it sent one.
    pub host: Option<&'a HeaderValue>,
    /// `http` or `https`.
    pub proto: &'static str,
}

/// Adds `X-Forwarded-For` (appended to the client's own), `X-Forwarded-Proto`,
/// `X-Forwarded-Host`, `Forwarded` (RFC 7239, appended) and `Via`.
pub fn add_forwarding(headers: &mut HeaderMap, origin: &Origin<'_>) {
    let ip = origin.peer.ip();
    append_list(headers, HeaderName::from_static("x-forwarded-for"), &ip.to_string());
    headers.insert(HeaderName::from_static("x-forwarded-proto"), HeaderValue::from_static(origin.proto));
    let host = origin.host.and_then(|h| h.to_str().ok()).filter(|h| is_token_safe(h));
    match host {
        Some(host) => {
            if let Ok(value) = HeaderValue::from_str(host) {
                headers.insert(HeaderName::from_static("x-forwarded-host"), value);
            }
        }
        None => {
            headers.remove(HeaderName::from_static("x-forwarded-host"));
        }
    }
    let node = match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("\"[{v6}]\""),
    };
    let mut forwarded = format!("for={node}");
    if let Some(host) = host {
        forwarded.push_str(&format!(";host=\"{host}\""));
    }
    forwarded.push_str(";proto=");
    forwarded.push_str(origin.proto);
    append_list(headers, header::FORWARDED, &forwarded);
    append_list(headers, header::VIA, VIA);
}

/// Appends `item` to the comma-separated list field `name`, as one field.
pub fn append_list(headers: &mut HeaderMap, name: HeaderName, item: &str) {
    let existing: Vec<&str> = headers.get_all(&name).iter().filter_map(|v| v.to_str().ok()).collect();
    let value = if existing.is_empty() { item.to_owned() } else { format!("{}, {item}", existing.join(", ")) };
    if let Ok(value) = HeaderValue::from_str(&value) {
        headers.insert(name, value);
    }
}

/// A host fit to quote in `Forwarded`: no quote, backslash or control byte.
fn is_token_safe(host: &str) -> bool {
    !host.is_empty() && host.bytes().all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap_or(header::ALLOW),
                HeaderValue::from_static(value),
            );
        }
        map
    }

    #[test]
    fn hop_by_hop_fields_and_the_ones_connection_names_go() {
        let mut map = headers(&[
            ("connection", "close, X-Foo"),
            ("connection", "x-bar"),
            ("x-foo", "1"),
            ("x-bar", "2"),
            ("keep-alive", "timeout=5"),
            ("proxy-connection", "keep-alive"),
            ("proxy-authorization", "Basic x"),
            ("proxy-authenticate", "Basic"),
            ("te", "gzip"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "h2c"),
            ("x-kept", "3"),
        ]);
        remove_hop_by_hop(&mut map, true);
        let left: Vec<_> = map.keys().map(HeaderName::as_str).collect();
        assert_eq!(left, ["x-kept"]);
    }

    #[test]
    fn te_trailers_survives_on_requests_only_and_upgrades_keep_their_fields() {
        let mut request = headers(&[("te", "trailers")]);
        remove_hop_by_hop(&mut request, true);
        assert_eq!(request.get(header::TE).map(|v| v.as_bytes()), Some(&b"trailers"[..]));
        let mut response = headers(&[("te", "trailers")]);
        remove_hop_by_hop(&mut response, false);
        assert!(response.get(header::TE).is_none());

        let mut upgrade = headers(&[("connection", "Upgrade, x-foo"), ("upgrade", "websocket"), ("x-foo", "1")]);
        remove_hop_by_hop(&mut upgrade, true);
        assert_eq!(upgrade.get(header::UPGRADE).map(|v| v.as_bytes()), Some(&b"websocket"[..]));
        assert_eq!(upgrade.get(header::CONNECTION).map(|v| v.as_bytes()), Some(&b"upgrade"[..]));
        assert!(upgrade.get("x-foo").is_none());
    }

    #[test]
    fn forwarding_fields_append_to_what_the_client_sent() {
        let mut map =
            headers(&[("x-forwarded-for", "203.0.113.7"), ("forwarded", "for=203.0.113.7"), ("via", "1.0 fred")]);
        let host = HeaderValue::from_static("shop.example.com:8080");
        let peer: SocketAddr = "[2001:db8::1]:4711".parse().unwrap_or_else(|_| unreachable!());
        add_forwarding(&mut map, &Origin { peer, host: Some(&host), proto: "http" });
        let get = |name: &str| map.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        assert_eq!(get("x-forwarded-for"), "203.0.113.7, 2001:db8::1");
        assert_eq!(get("x-forwarded-proto"), "http");
        assert_eq!(get("x-forwarded-host"), "shop.example.com:8080");
        assert_eq!(
            get("forwarded"),
            "for=203.0.113.7, for=\"[2001:db8::1]\";host=\"shop.example.com:8080\";proto=http"
        );
        assert_eq!(get("via"), "1.0 fred, 1.1 overkill");
    }
}
