//! Reverse-proxy routes, black-box: each test starts real upstreams on
//! loopback (`testkit::upstream`) and a service whose settings file routes
//! to them — in this process, or the Go twin's binary in twin mode (see
//! `support::spawn_with_env`).

#![allow(clippy::unwrap_used)]

#[path = "../support/mod.rs"]
mod support;

use std::time::Duration;

use serde_json::Value;
use support::{TestApp, assert_problem, spawn_with_env};
use testkit::upstream::Upstream;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

/// A service whose settings file holds `routes` (TOML), kept alive with it.
async fn start(routes: &str) -> (TestApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("overkill.toml");
    std::fs::write(&path, routes).unwrap();
    let app = spawn_with_env(&[("OVERKILL_CONFIG", path.display().to_string())]).await;
    (app, dir)
}

/// A loopback address nothing listens on.
async fn dead_address() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().to_string()
}

async fn echo(request: reqwest::RequestBuilder) -> Value {
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
    response.json().await.unwrap()
}

fn header<'a>(doc: &'a Value, name: &str) -> Option<&'a str> {
    doc["headers"][name].as_array().and_then(|values| values.first()).and_then(Value::as_str)
}

#[tokio::test]
async fn requests_arrive_without_hop_by_hop_fields_and_with_forwarding_ones() {
    let upstream = Upstream::start("a").await;
    let routes = format!("[[proxy.routes]]\nprefix = \"/api/\"\nupstreams = [\"{}\"]\n", upstream.authority());
    let (app, _dir) = start(&routes).await;
    let request = app
        .client
        .get(app.url("/api/things/1?x=1&y=%20"))
        .header("connection", "keep-alive, X-Foo")
        .header("x-foo", "secret")
        .header("keep-alive", "timeout=5")
        .header("proxy-authorization", "Basic eA==")
        .header("te", "gzip")
        .header("x-forwarded-for", "203.0.113.7")
        .header("x-kept", "yes");
    let doc = echo(request).await;
    assert_eq!(doc["upstream"], "a");
    assert_eq!((doc["path"].as_str(), doc["query"].as_str()), (Some("/api/things/1"), Some("x=1&y=%20")));
    for gone in ["x-foo", "keep-alive", "proxy-authorization", "te"] {
        assert!(header(&doc, gone).is_none(), "{gone} reached the upstream: {doc}");
    }
    assert_eq!(header(&doc, "x-kept"), Some("yes"));
    assert_eq!(header(&doc, "x-forwarded-for"), Some("203.0.113.7, 127.0.0.1"));
    assert_eq!(header(&doc, "x-forwarded-proto"), Some("http"));
    let service_host = app.base.trim_start_matches("http://");
    assert_eq!(header(&doc, "x-forwarded-host"), Some(service_host));
    assert_eq!(header(&doc, "host"), Some(upstream.authority().as_str()));
    assert!(header(&doc, "forwarded").is_some_and(|f| f.contains("for=127.0.0.1") && f.contains("proto=http")));
    assert!(header(&doc, "via").is_some_and(|via| via.contains("1.1 overkill")));
    assert!(header(&doc, "x-request-id").is_some_and(|id| !id.is_empty()));
}

#[tokio::test]
async fn strip_prefix_and_preserve_host_shape_the_upstream_request() {
    let upstream = Upstream::start("a").await;
    let routes = format!(
        "[[proxy.routes]]\nprefix = \"/shop\"\nupstreams = [\"http://{}\"]\nstrip_prefix = true\npreserve_host = true\n",
        upstream.authority()
    );
    let (app, _dir) = start(&routes).await;
    let doc = echo(app.client.get(app.url("/shop/cart?id=3"))).await;
    assert_eq!(doc["path"], "/cart");
    assert_eq!(header(&doc, "host"), Some(app.base.trim_start_matches("http://")));
    let doc = echo(app.client.get(app.url("/shop"))).await;
    assert_eq!(doc["path"], "/");
}

