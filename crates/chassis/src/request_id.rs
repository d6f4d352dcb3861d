//! `X-Request-Id`: taken from the client when well-formed, generated otherwise.

use std::time::{SystemTime, UNIX_EPOCH};

use http::HeaderValue;
use rand::Rng;

/// Header carrying the request id both ways.
pub const HEADER: &str = "x-request-id";

/// Longest client-supplied id we keep; longer ones are replaced.
const MAX_LEN: usize = 128;

/// The id of the request being served, in the request's extensions (and the
/// response's `X-Request-Id`).
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

    /// A fresh, time-ordered id: a UUID v7 (RFC 9562), its 74 random bits
    /// from the thread's ChaCha generator (seeded once from the OS), not a
    /// `getrandom` system call per request as `Uuid::now_v7` makes.
    pub fn generate() -> Self {
        let millis = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_millis() as u64);
        let uuid = uuid::Builder::from_unix_timestamp_millis(millis, &rand::rng().random()).into_uuid();
        let mut text = [0; uuid::fmt::Hyphenated::LENGTH];
        // Invariant: a hyphenated UUID is 36 chars of [0-9a-f-], always a
        // valid header value, so the fallback is unreachable.
        let value = HeaderValue::from_bytes(uuid.hyphenated().encode_lower(&mut text).as_bytes());
        Self(value.unwrap_or(HeaderValue::from_static("invalid")))
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

    #[test]
    fn generated_ids_are_version_7_uuids_and_differ() {
        let (a, b) = (RequestId::generate(), RequestId::generate());
        assert_ne!(a, b);
        let uuid = uuid::Uuid::parse_str(a.as_str()).unwrap();
        assert_eq!(uuid.get_version_num(), 7);
        assert_eq!(uuid.get_variant(), uuid::Variant::RFC4122);
        let (seconds, _) = uuid.get_timestamp().unwrap().to_unix();
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
        assert!(now.abs_diff(seconds) < 60, "{seconds} vs {now}");
    }
}
