//! Request bodies under a size limit and a read deadline, and reading one
//! whole with each failure mapped to its problem (413, 408, 400).

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::{Frame, SizeHint};
use tokio::time::Sleep;

use crate::cause;
use crate::problem::Problem;

type BoxError = Box<dyn Error + Send + Sync>;

/// The client did not send the whole body within the body-read timeout.
#[derive(Debug, Clone, Copy)]
pub struct BodyReadTimeout(pub Duration);

/// A body that fails with [`LengthLimitError`] past `max_bytes` and with
/// [`BodyReadTimeout`] if it is not complete `timeout` after this call.
pub fn bounded(body: Body, max_bytes: usize, timeout: Duration) -> Body {
    Body::new(Timed { inner: Limited::new(body, max_bytes), deadline: Box::pin(tokio::time::sleep(timeout)), timeout })
}

/// A body that fails with [`LengthLimitError`] past `max_bytes` and with
/// [`BodyReadTimeout`] when no bytes come for `idle`: for bodies streamed
/// through rather than read whole.
pub fn bounded_streaming(body: Body, max_bytes: usize, idle: Duration) -> Body {
    let timed = crate::proxy::IdleTimeout::new(Limited::new(body, max_bytes), idle);
    Body::new(http_body_util::BodyExt::map_err(timed, move |error| {
        if error.is::<crate::proxy::BodyIdle>() { Box::new(BodyReadTimeout(idle)) as BoxError } else { error }
    }))
}

/// Reads `body` whole. A body over its limit is a 413, one too slow a 408,
/// any other failure (the client went away mid-body) a 400.
pub async fn read_all(body: Body) -> Result<Bytes, Problem> {
    match body.collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) => {
            let error = error.into_inner();
            if cause::find::<LengthLimitError>(error.as_ref()).is_some() {
                Err(Problem::payload_too_large())
            } else if let Some(BodyReadTimeout(limit)) = cause::find::<BodyReadTimeout>(error.as_ref()) {
                Err(Problem::request_timeout(*limit))
            } else {
                Err(Problem::malformed_json("the request body could not be read"))
            }
        }
    }
}

struct Timed {
    inner: Limited<Body>,
    deadline: Pin<Box<Sleep>>,
    timeout: Duration,
}

// === impl Timed ===

impl hyper::body::Body for Timed {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        match this.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyReadTimeout(this.timeout))))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl fmt::Display for BodyReadTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the request body was not received within {} ms", self.0.as_millis())
    }
}

impl Error for BodyReadTimeout {}