#[tokio::test]
async fn upstream_answers_pass_through_untouched_but_for_hop_by_hop_fields() {
    let upstream = Upstream::start("a").await;
    let routes = format!("[[proxy.routes]]\nprefix = \"/api/\"\nupstreams = [\"{}\"]\n", upstream.authority());
    let (app, _dir) = start(&routes).await;
    let teapot = app.get("/api/status/418").await;
    assert_eq!(teapot.status(), 418);
    assert_eq!(teapot.headers().get("x-upstream-error").map(|v| v.as_bytes()), Some(&b"1"[..]));
    assert_ne!(teapot.headers().get("content-type").map(|v| v.as_bytes()), Some(&b"application/problem+json"[..]));
    assert_eq!(teapot.text().await.unwrap(), "{\"upstream\":\"a\",\"status\":418}");
    let failing = app.get("/api/status/503").await;
    assert_eq!(
        (failing.status().as_u16(), failing.text().await.unwrap()),
        (503, "{\"upstream\":\"a\",\"status\":503}".to_owned())
    );

    let hop = app.get("/api/hop").await;
    for gone in ["x-secret", "keep-alive", "proxy-authenticate"] {
        assert!(hop.headers().get(gone).is_none(), "{gone} reached the client");
    }
    assert_eq!(hop.headers().get("x-kept").map(|v| v.as_bytes()), Some(&b"1"[..]));
    assert!(hop.headers().get("via").and_then(|v| v.to_str().ok()).is_some_and(|via| via.contains("1.1 overkill")));
}

#[tokio::test]
async fn the_longest_prefix_wins_and_a_host_route_beats_one_without() {
    let (a, b, c) = (Upstream::start("a").await, Upstream::start("b").await, Upstream::start("c").await);
    let routes = format!(
        "[[proxy.routes]]\nprefix = \"/api/\"\nupstreams = [\"{}\"]\n\n\
         [[proxy.routes]]\nprefix = \"/api/special/\"\nupstreams = [\"{}\"]\n\n\
         [[proxy.routes]]\nprefix = \"/api/\"\nhost = \"shop.example\"\nupstreams = [\"{}\"]\n",
        a.authority(),
        b.authority(),
        c.authority()
    );
    let (app, _dir) = start(&routes).await;
    assert_eq!(echo(app.client.get(app.url("/api/x"))).await["upstream"], "a");
    assert_eq!(echo(app.client.get(app.url("/api/special/x"))).await["upstream"], "b");
    let for_shop = app.client.get(app.url("/api/x")).header("host", "Shop.Example:8080");
    assert_eq!(echo(for_shop).await["upstream"], "c");
    // Nothing matches: the service's own 404.
    assert_problem(app.get("/elsewhere").await, 404, "not-found").await;
    // The service's own routes are never proxied.
    assert_eq!(app.get("/v1/products").await.status(), 200);
}

#[tokio::test]
async fn round_robin_spreads_and_a_dead_upstream_is_retried_then_ejected() {
    let (a, b) = (Upstream::start("a").await, Upstream::start("b").await);
    let dead = dead_address().await;
    let routes = format!(
        "[[proxy.routes]]\nprefix = \"/api/\"\nupstreams = [\"{}\", \"{}\", \"{dead}\"]\nretries = 2\n",
        a.authority(),
        b.authority()
    );
    let (app, _dir) = start(&routes).await;
    let mut seen = std::collections::BTreeMap::new();
    for _ in 0..30 {
        let doc = echo(app.client.get(app.url("/api/x"))).await;
        *seen.entry(doc["upstream"].as_str().unwrap().to_owned()).or_insert(0) += 1;
    }
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen.values().all(|n| *n >= 10), "spread over both: {seen:?}");
    // A POST is never retried: it may fail on the dead upstream, never hangs.
    let status = app.client.post(app.url("/api/x")).body("x").send().await.unwrap().status().as_u16();
    assert!(status == 200 || status == 502, "{status}");
}

