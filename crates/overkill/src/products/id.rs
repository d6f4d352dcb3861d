//! The product id in a path: see [`PathId`] for the one spelling that names
//! a product.

use axum::extract::FromRequestParts;
use chassis::Problem;
use http::request::Parts;

use crate::path_id::PathId;

/// The `{id}` path segment as sent, and the product id it names, if any.
#[derive(Debug)]
pub struct ProductId(PathId);

impl<S: Send + Sync> FromRequestParts<S> for ProductId {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        PathId::from_request_parts(parts, state).await.map(Self)
    }
}

// === impl ProductId ===

impl ProductId {
    /// The product id, or 404 when the segment names none.
    pub fn get(&self) -> Result<i64, Problem> {
        self.0.id().ok_or_else(|| self.not_found())
    }

    /// 404 for this id.
    pub fn not_found(&self) -> Problem {
        Problem::not_found(format!("there is no product with id {}", self.0.text())) // ARENA-EDIT-MARKER: benchmark hook; the arena's rebuild timing edits this string for one build
    }
}
