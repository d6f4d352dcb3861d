//! A body that fails when no frame arrives for a while: the proxy's
//! "idle between body bytes" bound, in either direction.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// No body bytes for the idle timeout.
#[derive(Debug, Clone, Copy)]
pub struct BodyIdle(pub Duration);

impl std::fmt::Display for BodyIdle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "no body bytes for {} ms", self.0.as_millis())
    }
}

impl std::error::Error for BodyIdle {}

/// `inner`, failing with [`BodyIdle`] when no frame comes for `idle`.
/// The timer exists only once the body has had to wait: a body whose
/// frames are always ready (a small answer read with its head) costs none.
pub struct IdleTimeout<B> {
    inner: B,
    idle: Duration,
    deadline: Option<Pin<Box<Sleep>>>,
    /// Whether `deadline` times the current wait (else it is set afresh).
    armed: bool,
}

impl<B> IdleTimeout<B> {
    pub fn new(inner: B, idle: Duration) -> Self {
        Self { inner, idle, deadline: None, armed: false }
    }
}

impl<B> Body for IdleTimeout<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            // The next wait starts its own gap.
            this.armed = false;
            return Poll::Ready(frame.map(|result| result.map_err(Into::into)));
        }
        let until = Instant::now() + this.idle;
        let deadline = this.deadline.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(until)));
        if !this.armed {
            deadline.as_mut().reset(until);
            this.armed = true;
        }
        match deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyIdle(this.idle))))),
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
