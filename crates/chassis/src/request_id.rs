//! `X-Request-Id`: taken from the client when well-formed, generated otherwise.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http::HeaderValue;

/// Header carrying the request id both ways.
pub const HEADER: &str = "x-request-id";

/// Longest client-supplied id we keep; longer ones are replaced.
const MAX_LEN: usize = 128;

/// The id of the request being served, in request and response extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub HeaderValue);

// === impl RequestId ===

impl RequestId {
    /// The client's id when it is 1–128 chars of `[A-Za-z0-9._:-]`, else a new UUID v7.
    pub fn from_header(value: Option<&HeaderValue>) -> Self {
        match value {
            Some(value) if is_well_formed(value.as_bytes()) => Self(value.clone()),
            _ => Self::generate(),
        }
    }

    /// A fresh, time-ordered id.
    pub fn generate() -> Self {
        let id = uuid::Uuid::now_v7().hyphenated().to_string();
        // Invariant: a hyphenated UUID is 36 chars of [0-9a-f-], always a
        // valid header value, so the fallback is unreachable.
        Self(HeaderValue::from_str(&id).unwrap_or(HeaderValue::from_static("invalid")))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Invariant: both constructors admit only visible ASCII.
        self.0.to_str().unwrap_or_default()
    }
}

fn is_well_formed(bytes: &[u8]) -> bool {
    (1..=MAX_LEN).contains(&bytes.len())
        && bytes.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// Middleware: assigns the request id and echoes it on the response.
pub async fn assign(mut request: Request, next: Next) -> Response {
    let id = RequestId::from_header(request.headers().get(HEADER));
    request.extensions_mut().insert(id.clone());
    let mut response = next.run(request).await;
    response.headers_mut().insert(HEADER, id.0.clone());
    response.extensions_mut().insert(id);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_well_formed_ids() {
        let id = RequestId::from_header(Some(&HeaderValue::from_static("abc-123:x.y_z")));
        assert_eq!(id.as_str(), "abc-123:x.y_z");
    }

    #[test]
    fn replaces_malformed_or_long_ids() {
        let bad = HeaderValue::from_static("has space");
        assert_ne!(RequestId::from_header(Some(&bad)).as_str(), "has space");
        let long = HeaderValue::from_str(&"a".repeat(129)).unwrap();
        assert_eq!(RequestId::from_header(Some(&long)).as_str().len(), 36);
        assert_eq!(RequestId::from_header(None).as_str().len(), 36);
    }
}
