//! Every error response as an RFC 9457 problem, and panics as 500s.

use std::panic::AssertUnwindSafe;

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;
use http::{HeaderValue, StatusCode, Uri, Version, header};

use crate::problem::{self, ErrorCause, PassThrough, Problem};
use crate::request_id::RequestId;

/// Seconds a client should wait before retrying a 503.
const RETRY_AFTER_SECONDS: HeaderValue = HeaderValue::from_static("1");

/// What rendering a problem needs of the request, kept before it is consumed.
pub(super) struct Context<'a> {
    uri: Uri,
    version: Version,
    request_id: &'a RequestId,
}

impl<'a> Context<'a> {
    pub(super) fn of(request: &Request, request_id: &'a RequestId) -> Self {
        // A parsed request's URI shares the connection's read buffer: a
        // clone is a reference count, not a copy.
        Self { uri: request.uri().clone(), version: request.version(), request_id }
    }
}

/// Writes problem bodies: for [`Problem`]s handlers returned, and for bare
/// error statuses the router or an extractor produced. Responses marked
/// [`PassThrough`] (a proxied upstream's) are left exactly as they are.
pub(super) fn render(mut response: Response, context: &Context<'_>) -> Response {
    if response.extensions().get::<PassThrough>().is_some() {
        return response;
    }
    let path = context.uri.path();
    let mut problem = match response.extensions_mut().remove::<Problem>() {
        Some(problem) => problem,
        None if is_bare_error(&response) => problem_for_status(response.status(), path),
        None => return response,
    };
    let body = problem.render_body(path, Some(context.request_id.as_str()));
    let (mut parts, _) = response.into_parts();
    parts.status = problem.status_code();
    let headers = &mut parts.headers;
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(problem::CONTENT_TYPE));
    headers.remove(header::CONTENT_LENGTH);
    if parts.status == StatusCode::SERVICE_UNAVAILABLE && !headers.contains_key(header::RETRY_AFTER) {
        headers.insert(header::RETRY_AFTER, RETRY_AFTER_SECONDS);
    }
    // The body was refused or cut short: what is left of it on the wire
    // cannot be told from the next request, so the connection ends here.
    let body_unread = matches!(parts.status, StatusCode::REQUEST_TIMEOUT | StatusCode::PAYLOAD_TOO_LARGE);
    if body_unread && context.version < Version::HTTP_2 {
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    if let Some(cause) = problem.cause.take() {
        parts.extensions.insert(ErrorCause(cause));
    }
    Response::from_parts(parts, body.into())
}

/// An error status without a problem body: made by the framework, not by us.
fn is_bare_error(response: &Response) -> bool {
    let is_error = response.status().is_client_error() || response.status().is_server_error();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes() == problem::CONTENT_TYPE.as_bytes());
    is_error && !is_problem
}

/// The problem for a bare status; the status itself is always kept.
fn problem_for_status(status: StatusCode, path: &str) -> Problem {
    match status {
        StatusCode::BAD_REQUEST => Problem::new(status, "bad-request", "Bad request", "the request is invalid"),
        StatusCode::NOT_FOUND => Problem::not_found(format!("no resource at {path}")),
        StatusCode::METHOD_NOT_ALLOWED => Problem::new(
            status,
            "method-not-allowed",
            "Method not allowed",
            format!("{path} does not support this method; see the Allow header"),
        ),
        StatusCode::PAYLOAD_TOO_LARGE => Problem::payload_too_large(),
        StatusCode::INTERNAL_SERVER_ERROR => Problem::internal(),
        other => Problem::for_status(other),
    }
}

/// Turns a panicking handler into a 500. The panic message is logged, never sent.
pub(super) async fn catch_panic(handler: impl Future<Output = Response>) -> Response {
    match AssertUnwindSafe(handler).catch_unwind().await {
        Ok(response) => response,
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(panic.message = %message, "handler panicked");
            Problem::internal().with_cause("handler panicked").into_response()
        }
    }
}
