//! The instant a request's handler must be done by: the middleware's
//! request timeout, measured from when the handler started. Outbound calls
//! take it as their own deadline, so a slow provider turns into the
//! feature's own answer (a 503 that says why) before the generic timeout.

use axum::extract::FromRequestParts;
use http::request::Parts;
use tokio::time::Instant;

/// When the request times out. Extracting it never fails: without the
/// timeout middleware (a handler tested alone) it is a day away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline(pub Instant);

impl Deadline {
    /// The instant itself.
    pub fn at(self) -> Instant {
        self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Deadline {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let far = || Self(Instant::now() + std::time::Duration::from_secs(86_400));
        Ok(parts.extensions.get::<Self>().copied().unwrap_or_else(far))
    }
}
