//! RFC 9457 problem details: the one shape of every error response.
//!
//! Handlers return a [`Problem`]; it travels in the response extensions and
//! [`crate::middleware::render_problems`] writes the body, so the body can
//! carry the request id and path without every handler knowing them. Responses
//! the framework makes on its own (unknown route, wrong method, extractor
//! rejections) are turned into problems by the same middleware.

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::Serialize;

/// Media type of problem bodies.
pub const CONTENT_TYPE: &str = "application/problem+json";

/// An error as the client sees it. Never holds internal error text: build it
/// from what the client did or may do, and log the cause where it is handled.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Problem {
    /// Relative URI `/problems/<slug>` naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the kind, the same for every occurrence.
    pub title: &'static str,
    /// HTTP status code.
    pub status: u16,
    /// What went wrong this time, in words a client developer can act on.
    pub detail: String,
    /// Path of the request that failed; filled in when rendered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// Request id; filled in when rendered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Every invalid field, for validation problems.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// The offending field, for unknown-field problems.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Further members a kind of problem defines (RFC 9457 §3.2), such as
    /// `short_lines` for insufficient stock.
    #[serde(flatten)]
    #[cfg_attr(feature = "openapi", schema(ignore))]
    pub extensions: serde_json::Map<String, serde_json::Value>,
    /// Why it happened, for the access log line only; never sent.
    #[serde(skip)]
    pub cause: Option<String>,
    /// Seconds the client should wait before retrying, sent as
    /// `Retry-After` (a 503 without one gets 1).
    #[serde(skip)]
    pub retry_after: Option<u64>,
}

/// A response extension that tells the problem renderer to leave the
/// response as it is: a proxied upstream error passes through untouched.
#[derive(Debug, Clone, Copy, Default)]
pub struct PassThrough;

/// A response extension carrying the cause of an error response, put there
/// by the renderer for the access log line.
#[derive(Debug, Clone)]
pub struct ErrorCause(pub String);

/// One invalid field in a validation problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldError {
    /// Field name as the client sent it (JSON member or query parameter).
    pub field: String,
    /// Why it is invalid.
    pub message: String,
}

// === impl Problem ===

impl Problem {
    /// A problem of kind `slug` with the given status, title and detail.
    pub fn new(status: StatusCode, slug: &str, title: &'static str, detail: impl Into<String>) -> Self {
        Self {
            kind: format!("/problems/{slug}"),
            title,
            status: status.as_u16(),
            detail: detail.into(),
            instance: None,
            request_id: None,
            errors: Vec::new(),
            field: None,
            extensions: serde_json::Map::new(),
            cause: None,
            retry_after: None,
        }
    }

    /// The same problem, telling the client to wait `wait` (rounded up to
    /// whole seconds, at least 1) before retrying.
    pub fn with_retry_after(mut self, wait: std::time::Duration) -> Self {
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        self.retry_after = Some(seconds.max(1));
        self
    }

    /// The same problem, with `cause` noted for the access log (never sent).
    pub fn with_cause(mut self, cause: impl std::fmt::Display) -> Self {
        self.cause = Some(cause.to_string());
        self
    }

    /// A problem for a bare error `status` nothing else explains: the slug
    /// and title come from the status's standard reason phrase.
    pub fn for_status(status: StatusCode) -> Self {
        let title = status.canonical_reason().unwrap_or("Error");
        let slug = title.to_ascii_lowercase().replace(' ', "-");
        let detail = format!("the request failed with status {}", status.as_u16());
        Self::new(status, &slug, title, detail)
    }

    /// 404: the resource or route does not exist.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    /// 400: the body is not a JSON object.
    pub fn malformed_json(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "malformed-json", "Malformed JSON", detail)
    }

    /// 400: the body names a field the endpoint does not know.
    pub fn unknown_field(field: &str) -> Self {
        let mut problem =
            Self::new(StatusCode::BAD_REQUEST, "unknown-field", "Unknown field", format!("unknown field `{field}`"));
        problem.field = Some(field.to_owned());
        problem
    }

    /// 400: query parameters are invalid.
    pub fn invalid_parameters(errors: Vec<FieldError>) -> Self {
        let detail = summary(&errors, "parameter");
        let mut problem = Self::new(StatusCode::BAD_REQUEST, "invalid-parameter", "Invalid parameter", detail);
        problem.errors = errors;
        problem
    }

    /// 422: the body is well-formed but fields are invalid; lists every one.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = summary(&errors, "field");
        let mut problem = Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation-error", "Validation failed", detail);
        problem.errors = errors;
        problem
    }

    /// 408: the client did not send the whole body within `limit`.
    pub fn request_timeout(limit: std::time::Duration) -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "request-timeout",
            "Request timeout",
            format!("the request body did not arrive within {} ms", limit.as_millis()),
        )
    }

    /// 413: the body is over the configured limit.
    pub fn payload_too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            "Payload too large",
            "the request body is larger than the service accepts",
        )
    }

    /// 409: the request conflicts with the current state.
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", "Conflict", detail)
    }

    /// 412: `If-Match` does not match.
    pub fn precondition_failed(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::PRECONDITION_FAILED, "precondition-failed", "Precondition failed", detail)
    }

    /// 500: a bug. The detail is fixed so no internal text leaks.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal server error",
            "the server failed to handle the request; quote the request id when reporting it",
        )
    }

    /// 503: a dependency is down or the service is overloaded.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "Service unavailable", detail)
    }

    /// 502: an upstream or provider failed to answer properly.
    pub fn bad_gateway(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_GATEWAY, "bad-gateway", "Bad gateway", detail)
    }

    /// 504: an upstream or provider did not answer in time.
    pub fn gateway_timeout(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::GATEWAY_TIMEOUT, "gateway-timeout", "Gateway timeout", detail)
    }

    /// The body as the client sees it, for the request at `instance` with
    /// id `request_id`: what the problem middleware writes, and what an
    /// idempotent replay must repeat byte for byte.
    pub fn render_body(&mut self, instance: &str, request_id: Option<&str>) -> Vec<u8> {
        self.instance = Some(instance.to_owned());
        self.request_id = request_id.map(str::to_owned);
        // Invariant: a Problem is strings, numbers and lists and maps of
        // them, which always serialise; the empty fallback is unreachable.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The HTTP status as a [`StatusCode`].
    pub fn status_code(&self) -> StatusCode {
        // Invariant: `status` is only ever set from a `StatusCode`, so the
        // fallback is unreachable; 500 is the honest answer if it is not.
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

fn summary(errors: &[FieldError], noun: &str) -> String {
    match errors {
        [one] => format!("{}: {}", one.field, one.message),
        many => format!("{} {noun}s are invalid", many.len()),
    }
}

impl IntoResponse for Problem {
    /// An empty response carrying the problem; the rendering middleware
    /// writes the body.
    fn into_response(self) -> Response {
        let mut response = self.status_code().into_response();
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(http::header::RETRY_AFTER, http::HeaderValue::from(seconds));
        }
        response.extensions_mut().insert(self);
        response
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.title, self.detail)
    }
}
