//! Conditional requests (RFC 9110 §13): `If-Match` and `If-None-Match`
//! against an entity tag.

use http::HeaderMap;
use http::header::{IF_MATCH, IF_NONE_MATCH};

/// Whether `If-Match` allows a change to a resource whose current tag is
/// `current` (a quoted strong tag such as `"7-2"`): true when the header is
/// absent, is `*`, or lists `current`. Strong comparison: weak tags never match.
pub fn if_match_allows(headers: &HeaderMap, current: &str) -> bool {
    match header_text(headers, IF_MATCH) {
        None => true,
        Some(list) => tags(&list).any(|tag| tag == "*" || tag == current),
    }
}

/// Whether the request carries `If-Match` at all.
pub fn has_if_match(headers: &HeaderMap) -> bool {
    headers.contains_key(IF_MATCH)
}

/// Whether `If-None-Match` lists `current` or is `*`, so a GET can answer
/// 304. Weak comparison: `W/"7-2"` matches `"7-2"`.
pub fn if_none_match_hits(headers: &HeaderMap, current: &str) -> bool {
    match header_text(headers, IF_NONE_MATCH) {
        None => false,
        Some(list) => tags(&list).any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == current),
    }
}

/// All values of `name` joined by commas, as the list syntax allows.
fn header_text(headers: &HeaderMap, name: http::HeaderName) -> Option<String> {
    let mut values = headers.get_all(name).iter().peekable();
    values.peek()?;
    Some(values.filter_map(|v| v.to_str().ok()).collect::<Vec<_>>().join(","))
}

fn tags(list: &str) -> impl Iterator<Item = &str> {
    list.split(',').map(str::trim).filter(|tag| !tag.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(name: http::HeaderName, value: &'static str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(name, HeaderValue::from_static(value));
        map
    }

    #[test]
    fn if_match_uses_strong_comparison() {
        assert!(if_match_allows(&HeaderMap::new(), "\"1-1\""));
        assert!(if_match_allows(&headers(IF_MATCH, "\"1-0\", \"1-1\""), "\"1-1\""));
        assert!(if_match_allows(&headers(IF_MATCH, "*"), "\"1-1\""));
        assert!(!if_match_allows(&headers(IF_MATCH, "W/\"1-1\""), "\"1-1\""));
        assert!(!if_match_allows(&headers(IF_MATCH, "\"1-2\""), "\"1-1\""));
    }

    #[test]
    fn if_none_match_uses_weak_comparison() {
        assert!(if_none_match_hits(&headers(IF_NONE_MATCH, "W/\"1-1\""), "\"1-1\""));
        assert!(if_none_match_hits(&headers(IF_NONE_MATCH, "*"), "\"1-1\""));
        assert!(!if_none_match_hits(&headers(IF_NONE_MATCH, "\"1-2\""), "\"1-1\""));
        assert!(!if_none_match_hits(&HeaderMap::new(), "\"1-1\""));
    }
}