#[tokio::test]
async fn failures_are_the_services_problems_502_503_504() {
    let dead = dead_address().await;
    let routes = format!("[[proxy.routes]]\nprefix = \"/down/\"\nupstreams = [\"{dead}\"]\nretries = 0\n");
    let slow = Upstream::start("slow").await;
    let routes = format!(
        "{routes}\n[[proxy.routes]]\nprefix = \"/slow/\"\nupstreams = [\"{}\"]\nresponse_timeout_ms = 200\n",
        slow.authority()
    );
    let (app, _dir) = start(&routes).await;
    assert_problem(app.get("/down/x").await, 502, "bad-gateway").await;
    // Three failures eject the only upstream: then 503 at once.
    for _ in 0..2 {
        let _ = app.get("/down/x").await;
    }
    let started = Instant::now();
    let response = app.get("/down/x").await;
    assert!(response.headers().contains_key("retry-after"));
    assert_problem(response, 503, "unavailable").await;
    assert!(started.elapsed() < Duration::from_secs(5), "no waiting on a dead pool: {:?}", started.elapsed());

    let started = Instant::now();
    assert_problem(app.get("/slow/slow/3000").await, 504, "gateway-timeout").await;
    assert!(started.elapsed() < Duration::from_millis(2500), "answered after {:?}", started.elapsed());
}

#[tokio::test]
async fn an_upstream_cut_mid_body_aborts_the_response() {
    let upstream = Upstream::start("a").await;
    let routes = format!("[[proxy.routes]]\nprefix = \"/api/\"\nupstreams = [\"{}\"]\n", upstream.authority());
    let (app, _dir) = start(&routes).await;
    // Aborted either before the head (the twin: net/http had not flushed
    // it) or mid-body (the service streams the head at once): never complete.
    match app.client.get(app.url("/api/reset")).send().await {
        Err(_) => {}
        Ok(response) => assert!(response.bytes().await.is_err(), "a truncated body must not look complete"),
    }
}

#[tokio::test]
async fn large_bodies_stream_both_ways() {
    let upstream = Upstream::start("a").await;
    let routes = format!("[[proxy.routes]]\nprefix = \"/api/\"\nupstreams = [\"{}\"]\n", upstream.authority());
    let (app, _dir) = start(&routes).await;
    let size = 64 << 20;
    let doc = echo(app.client.put(app.url("/api/upload")).body(vec![b'u'; size])).await;
    assert_eq!(doc["body_bytes"], size);
    let mut download = app.get(&format!("/api/stream/{size}")).await;
    let mut received = 0;
    while let Some(chunk) = download.chunk().await.unwrap() {
        received += chunk.len();
    }
    assert_eq!(received, size);
}

