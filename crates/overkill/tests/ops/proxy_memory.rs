//! The proxy streams: a 1 GiB download and a 1 GiB upload through the
//! binary grow its peak RSS by a few MiB, not by the bodies' size.

use testkit::upstream::Upstream;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::Binary;

const GIB: usize = 1 << 30;

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|line| line.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_gibibyte_each_way_grows_the_peak_rss_by_a_few_mib() {
    let upstream = Upstream::start("a").await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("overkill.toml");
    let routes = format!(
        "[[proxy.routes]]\nprefix = \"/api/\"\nupstreams = [\"{}\"]\nmax_body_bytes = {}\n",
        upstream.authority(),
        2 * GIB
    );
    std::fs::write(&config, routes).unwrap();
    let database = format!("sqlite://{}", dir.path().join("proxy.db").display());
    let service = Binary::start(&[("OVERKILL_CONFIG", config.display().to_string()), ("DATABASE_URL", database)]);
    let client = reqwest::Client::new();
    let base = format!("http://{}", service.address);
    // Warm up: one exchange each way, so pools and buffers exist.
    client.get(format!("{base}/api/stream/1048576")).send().await.unwrap().bytes().await.unwrap();
    let before = peak_rss_kib(service.pid());

    let mut download = client.get(format!("{base}/api/stream/{GIB}")).send().await.unwrap();
    let mut received = 0;
    while let Some(chunk) = download.chunk().await.unwrap() {
        received += chunk.len();
    }
    assert_eq!(received, GIB);

    // The upload: chunked, written as it goes, from a raw connection.
    let mut stream = tokio::net::TcpStream::connect(&service.address).await.unwrap();
    let head = format!("PUT /api/upload HTTP/1.1\r\nHost: {}\r\nTransfer-Encoding: chunked\r\n\r\n", service.address);
    stream.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![b'u'; 64 * 1024];
    let framed = [format!("{:x}\r\n", chunk.len()).into_bytes(), chunk, b"\r\n".to_vec()].concat();
    for _ in 0..GIB / (64 * 1024) {
        stream.write_all(&framed).await.unwrap();
    }
    stream.write_all(b"0\r\n\r\n").await.unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0; 4096];
    while !String::from_utf8_lossy(&answer).contains("\"body_bytes\"") {
        let read = stream.read(&mut buffer).await.unwrap();
        assert!(read > 0, "the connection closed: {}", String::from_utf8_lossy(&answer));
        answer.extend_from_slice(&buffer[..read]);
    }
    let answer = String::from_utf8_lossy(&answer).into_owned();
    assert!(answer.starts_with("HTTP/1.1 200") && answer.contains(&format!("\"body_bytes\":{GIB}")), "{answer}");

    let after = peak_rss_kib(service.pid());
    eprintln!("proxy peak RSS: {before} KiB before, {after} KiB after 1 GiB down and 1 GiB up");
    assert!(after - before < 32 * 1024, "the peak RSS grew by {} KiB: bodies were buffered", after - before);
}
