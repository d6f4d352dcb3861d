//! An id in a path. Only the canonical decimal form names a resource: `2`,
//! never `+2`, `002`, `2.0` or `0`, and an id past `i64::MAX` names none.
//! Anything else is a 404, like an unknown id.

use axum::extract::{FromRequestParts, Path};
use chassis::Problem;
use http::request::Parts;

/// The `{id}` path segment as sent, and the id it names, if any.
#[derive(Debug)]
pub struct PathId {
    text: String,
    id: Option<i64>,
}

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = Problem;

    /// Never rejects: a segment that does not percent-decode to UTF-8 (`%FF`,
    /// which axum's `Path` refuses with a 400) names nothing either.
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        let text = match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(text)) => text,
            // Only percent-decoding fails, so the segment holds a `%`.
            Err(_) => parts.uri.path().split('/').find(|segment| segment.contains('%')).unwrap_or_default().to_owned(),
        };
        Ok(Self::new(text))
    }
}

/// The number `text` spells in canonical decimal form: digits only, no
/// sign, no leading zero (but `0` itself), within `u64`. Every integer the
/// API reads from a path or query goes through this, so `+5`, `05` and
/// `-0` are never numbers.
pub fn canonical_decimal(text: &str) -> Option<u64> {
    let digits_only = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    let no_leading_zero = text == "0" || !text.starts_with('0');
    if digits_only && no_leading_zero { text.parse().ok() } else { None }
}

// === impl PathId ===

impl PathId {
    /// The id `text` names: a positive decimal without sign or leading zero
    /// that fits in an `i64`.
    pub fn new(text: String) -> Self {
        let id = canonical_decimal(&text).and_then(|n| i64::try_from(n).ok()).filter(|n| *n > 0);
        Self { text, id }
    }

    /// The id, if the segment names one.
    pub fn id(&self) -> Option<i64> {
        self.id
    }

    /// The segment as sent, for messages.
    pub fn text(&self) -> &str {
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_canonical_form_is_an_id() {
        let id = |text: &str| PathId::new(text.to_owned()).id;
        assert_eq!(id("2"), Some(2));
        assert_eq!(id("9223372036854775807"), Some(i64::MAX));
        for other in ["", "0", "00", "+2", "002", "-1", "2.0", "1e2", " 2", "2 ", "9223372036854775808", "٢"] {
            assert_eq!(id(other), None, "{other:?}");
        }
    }
}