#[tokio::test]
async fn a_client_that_goes_away_mid_stream_releases_the_upstream_connection() {
    let upstream = Upstream::start("a").await;
    let routes = format!("[[proxy.routes]]\nprefix = \"/api/\"\nupstreams = [\"{}\"]\n", upstream.authority());
    let (app, _dir) = start(&routes).await;
    let mut download = app.get("/api/stream/1073741824").await;
    download.chunk().await.unwrap();
    assert_eq!(upstream.open_connections(), 1);
    drop(download);
    let give_up = Instant::now() + Duration::from_secs(10);
    while upstream.open_connections() > 0 {
        assert!(Instant::now() < give_up, "the upstream connection stayed open");
        // Polling the upstream's connection count, bounded above.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn connect_and_absolute_form_targets_for_other_hosts_are_refused() {
    let upstream = Upstream::start("a").await;
    let routes = format!("[[proxy.routes]]\nprefix = \"/api/\"\nupstreams = [\"{}\"]\n", upstream.authority());
    let (app, _dir) = start(&routes).await;
    let address = app.base.trim_start_matches("http://").to_owned();
    for (head, status) in [
        ("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n".to_owned(), "405"),
        (format!("GET http://example.com/api/x HTTP/1.1\r\nHost: {address}\r\n\r\n"), "400"),
    ] {
        let answer = raw_exchange(&app, &[head.as_bytes()], "\r\n").await;
        assert!(answer.starts_with(&format!("HTTP/1.1 {status}")), "{head:?} → {answer:?}");
    }
    assert_eq!(upstream.accepted_connections(), 0, "nothing reached the upstream");
}

#[tokio::test]
async fn active_checks_eject_a_dead_upstream_and_bring_it_back_when_it_answers() {
    let live = Upstream::start("live").await;
    let dead = dead_address().await;
    let routes = format!(
        "[[proxy.routes]]\nprefix = \"/api/\"\nupstreams = [\"{}\", \"{dead}\"]\nretries = 0\n\
         [proxy.routes.health]\npath = \"/status/200\"\ninterval_ms = 100\ntimeout_ms = 200\n\
         healthy_threshold = 2\nunhealthy_threshold = 2\n",
        live.authority()
    );
    let (app, _dir) = start(&routes).await;
    let metric = |text: &str, upstream: &str| {
        text.lines()
            .find(|line| {
                line.starts_with("proxy_upstream_healthy{") && line.contains(&format!("upstream=\"{upstream}\""))
            })
            .map(|line| line.ends_with(" 1"))
    };
    // Polling the checks' effect, bounded above: no request needed.
    let give_up = Instant::now() + Duration::from_secs(10);
    loop {
        let metrics = app.client.get(app.admin_url("/metrics")).send().await.unwrap().text().await.unwrap();
        if metric(&metrics, &dead) == Some(false) {
            assert_eq!(metric(&metrics, &live.authority()), Some(true));
            break;
        }
        assert!(Instant::now() < give_up, "the dead upstream was never ejected");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for _ in 0..10 {
        assert_eq!(echo(app.client.get(app.url("/api/x"))).await["upstream"], "live");
    }
    // It comes back to life: two passing checks return it to rotation.
    let revived = Upstream::start_at("revived", &dead).await;
    let give_up = Instant::now() + Duration::from_secs(10);
    loop {
        if echo(app.client.get(app.url("/api/x"))).await["upstream"] == "revived" {
            break;
        }
        assert!(Instant::now() < give_up, "the revived upstream never returned");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(revived);
}

/// Writes `writes` on a fresh connection to the service and reads until
/// `until` appears in the answer (ignoring case).
async fn raw_exchange(app: &TestApp, writes: &[&[u8]], until: &str) -> String {
    let address = app.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let mut answer = Vec::new();
    for write in writes {
        stream.write_all(write).await.unwrap();
    }
    let mut buffer = [0; 4096];
    // Field names are case-insensitive: the twins spell them differently.
    while !String::from_utf8_lossy(&answer).to_lowercase().contains(&until.to_lowercase()) {
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buffer)).await.unwrap().unwrap();
        assert!(read > 0, "closed: {}", String::from_utf8_lossy(&answer));
        answer.extend_from_slice(&buffer[..read]);
    }
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn an_upgrade_joins_the_two_connections_until_either_closes() {
    let upstream = Upstream::start("a").await;
    let routes = format!("[[proxy.routes]]\nprefix = \"/ws/\"\nupstreams = [\"{}\"]\n", upstream.authority());
    let (app, _dir) = start(&routes).await;
    let address = app.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!("GET /ws/chat HTTP/1.1\r\nHost: {address}\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0; 1024];
    while !String::from_utf8_lossy(&answer).contains("\r\n\r\n") {
        let read = stream.read(&mut buffer).await.unwrap();
        assert!(read > 0);
        answer.extend_from_slice(&buffer[..read]);
    }
    let head = String::from_utf8_lossy(&answer).to_lowercase();
    assert!(head.starts_with("http/1.1 101") && head.contains("upgrade: echo"), "{head}");
    for message in ["hello", "through the proxy"] {
        stream.write_all(message.as_bytes()).await.unwrap();
        let mut echoed = vec![0; message.len()];
        tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut echoed)).await.unwrap().unwrap();
        assert_eq!(echoed, message.as_bytes());
    }
}

#[tokio::test]
async fn expect_100_continue_is_answered_before_the_body_is_sent() {
    let upstream = Upstream::start("a").await;
    let routes = format!("[[proxy.routes]]\nprefix = \"/api/\"\nupstreams = [\"{}\"]\n", upstream.authority());
    let (app, _dir) = start(&routes).await;
    let address = app.base.trim_start_matches("http://").to_owned();
    let head =
        format!("PUT /api/upload HTTP/1.1\r\nHost: {address}\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut interim = [0; 25];
    tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut interim)).await.unwrap().unwrap();
    assert!(interim.starts_with(b"HTTP/1.1 100 Continue"), "{}", String::from_utf8_lossy(&interim));
    stream.write_all(b"hello").await.unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0; 4096];
    while !String::from_utf8_lossy(&answer).contains("body_bytes") {
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer)).await.unwrap().unwrap();
        assert!(read > 0);
        answer.extend_from_slice(&buffer[..read]);
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.contains("HTTP/1.1 200") && answer.contains("\"body_bytes\":5"), "{answer}");
    // An over-size declared body is refused at once: no 100 Continue.
    let head = format!(
        "PUT /api/upload HTTP/1.1\r\nHost: {address}\r\nContent-Length: 9999999999999\r\nExpect: 100-continue\r\n\r\n"
    );
    let answer = raw_exchange(&app, &[head.as_bytes()], "\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
}

