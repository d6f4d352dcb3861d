//! Conditional requests (RFC 9110 §13): `If-Match` and `If-None-Match`
//! against an entity tag.

use axum::extract::FromRequestParts;
use http::header::{IF_MATCH, IF_NONE_MATCH};
use http::request::Parts;
use http::{HeaderMap, HeaderName};

/// The conditional headers of a request. An extractor that copies only
/// these two headers (the `HeaderMap` extractor would clone them all).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preconditions {
    if_match: Option<String>,
    if_none_match: Option<String>,
}

// === impl Preconditions ===

impl Preconditions {
    /// Reads the conditional headers from `headers`.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        Self { if_match: header_text(headers, IF_MATCH), if_none_match: header_text(headers, IF_NONE_MATCH) }
    }

    /// Whether `If-Match` allows a change to a resource whose current tag is
    /// `current` (a quoted strong tag such as `"7-2"`): true when the header
    /// is absent, is `*`, or lists `current`. Strong comparison: weak tags
    /// never match.
    pub fn if_match_allows(&self, current: &str) -> bool {
        match &self.if_match {
            None => true,
            Some(list) => tags(list).any(|tag| tag == "*" || tag == current),
        }
    }

    /// Whether the request carries `If-Match` at all.
    pub fn has_if_match(&self) -> bool {
        self.if_match.is_some()
    }

    /// Whether `If-None-Match` lists `current` or is `*`, so a GET can
    /// answer 304. Weak comparison: `W/"7-2"` matches `"7-2"`.
    pub fn if_none_match_hits(&self, current: &str) -> bool {
        match &self.if_none_match {
            None => false,
            Some(list) => tags(list).any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == current),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Preconditions {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::from_headers(&parts.headers))
    }
}

/// All values of `name` joined by commas, as the list syntax allows.
fn header_text(headers: &HeaderMap, name: HeaderName) -> Option<String> {
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

    fn with(name: HeaderName, value: &'static str) -> Preconditions {
        let mut map = HeaderMap::new();
        map.insert(name, HeaderValue::from_static(value));
        Preconditions::from_headers(&map)
    }

    #[test]
    fn if_match_uses_strong_comparison() {
        assert!(Preconditions::default().if_match_allows("\"1-1\""));
        assert!(with(IF_MATCH, "\"1-0\", \"1-1\"").if_match_allows("\"1-1\""));
        assert!(with(IF_MATCH, "*").if_match_allows("\"1-1\""));
        assert!(!with(IF_MATCH, "W/\"1-1\"").if_match_allows("\"1-1\""));
        assert!(!with(IF_MATCH, "\"1-2\"").if_match_allows("\"1-1\""));
    }

    #[test]
    fn if_none_match_uses_weak_comparison() {
        assert!(with(IF_NONE_MATCH, "W/\"1-1\"").if_none_match_hits("\"1-1\""));
        assert!(with(IF_NONE_MATCH, "*").if_none_match_hits("\"1-1\""));
        assert!(!with(IF_NONE_MATCH, "\"1-2\"").if_none_match_hits("\"1-1\""));
        assert!(!Preconditions::default().if_none_match_hits("\"1-1\""));
    }
}
