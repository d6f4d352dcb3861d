//! A real HTTP/1.1 upstream on loopback for proxy tests: it echoes what it
//! received, streams, stalls, fails mid-body, answers any status, and
//! counts the connections it has open.
//!
//! Routes (any method; matched on the path's last segments, so
//! `/api/status/418` is `/status/418`):
//! - `/status/{code}`: that status, with a JSON body and `X-Upstream-Error: 1`;
//! - `/stream/{bytes}`: `bytes` bytes, chunked, 64 KiB at a time;
//! - `/slow/{ms}`: the answer head after `ms` milliseconds;
//! - `/stall/{ms}`: 100 bytes of body, then `ms` milliseconds of silence,
//!   then 100 more;
//! - `/trailers`: a chunked `hello` followed by the trailer
//!   `x-checksum: 5d41402a`;
//! - `/reset`: a head announcing 1000 bytes, 100 of them, then the
//!   connection is cut;
//! - `Upgrade: echo` on any path: `101 Switching Protocols`, then every
//!   byte sent back until the client closes;
//! - `/hop`: a response carrying hop-by-hop fields (`Connection: x-secret`,
//!   `X-Secret`, `Keep-Alive`, `Proxy-Authenticate`) and `X-Kept`;
//! - anything else: JSON `{"upstream", "method", "path", "query", "headers",
//!   "body_bytes"}`, the body counted (not kept) as it streams in.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

type Body = http_body_util::combinators::BoxBody<Bytes, std::io::Error>;

/// A running upstream; when dropped it stops, and its open connections
/// are cut (as a crashed upstream's would be).
pub struct Upstream {
    address: SocketAddr,
    name: String,
    open: Arc<AtomicUsize>,
    accepted: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
    stop: tokio::sync::watch::Sender<bool>,
}

impl Upstream {
    /// Starts one on a free loopback port; `name` is in every echo.
    pub async fn start(name: &str) -> Self {
        Self::start_at(name, "127.0.0.1:0").await
    }

    /// Starts one on `address` (a port another test freed, say).
    pub async fn start_at(name: &str, address: &str) -> Self {
        let listener = TcpListener::bind(address).await.expect("the address is free");
        let address = listener.local_addr().expect("its address");
        let (open, accepted) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (open_count, accepted_count, tag) = (open.clone(), accepted.clone(), Arc::<str>::from(name));
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                accepted_count.fetch_add(1, Ordering::SeqCst);
                let guard = OpenGuard::new(open_count.clone());
                let (tag, mut stopped) = (tag.clone(), stopped.clone());
                tokio::spawn(async move {
                    let _guard = guard;
                    let service = hyper::service::service_fn(move |request| answer(tag.clone(), request));
                    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                    tokio::select! {
                        _ = connection => {}
                        _ = stopped.wait_for(|stop| *stop) => {}
                    }
                });
            }
        });
        Self { address, name: name.to_owned(), open, accepted, task, stop }
    }

    /// `127.0.0.1:PORT`.
    pub fn authority(&self) -> String {
        self.address.to_string()
    }

    /// The name it echoes.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Connections open to it now.
    pub fn open_connections(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    /// Connections it has accepted so far.
    pub fn accepted_connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
        let _ = self.stop.send(true);
    }
}

struct OpenGuard(Arc<AtomicUsize>);