/// nginx (Debian's), serving on a free loopback port with a config that
/// answers every request with what it received; stopped when dropped.
struct Nginx {
    child: std::process::Child,
    address: String,
    _dir: tempfile::TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The nginx binary: `OVERKILL_TEST_NGINX` (scripts/test installs and sets
/// it), else one on this machine. Never skipped: without it the test fails.
fn nginx_binary() -> String {
    std::env::var("OVERKILL_TEST_NGINX")
        .ok()
        .or_else(|| {
            ["/usr/sbin/nginx", "/usr/bin/nginx"]
                .iter()
                .find(|p| std::path::Path::new(p).exists())
                .map(|p| (*p).to_owned())
        })
        .expect("nginx is needed: run scripts/test (it installs nginx-light), or set OVERKILL_TEST_NGINX")
}

async fn start_nginx() -> Nginx {
    let dir = tempfile::tempdir().unwrap();
    let address = dead_address().await;
    let root = dir.path().display();
    let config = format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\npid {root}/nginx.pid;\nerror_log {root}/error.log;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n access_log off;\n client_body_temp_path {root}/body;\n proxy_temp_path {root}/proxy;\n\
          fastcgi_temp_path {root}/fastcgi;\n uwsgi_temp_path {root}/uwsgi;\n scgi_temp_path {root}/scgi;\n\
          server {{\n  listen {address};\n  location / {{\n   default_type text/plain;\n\
           return 200 \"nginx uri=$request_uri host=$host xff=$http_x_forwarded_for via=$http_via foo=$http_x_foo proto=$http_x_forwarded_proto\";\n\
          }}\n }}\n}}\n"
    );
    let path = dir.path().join("nginx.conf");
    std::fs::write(&path, config).unwrap();
    let child = std::process::Command::new(nginx_binary())
        .args(["-p", &root.to_string(), "-c", &path.display().to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("nginx starts");
    // Polling until nginx accepts, bounded above.
    let give_up = Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(&address).await.is_err() {
        assert!(
            Instant::now() < give_up,
            "nginx did not listen on {address}: {:?}",
            std::fs::read_to_string(dir.path().join("error.log"))
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Nginx { child, address, _dir: dir }
}

#[tokio::test]
async fn nginx_as_the_upstream_sees_the_same_hygiene() {
    let nginx = start_nginx().await;
    let routes =
        format!("[[proxy.routes]]\nprefix = \"/ng/\"\nupstreams = [\"{}\"]\nstrip_prefix = true\n", nginx.address);
    let (app, _dir) = start(&routes).await;
    let response = app
        .client
        .get(app.url("/ng/page?q=1"))
        .header("connection", "keep-alive, X-Foo")
        .header("x-foo", "secret")
        .header("x-forwarded-for", "198.51.100.9")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers().get("server").and_then(|v| v.to_str().ok()).map(|s| s.starts_with("nginx")),
        Some(true)
    );
    let body = response.text().await.unwrap();
    let host = nginx.address.split(':').next().unwrap();
    for expected in [
        "uri=/page?q=1",
        &format!("host={host}"),
        "xff=198.51.100.9, 127.0.0.1",
        "via=1.1 overkill",
        "foo= ",
        "proto=http",
    ] {
        assert!(body.contains(expected), "{expected:?} not in {body:?}");
    }
}

#[tokio::test]
async fn http2_clients_reach_http1_upstreams_and_a_stalled_body_is_cut_at_the_idle_timeout() {
    let upstream = Upstream::start("a").await;
    let routes = format!(
        "[[proxy.routes]]\nprefix = \"/api/\"\nupstreams = [\"{}\"]\nidle_timeout_ms = 300\n",
        upstream.authority()
    );
    let (app, _dir) = start(&routes).await;
    let h2 = reqwest::Client::builder().http2_prior_knowledge().build().unwrap();
    let response = h2.get(app.url("/api/over-h2")).send().await.unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    let doc: Value = response.json().await.unwrap();
    assert_eq!(doc["path"], "/api/over-h2");

    // 100 bytes, then silence past the idle timeout: the response is cut.
    let response = app.get("/api/stall/2000").await;
    assert_eq!(response.status(), 200);
    let started = Instant::now();
    assert!(response.bytes().await.is_err(), "a stalled body must not be completed");
    assert!(started.elapsed() < Duration::from_millis(1800), "cut after {:?}", started.elapsed());
    // Within the idle timeout, a pause is fine.
    assert_eq!(app.get("/api/stall/50").await.bytes().await.unwrap().len(), 200);
}

#[tokio::test]
async fn a_load_survives_an_upstream_going_away_and_metrics_count_it() {
    let a = Upstream::start("a").await;
    let b = Upstream::start("b").await;
    let routes = format!(
        "[[proxy.routes]]\nprefix = \"/api/\"\nupstreams = [\"{}\", \"{}\"]\nretries = 1\n",
        a.authority(),
        b.authority()
    );
    let (app, _dir) = start(&routes).await;
    let mut load = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (client, url) = (app.client.clone(), app.url("/api/x"));
        load.spawn(async move {
            let mut statuses = Vec::new();
            for _ in 0..40 {
                statuses.push(client.get(&url).send().await.unwrap().status().as_u16());
            }
            statuses
        });
    }
    // One upstream goes away while the load runs.
    drop(a);
    let mut failed = 0;
    while let Some(statuses) = load.join_next().await {
        failed += statuses.unwrap().iter().filter(|s| **s != 200).count();
    }
    assert_eq!(failed, 0, "GETs fail over to the upstream still there");
    let metrics = app.client.get(app.admin_url("/metrics")).send().await.unwrap().text().await.unwrap();
    let series = |name: &str, labels: &[&str]| {
        metrics.lines().any(|l| l.starts_with(name) && labels.iter().all(|x| l.contains(x)))
    };
    assert!(series("proxy_requests_total{", &["route=\"0:/api/\"", "class=\"2xx\""]), "{metrics}");
    assert!(series("proxy_request_duration_seconds", &["route=\"0:/api/\""]), "{metrics}");
    assert!(series("proxy_upstream_healthy{", &[&format!("upstream=\"{}\"", b.authority())]), "{metrics}");
}

#[tokio::test]
async fn trailers_pass_through_to_a_client_that_accepts_them() {
    let upstream = Upstream::start("a").await;
    let routes = format!("[[proxy.routes]]\nprefix = \"/api/\"\nupstreams = [\"{}\"]\n", upstream.authority());
    let (app, _dir) = start(&routes).await;
    let address = app.base.trim_start_matches("http://").to_owned();
    let head = format!("GET /api/trailers HTTP/1.1\r\nHost: {address}\r\nTE: trailers\r\nConnection: close\r\n\r\n");
    let answer = raw_exchange(&app, &[head.as_bytes()], "5d41402a").await.to_lowercase();
    assert!(answer.contains("transfer-encoding: chunked") && answer.contains("hello"), "{answer}");
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    assert!(body.contains("0\r\nx-checksum: 5d41402a"), "the trailer follows the last chunk: {answer}");
}
