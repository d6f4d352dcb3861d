//! What turns an accepted TCP stream into the byte stream HTTP runs on:
//! nothing for plain TCP, a TLS handshake for TLS. The accept loop is
//! generic over it, so a TLS acceptor plugs in under the same connection
//! limit and the same first-request deadline.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

/// Completes the transport handshake of an accepted connection.
///
/// The server runs [`Acceptor::handshake`] inside the connection's task,
/// holding its connection permit and bounded by the header-read timeout
/// (counted from the accept), so a client that never finishes a handshake
/// is dropped like one that never sends a request. An acceptor may bound
/// its handshake more tightly itself.
pub trait Acceptor: Clone + Send + Sync + 'static {
    /// The stream to serve HTTP on, or why the handshake failed.
    fn handshake(&self, stream: TcpStream) -> impl Future<Output = io::Result<Stream>> + Send;
}

/// The byte stream HTTP is served on, plain or TLS.
///
/// One type for both, rather than a type parameter: hyper's HTTP/1.1 and
/// HTTP/2 connection code is then compiled once, not once per transport
/// (measured: 0.9 MB of binary), for the cost of a branch per read and write.
pub enum Stream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP (boxed: a TLS session is large, a plain one is not).
    Tls(Box<TlsStream<TcpStream>>),
}

/// Plain TCP: HTTP/1.1 and h2c straight on the socket.
#[derive(Debug, Clone, Copy, Default)]
pub struct Plain;

// === impl Plain ===

impl Acceptor for Plain {
    fn handshake(&self, stream: TcpStream) -> impl Future<Output = io::Result<Stream>> + Send {
        std::future::ready(Ok(Stream::Plain(stream)))
    }
}

// === impl Stream ===

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(stream) => Pin::new(stream).poll_read(cx, buf),
            Self::Tls(stream) => Pin::new(stream).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(stream) => Pin::new(stream).poll_write(cx, buf),
            Self::Tls(stream) => Pin::new(stream).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
            Self::Tls(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Plain(stream) => stream.is_write_vectored(),
            Self::Tls(stream) => stream.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(stream) => Pin::new(stream).poll_flush(cx),
            Self::Tls(stream) => Pin::new(stream).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(stream) => Pin::new(stream).poll_shutdown(cx),
            Self::Tls(stream) => Pin::new(stream).poll_shutdown(cx),
        }
    }
}