impl OpenGuard {
    fn new(count: Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Self(count)
    }
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn answer(name: Arc<str>, mut request: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    if request.headers().get(http::header::UPGRADE).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"echo")) {
        let upgrade = hyper::upgrade::on(&mut request);
        tokio::spawn(async move {
            if let Ok(upgraded) = upgrade.await {
                let (mut reader, mut writer) = tokio::io::split(TokioIo::new(upgraded));
                let _ = tokio::io::copy(&mut reader, &mut writer).await;
            }
        });
        let mut response = full(StatusCode::SWITCHING_PROTOCOLS, String::new());
        response.headers_mut().insert(http::header::UPGRADE, HeaderValue::from_static("echo"));
        response.headers_mut().insert(http::header::CONNECTION, HeaderValue::from_static("upgrade"));
        return Ok(response);
    }
    // Matched on the path's last segments, so a proxy's prefix may come first.
    let path = request.uri().path().to_owned();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let response = match segments.as_slice() {
        [.., "status", code] => {
            let status =
                code.parse().ok().and_then(|c| StatusCode::from_u16(c).ok()).unwrap_or(StatusCode::IM_A_TEAPOT);
            let mut response = full(status, format!("{{\"upstream\":\"{name}\",\"status\":{}}}", status.as_u16()));
            response.headers_mut().insert("x-upstream-error", HeaderValue::from_static("1"));
            response
        }
        [.., "stream", bytes] => {
            let total: usize = bytes.parse().unwrap_or(0);
            let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
            let chunks = (0..total.div_ceil(chunk.len())).map(move |i| {
                let len = chunk.len().min(total - i * chunk.len());
                Ok::<_, std::io::Error>(Frame::data(chunk.slice(..len)))
            });
            ok(BodyExt::boxed(StreamBody::new(futures_util::stream::iter(chunks))))
        }
        [.., "slow", ms] => {
            tokio::time::sleep(Duration::from_millis(ms.parse().unwrap_or(0))).await;
            full(StatusCode::OK, "slow".to_owned())
        }
        [.., "stall", ms] => {
            let pause = Duration::from_millis(ms.parse().unwrap_or(0));
            let first = futures_util::stream::once(async {
                Ok::<_, std::io::Error>(Frame::data(Bytes::from(vec![b's'; 100])))
            });
            let later = futures_util::stream::once(async move {
                tokio::time::sleep(pause).await;
                Ok::<_, std::io::Error>(Frame::data(Bytes::from(vec![b's'; 100])))
            });
            ok(BodyExt::boxed(StreamBody::new(first.chain(later))))
        }
        [.., "trailers"] => {
            let mut trailers = http::HeaderMap::new();
            trailers.insert("x-checksum", HeaderValue::from_static("5d41402a"));
            let frames =
                vec![Ok::<_, std::io::Error>(Frame::data(Bytes::from_static(b"hello"))), Ok(Frame::trailers(trailers))];
            let mut response = ok(BodyExt::boxed(StreamBody::new(futures_util::stream::iter(frames))));
            response.headers_mut().insert(http::header::TRAILER, HeaderValue::from_static("x-checksum"));
            response
        }
        [.., "reset"] => {
            let first = futures_util::stream::once(async {
                Ok::<_, std::io::Error>(Frame::data(Bytes::from(vec![b'x'; 100])))
            });
            let then_fail = futures_util::stream::once(async {
                tokio::time::sleep(Duration::from_millis(50)).await;
                Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "cut mid-body"))
            });
            let mut response = ok(BodyExt::boxed(StreamBody::new(first.chain(then_fail))));
            response.headers_mut().insert(http::header::CONTENT_LENGTH, HeaderValue::from_static("1000"));
            response
        }
        [.., "hop"] => {
            let mut response = full(StatusCode::OK, "hop".to_owned());
            let headers = response.headers_mut();
            headers.insert(http::header::CONNECTION, HeaderValue::from_static("x-secret"));
            headers.insert("x-secret", HeaderValue::from_static("1"));
            headers.insert("keep-alive", HeaderValue::from_static("timeout=5"));
            headers.insert(http::header::PROXY_AUTHENTICATE, HeaderValue::from_static("Basic"));
            headers.insert("x-kept", HeaderValue::from_static("1"));
            response
        }
        _ => echo(name, request).await,
    };
    Ok(response)
}

async fn echo(name: Arc<str>, request: Request<Incoming>) -> Response<Body> {
    let (parts, mut body) = request.into_parts();
    let mut body_bytes = 0_u64;
    while let Some(Ok(frame)) = body.frame().await {
        if let Some(data) = frame.data_ref() {
            body_bytes += data.len() as u64;
        }
    }
    let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (key, value) in &parts.headers {
        headers
            .entry(key.as_str().to_owned())
            .or_default()
            .push(String::from_utf8_lossy(value.as_bytes()).into_owned());
    }
    let doc = serde_json::json!({
        "upstream": name.as_ref(),
        "method": parts.method.as_str(),
        "path": parts.uri.path(),
        "query": parts.uri.query(),
        "headers": headers,
        "body_bytes": body_bytes,
    });
    let mut response = full(StatusCode::OK, doc.to_string());
    response.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn full(status: StatusCode, text: String) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(text)).map_err(|never| match never {}).boxed());
    *response.status_mut() = status;
    response
}

fn ok(body: Body) -> Response<Body> {
    Response::new(body)
}
