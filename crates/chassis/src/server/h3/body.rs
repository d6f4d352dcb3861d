//! A request body read from its HTTP/3 stream as the handler asks for it.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes};
use hyper::body::{Body, Frame};

type RecvStream = h3::server::RequestStream<h3_quinn::RecvStream, Bytes>;

/// The receiving half of a request stream as an [`http_body::Body`]: DATA
/// frames, then trailers if the client sent any. Nothing is buffered
/// beyond the frame being handed over; QUIC flow control holds the client
/// back while the handler does not read.
pub(super) struct RecvBody {
    stream: RecvStream,
    state: State,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Data,
    Trailers,
    Done,
}

// === impl RecvBody ===

impl RecvBody {
    pub(super) fn new(stream: RecvStream) -> Self {
        Self { stream, state: State::Data }
    }
}

impl Body for RecvBody {
    type Data = Bytes;
    type Error = h3::error::StreamError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if this.state == State::Data {
            match ready!(this.stream.poll_recv_data(cx)) {
                Ok(Some(mut data)) => return Poll::Ready(Some(Ok(Frame::data(data.copy_to_bytes(data.remaining()))))),
                Ok(None) => this.state = State::Trailers,
                Err(error) => {
                    this.state = State::Done;
                    return Poll::Ready(Some(Err(error)));
                }
            }
        }
        if this.state == State::Trailers {
            let trailers = ready!(this.stream.poll_recv_trailers(cx));
            this.state = State::Done;
            return Poll::Ready(trailers.transpose().map(|trailers| trailers.map(Frame::trailers)));
        }
        Poll::Ready(None)
    }

    fn is_end_stream(&self) -> bool {
        self.state == State::Done
    }
}
