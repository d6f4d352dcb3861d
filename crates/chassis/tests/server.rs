//! The accept loop on a real socket: handlers see the peer's address, and a
//! streamed response the client never reads does not hold the connection
//! forever.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::routing::get;
use chassis::{HttpSettings, Shutdown};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket};

/// A guard against hanging, not a synchronisation.
const GUARD: Duration = Duration::from_secs(10);

/// Serves `app` on a free loopback port until the returned token triggers.
async fn serve(app: Router, settings: HttpSettings) -> (std::net::SocketAddr, Shutdown) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let shutdown = Shutdown::new();
    tokio::spawn({
        let shutdown = shutdown.clone();
        async move { chassis::server::serve(listener, app, &settings, shutdown).await }
    });
    (address, shutdown)
}

#[tokio::test]
async fn a_streamed_response_the_client_never_reads_is_dropped_at_the_idle_timeout() {
    let endless = || async {
        let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
        Body::from_stream(futures_util::stream::repeat_with(move || Ok::<_, std::io::Error>(chunk.clone())))
    };
    let app = chassis::middleware::apply(Router::new().route("/stream", get(endless)), &HttpSettings::default());
    // Long header timeout: only the stalled-response deadline can end it.
    let settings = HttpSettings {
        idle_timeout: Duration::from_millis(300),
        header_read_timeout: Duration::from_secs(60),
        ..HttpSettings::default()
    };
    let (address, shutdown) = serve(app, settings).await;

    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(address).await.unwrap();
    let request = b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n";
    // Never read: the server's writes stall, then (its buffers full) ours.
    let dropped = tokio::time::timeout(GUARD, async { while stream.write_all(request).await.is_ok() {} }).await;
    assert!(dropped.is_ok(), "the server kept a connection whose client reads nothing");
    shutdown.trigger();
}

#[tokio::test]
async fn handlers_see_the_peer_address() {
    let peer = |ConnectInfo(address): ConnectInfo<std::net::SocketAddr>| async move { address.to_string() };
    let app = chassis::middleware::apply(Router::new().route("/peer", get(peer)), &HttpSettings::default());
    let settings = HttpSettings::default();
    let (address, shutdown) = serve(app, settings).await;
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.write_all(b"GET /peer HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut response = String::new();
    tokio::time::timeout(GUARD, stream.read_to_string(&mut response)).await.unwrap().unwrap();
    let local = stream.local_addr().unwrap().to_string();
    assert!(response.starts_with("HTTP/1.1 200") && response.ends_with(&local), "{response} vs {local}");
    shutdown.trigger();
}

#[tokio::test]
async fn a_slow_stream_the_client_keeps_reading_is_not_cut_at_the_idle_timeout() {
    // 25 chunks 100 ms apart: 2.5 s of streaming against a 1 s idle timeout
    // (wide margins: a loaded machine may pause the stream for a while).
    let trickle = || async {
        let chunks = futures_util::stream::unfold(0, |sent| async move {
            if sent == 25 {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            Some((Ok::<_, std::io::Error>(Bytes::from_static(b"chunk;")), sent + 1))
        });
        Body::from_stream(chunks)
    };
    let app = chassis::middleware::apply(Router::new().route("/trickle", get(trickle)), &HttpSettings::default());
    let settings = HttpSettings { idle_timeout: Duration::from_secs(1), ..HttpSettings::default() };
    let (address, shutdown) = serve(app, settings).await;
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.write_all(b"GET /trickle HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut response = String::new();
    tokio::time::timeout(GUARD, stream.read_to_string(&mut response)).await.unwrap().unwrap();
    assert_eq!(response.matches("chunk;").count(), 25, "{response}");
    assert!(response.ends_with("0\r\n\r\n"), "the body ended properly: {response}");
    shutdown.trigger();
}
