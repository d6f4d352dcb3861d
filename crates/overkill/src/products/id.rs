//! The product id in a path. Only the canonical decimal form names a
//! product: `2`, never `+2`, `002`, `2.0` or `0`, and an id past `i64::MAX`
//! names none. Anything else is a 404, like an unknown id.

use axum::extract::{FromRequestParts, Path};
use chassis::Problem;
use http::request::Parts;

/// The `{id}` path segment as sent, and the product id it names, if any.
#[derive(Debug)]
pub struct ProductId {
    text: String,
    id: Option<i64>,
}

impl<S: Send + Sync> FromRequestParts<S> for ProductId {
    type Rejection = Problem;

    /// Never rejects: a segment that does not percent-decode to UTF-8 (`%FF`,
    /// which axum's `Path` refuses with a 400) names no product either.
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        let text = match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(text)) => text,
            Err(_) => parts.uri.path().rsplit('/').next().unwrap_or_default().to_owned(),
        };
        Ok(Self::new(text))
    }
}

// === impl ProductId ===

impl ProductId {
    /// The id `text` names: a positive decimal without sign or leading zero
    /// that fits in an `i64`.
    pub fn new(text: String) -> Self {
        let canonical = text.bytes().all(|b| b.is_ascii_digit()) && !text.starts_with('0');
        let id = if canonical { text.parse().ok() } else { None };
        Self { text, id }
    }

    /// The product id, or 404 when the segment names none.
    pub fn get(&self) -> Result<i64, Problem> {
        self.id.ok_or_else(|| self.not_found())
    }

    /// 404 for this id.
    pub fn not_found(&self) -> Problem {
        Problem::not_found(format!("there is no product with id {}", self.text)) // ARENA-EDIT-MARKER (rebuild timing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_canonical_form_is_an_id() {
        let id = |text: &str| ProductId::new(text.to_owned()).id;
        assert_eq!(id("2"), Some(2));
        assert_eq!(id("9223372036854775807"), Some(i64::MAX));
        for other in ["", "0", "00", "+2", "002", "-1", "2.0", "1e2", " 2", "2 ", "9223372036854775808", "٢"] {
            assert_eq!(id(other), None, "{other:?}");
        }
    }
}
