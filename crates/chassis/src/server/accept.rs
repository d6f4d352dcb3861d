//! What turns an accepted TCP stream into the byte stream HTTP runs on:
//! nothing for plain TCP, a TLS handshake for TLS. The accept loop is
//! generic over it, so a TLS acceptor plugs in under the same connection
//! limit and the same first-request deadline.

use std::future::Future;
use std::io;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// Completes the transport handshake of an accepted connection.
///
/// The server runs [`Acceptor::handshake`] inside the connection's task,
/// holding its connection permit and bounded by the header-read timeout
/// (counted from the accept), so a client that never finishes a handshake
/// is dropped like one that never sends a request. An acceptor may bound
/// its handshake more tightly itself.
pub trait Acceptor: Clone + Send + Sync + 'static {
    /// The stream HTTP is served on.
    type Io: AsyncRead + AsyncWrite + Unpin + Send + 'static;

    /// The stream to serve HTTP on, or why the handshake failed.
    fn handshake(&self, stream: TcpStream) -> impl Future<Output = io::Result<Self::Io>> + Send;
}

/// Plain TCP: HTTP/1.1 and h2c straight on the socket.
#[derive(Debug, Clone, Copy, Default)]
pub struct Plain;

// === impl Plain ===

impl Acceptor for Plain {
    type Io = TcpStream;

    fn handshake(&self, stream: TcpStream) -> impl Future<Output = io::Result<TcpStream>> + Send {
        std::future::ready(Ok(stream))
    }
}
