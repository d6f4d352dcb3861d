//! How long a provider asks to be left alone: `Retry-After` (RFC 9110
//! §10.2.3: seconds or an HTTP-date) and the IETF `RateLimit` field
//! (draft-ietf-httpapi-ratelimit-headers: `RateLimit: "policy";r=0;t=30`,
//! remaining `r` and seconds to reset `t` per policy), with the older
//! `RateLimit-Remaining`/`RateLimit-Reset` pair some providers still send.
//! Every wait is capped: a provider cannot park the client for a day.

use std::time::{Duration, SystemTime};

use http::HeaderMap;

/// The longest wait a provider can ask for.
pub const MAX_WAIT: Duration = Duration::from_secs(3600);

/// The wait `headers` ask for, if any: the longest of what they say.
pub fn requested(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let retry_after =
        headers.get(http::header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(|v| retry_after(v, now));
    let rate_limit = headers.get_all("ratelimit").iter().filter_map(|v| v.to_str().ok()).filter_map(rate_limit).max();
    let legacy = match (header_number(headers, "ratelimit-remaining"), header_number(headers, "ratelimit-reset")) {
        (Some(0), Some(reset)) => Some(Duration::from_secs(reset)),
        _ => None,
    };
    [retry_after, rate_limit, legacy].into_iter().flatten().max().map(|wait| wait.min(MAX_WAIT))
}

/// `Retry-After`: delta-seconds, or an HTTP-date (a date past is no wait).
pub fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Duration::from_secs(value.parse::<u64>().unwrap_or(u64::MAX)).min(MAX_WAIT));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO).min(MAX_WAIT))
}

/// `RateLimit`: a list of policies; the wait is the longest `t` among
/// those with nothing remaining (`r=0`).
pub fn rate_limit(value: &str) -> Option<Duration> {
    value
        .split(',')
        .filter_map(|item| {
            let mut remaining = None;
            let mut reset = None;
            for parameter in item.split(';').skip(1) {
                match parameter.trim().split_once('=') {
                    Some(("r", v)) => remaining = v.trim().parse::<u64>().ok(),
                    Some(("t", v)) => reset = v.trim().parse::<u64>().ok(),
                    _ => {}
                }
            }
            (remaining == Some(0)).then_some(reset).flatten().map(Duration::from_secs)
        })
        .max()
}

fn header_number(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn retry_after_takes_seconds_or_a_date() {
        let now = httpdate::parse_http_date("Sun, 29 Nov 2026 03:00:00 GMT").unwrap();
        assert_eq!(retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(retry_after("Sun, 29 Nov 2026 03:00:30 GMT", now), Some(Duration::from_secs(30)));
        assert_eq!(retry_after("Sun, 29 Nov 2026 02:00:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(retry_after("99999999999999999999", now), Some(MAX_WAIT));
        for bad in ["", "soon", "-1", "1.5"] {
            assert_eq!(retry_after(bad, now), None, "{bad:?}");
        }
    }

    #[test]
    fn rate_limit_waits_for_exhausted_policies_only() {
        assert_eq!(rate_limit(r#""default";r=0;t=30"#), Some(Duration::from_secs(30)));
        assert_eq!(rate_limit(r#""burst";r=5;t=1, "day";r=0;t=600"#), Some(Duration::from_secs(600)));
        assert_eq!(rate_limit(r#""default";r=3;t=30"#), None);
        assert_eq!(rate_limit("garbage"), None);
    }

    #[test]
    fn the_longest_request_wins_and_is_capped() {
        let now = SystemTime::now();
        let mut headers = HeaderMap::new();
        headers.insert(http::header::RETRY_AFTER, HeaderValue::from_static("2"));
        headers.insert("ratelimit", HeaderValue::from_static(r#""default";r=0;t=7"#));
        assert_eq!(requested(&headers, now), Some(Duration::from_secs(7)));
        headers.insert("ratelimit-remaining", HeaderValue::from_static("0"));
        headers.insert("ratelimit-reset", HeaderValue::from_static("86400"));
        assert_eq!(requested(&headers, now), Some(MAX_WAIT));
        assert_eq!(requested(&HeaderMap::new(), now), None);
    }
}
