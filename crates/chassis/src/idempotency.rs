//! The parts of `Idempotency-Key` (IETF httpapi draft "The Idempotency-Key
//! HTTP Header Field") that do not depend on where keys are stored: the
//! header, the request fingerprint, the stored answer and its replay, and
//! the problems. A service stores keys in its own database, in the same
//! transaction as the work they guard.

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::{HeaderName, HeaderValue, StatusCode, header};
use sha2::{Digest, Sha256};

use crate::problem::{self, PassThrough, Problem};

/// The request header.
pub const HEADER: HeaderName = HeaderName::from_static("idempotency-key");

/// The response header marking a replayed answer.
pub const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// Longest key, in characters.
pub const MAX_KEY_LEN: usize = 255;

/// A client's idempotency key: 1–255 printable ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

/// What identifies a request under one key: SHA-256 of the method, the path
/// and the body bytes. The same key with another fingerprint is a reuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint(pub [u8; 32]);

/// An answer as the client first saw it, kept to be replayed byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub location: Option<String>,
    pub etag: Option<String>,
    pub content_type: String,
    pub body: Vec<u8>,
}

// === impl IdempotencyKey ===

impl IdempotencyKey {
    /// The key a header value names: its characters, or the contents of the
    /// draft's Structured Field string form (`"…"` with `\"` and `\\`
    /// escapes). `None` unless that is 1–255 characters of 0x20–0x7E.
    pub fn parse(value: &[u8]) -> Option<Self> {
        let key = match value {
            [b'"', inner @ .., b'"'] => unescape(inner)?,
            _ => value.to_vec(),
        };
        let printable = key.iter().all(|b| (0x20..=0x7e).contains(b));
        if key.is_empty() || key.len() > MAX_KEY_LEN || !printable {
            return None;
        }
        // Invariant: printable ASCII is UTF-8.
        String::from_utf8(key).ok().map(Self)
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The contents of a Structured Field string (RFC 8941 §3.3.3): `\` escapes
/// only `"` and `\`; an unescaped `"` inside is malformed.
fn unescape(inner: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(inner.len());
    let mut bytes = inner.iter();
    while let Some(&byte) = bytes.next() {
        match byte {
            b'\\' => match bytes.next() {
                Some(&escaped @ (b'"' | b'\\')) => out.push(escaped),
                _ => return None,
            },
            b'"' => return None,
            _ => out.push(byte),
        }
    }
    Some(out)
}

/// `Option<IdempotencyKey>`: absent is `None`; present but invalid is a 400.
impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Problem> {
        let mut values = parts.headers.get_all(HEADER).iter();
        match (values.next(), values.next()) {
            (Some(value), None) => Self::parse(value.as_bytes()).ok_or_else(invalid_key),
            (Some(_), Some(_)) => Err(invalid_key()),
            (None, _) => Err(Problem::new(
                StatusCode::BAD_REQUEST,
                "invalid-idempotency-key",
                "Invalid Idempotency-Key",
                "no Idempotency-Key header",
            )),
        }
    }
}

impl<S: Send + Sync> axum::extract::OptionalFromRequestParts<S> for IdempotencyKey {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Option<Self>, Problem> {
        if parts.headers.contains_key(HEADER) {
            <Self as FromRequestParts<S>>::from_request_parts(parts, state).await.map(Some)
        } else {
            Ok(None)
        }
    }
}

fn invalid_key() -> Problem {
    Problem::new(
        StatusCode::BAD_REQUEST,
        "invalid-idempotency-key",
        "Invalid Idempotency-Key",
        format!("Idempotency-Key must be one header of 1–{MAX_KEY_LEN} printable ASCII characters"),
    )
}

// === impl Fingerprint ===

impl Fingerprint {
    /// The fingerprint of a request. The parts are length-prefixed, so no
    /// method or path can spell the part that follows it.
    pub fn of(method: &str, path: &str, body: &[u8]) -> Self {
        let mut hash = Sha256::new();
        for part in [method.as_bytes(), path.as_bytes(), body] {
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part);
        }
        Self(hash.finalize().into())
    }
}

// === impl StoredResponse ===

impl StoredResponse {
    /// A JSON answer.
    pub fn json(status: StatusCode, body: Vec<u8>) -> Self {
        let content_type = "application/json".to_owned();
        Self { status: status.as_u16(), location: None, etag: None, content_type, body }
    }

    /// A problem answer, rendered as the problem middleware renders it for
    /// the request at `instance` with id `request_id`.
    pub fn problem(mut problem: Problem, instance: &str, request_id: Option<&str>) -> Self {
        let body = problem.render_body(instance, request_id);
        let content_type = problem::CONTENT_TYPE.to_owned();
        Self { status: problem.status, location: None, etag: None, content_type, body }
    }

    /// The answer as a response; `replayed` adds `Idempotent-Replayed: true`.
    /// Marked [`PassThrough`]: the body is final, problems included.
    pub fn to_response(&self, replayed: bool) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, self.body.clone()).into_response();
        let headers = response.headers_mut();
        let mut set = |name: HeaderName, value: &str| {
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.insert(name, value);
            }
        };
        set(header::CONTENT_TYPE, &self.content_type);
        if let Some(location) = &self.location {
            set(header::LOCATION, location);
        }
        if let Some(etag) = &self.etag {
            set(header::ETAG, etag);
        }
        if replayed {
            headers.insert(REPLAYED, HeaderValue::from_static("true"));
        }
        response.extensions_mut().insert(PassThrough);
        response
    }
}

// === problems ===

/// 422: the key was used for a different request.
pub fn reused() -> Problem {
    Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency-key-reused",
        "Idempotency-Key reused",
        "this Idempotency-Key was used for a different request; use a new key for a new request",
    )
}

/// 409 with `Retry-After: 1`: the first request with the key still runs.
pub fn in_flight() -> Response {
    let problem = Problem::new(
        StatusCode::CONFLICT,
        "idempotency-key-in-flight",
        "Idempotency-Key in flight",
        "a request with this Idempotency-Key is still running; retry shortly",
    );
    ([(header::RETRY_AFTER, HeaderValue::from_static("1"))], problem).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_printable_ascii_in_either_form() {
        let key = |text: &str| IdempotencyKey::parse(text.as_bytes()).map(|k| k.0);
        assert_eq!(key("abc-123"), Some("abc-123".to_owned()));
        assert_eq!(key("a b"), Some("a b".to_owned()));
        assert_eq!(key(r#""abc-123""#), Some("abc-123".to_owned()));
        assert_eq!(key(r#""a\"b\\c""#), Some(r#"a"b\c"#.to_owned()));
        assert_eq!(key(&"k".repeat(255)), Some("k".repeat(255)));
        for bad in ["", r#""""#, "\u{7f}", "ключ", "a\tb", r#""a"b""#, r#""a\b""#, r#""a\""#] {
            assert_eq!(key(bad), None, "{bad:?}");
        }
        assert_eq!(key(&"k".repeat(256)), None);
    }

    #[test]
    fn fingerprints_separate_method_path_and_body() {
        let base = Fingerprint::of("POST", "/v1/orders", b"{}");
        assert_eq!(base, Fingerprint::of("POST", "/v1/orders", b"{}"));
        assert_ne!(base, Fingerprint::of("POST", "/v1/orders", b"{ }"));
        assert_ne!(base, Fingerprint::of("POST", "/v1/orders/1/cancel", b"{}"));
        assert_ne!(Fingerprint::of("POST", "/a", b"b"), Fingerprint::of("POST", "/ab", b""));
    }

    #[test]
    fn replays_carry_the_stored_parts_and_the_marker() {
        let mut stored = StoredResponse::json(StatusCode::CREATED, b"{\"id\":1}".to_vec());
        stored.location = Some("/v1/orders/1".to_owned());
        stored.etag = Some("\"1-1\"".to_owned());
        let response = stored.to_response(true);
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(response.headers()[header::LOCATION], "/v1/orders/1");
        assert_eq!(response.headers()[header::ETAG], "\"1-1\"");
        assert_eq!(response.headers()[REPLAYED], "true");
        assert!(response.extensions().get::<PassThrough>().is_some());
        assert!(stored.to_response(false).headers().get(REPLAYED).is_none());
    }
}
