//! The knobs and counters over real HTTP.
//!
//! Tests that involve time run on tokio's paused clock: the simulator's
//! bucket, latency and outages use tokio's clock, so `advance` (or the
//! clock's auto-advance while everything waits) moves them exactly.

mod common;

use std::time::Duration;

use common::{get, header, json_of, set};
use fx_sim::{Knobs, Malformed, Stats, spawn};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::time::Instant;

#[tokio::test(start_paused = true)]
async fn past_the_quota_calls_get_429_with_retry_after_and_ratelimit_headers() {
    let simulator = spawn(Knobs { quota_per_second: 2, quota_burst: 3, ..Knobs::default() }).await;
    for remaining in [2, 1, 0] {
        let response = get(&simulator, "/v2/rate/USD/EUR").await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, "ratelimit-policy"), Some("\"fx-sim\";q=2;w=1;fx-sim-burst=3"));
        let limit = format!("\"fx-sim\";r={remaining};t=1");
        assert_eq!(header(&response, "ratelimit"), Some(limit.as_str()));
    }
    let refused = get(&simulator, "/v2/rate/USD/EUR").await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&refused, "retry-after"), Some("1"));
    assert_eq!(header(&refused, "ratelimit"), Some("\"fx-sim\";r=0;t=1"));
    assert_eq!(header(&refused, "ratelimit-policy"), Some("\"fx-sim\";q=2;w=1;fx-sim-burst=3"));
    assert_eq!(json_of(refused).await["status"], 429);

    // Half a second refills one token at 2/s: one call passes, the next not.
    tokio::time::advance(Duration::from_millis(500)).await;
    assert_eq!(get(&simulator, "/v2/rates").await.status(), StatusCode::OK);
    assert_eq!(get(&simulator, "/v2/currencies").await.status(), StatusCode::TOO_MANY_REQUESTS);

    let stats = simulator.stats();
    assert_eq!((stats.calls, stats.over_quota), (6, 2));
    // Control routes are never limited or counted.
    let control = get(&simulator, "/_stats").await;
    assert_eq!(control.status(), StatusCode::OK);
    assert_eq!(header(&control, "ratelimit"), None);
    assert_eq!(simulator.stats().calls, 6);
}

#[tokio::test(start_paused = true)]
async fn a_quota_changed_at_run_time_starts_full() {
    let simulator = spawn(Knobs::default()).await;
    let response = get(&simulator, "/v2/rates").await;
    assert_eq!(header(&response, "ratelimit"), None, "no quota, no headers");
    set(&simulator, json!({"quota_per_second": 1}));
    assert_eq!(get(&simulator, "/v2/rates").await.status(), StatusCode::OK);
    assert_eq!(get(&simulator, "/v2/rates").await.status(), StatusCode::TOO_MANY_REQUESTS);
    set(&simulator, json!({"quota_per_second": 0}));
    assert_eq!(get(&simulator, "/v2/rates").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn stats_count_concurrent_calls_exactly() {
    let simulator = spawn(Knobs { quota_per_second: 1, quota_burst: 40, ..Knobs::default() }).await;
    let client = reqwest::Client::new();
    let calls = (0..100).map(|i| {
        let path = match i % 4 {
            0 => "/v2/rates?base=USD".to_owned(),
            1 => "/v2/rate/USD/EUR".to_owned(),
            2 => "/v2/currencies".to_owned(),
            _ => format!("/nowhere/{i}"),
        };
        let request = client.get(format!("{}{path}", simulator.url()));
        async move { request.send().await.map(|r| r.status()) }
    });
    let statuses = futures_join_all(calls).await;
    let refused = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    // 40 from the burst, plus one a second refilled while the calls ran.
    assert!((50..=60).contains(&refused), "{refused}");
    let stats = simulator.stats();
    assert_eq!(stats.calls, 100);
    assert_eq!(stats.over_quota, refused as u64);
    for key in ["/v2/rates", "/v2/rate/{base}/{quote}", "/v2/currencies", "other"] {
        assert_eq!(stats.by_path.get(key), Some(&25), "{key}");
    }

    // Over HTTP, the same numbers; reset zeroes them.
    let over_http: Stats = get(&simulator, "/_stats").await.json().await.unwrap_or_default();
    assert_eq!(over_http, stats);
    let reset = client.post(format!("{}/_stats/reset", simulator.url())).send().await;
    assert_eq!(reset.map(|r| r.status()).ok(), Some(StatusCode::NO_CONTENT));
    assert_eq!(simulator.stats().calls, 0);
}

/// Runs the futures concurrently and collects their successful outputs.
async fn futures_join_all<F, T, E>(futures: impl IntoIterator<Item = F>) -> Vec<T>
where
    F: std::future::Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    let tasks: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut outputs = Vec::new();
    for task in tasks {
        match task.await {
            Ok(Ok(output)) => outputs.push(output),
            Ok(Err(error)) => panic!("call failed: {error}"),
            Err(error) => panic!("task failed: {error}"),
        }
    }
    outputs
}

#[tokio::test]
async fn the_error_rate_is_deterministic_and_switches_at_run_time() {
    let simulator = spawn(Knobs { error_rate: 1.0, ..Knobs::default() }).await;
    let mut statuses = Vec::new();
    for _ in 0..20 {
        let response = get(&simulator, "/v2/rate/USD/EUR").await;
        let status = response.status();
        match status {
            StatusCode::INTERNAL_SERVER_ERROR => assert_eq!(header(&response, "retry-after"), None),
            StatusCode::SERVICE_UNAVAILABLE => assert_eq!(header(&response, "retry-after"), Some("1")),
            other => panic!("{other}"),
        }
        statuses.push(status);
    }
    assert!(statuses.contains(&StatusCode::INTERNAL_SERVER_ERROR));
    assert!(statuses.contains(&StatusCode::SERVICE_UNAVAILABLE));
    assert_eq!(simulator.stats().errors, 20);

    // Healthy again at run time.
    set(&simulator, json!({"error_rate": 0.0}));
    assert_eq!(get(&simulator, "/v2/rate/USD/EUR").await.status(), StatusCode::OK);

    // A share, replayed exactly from the same seed after a reset.
    set(&simulator, json!({"error_rate": 0.3, "seed": 42}));
    let mut runs = Vec::new();
    for _ in 0..2 {
        simulator.reset_stats();
        let mut run = Vec::new();
        for _ in 0..200 {
            run.push(get(&simulator, "/v2/rates?quotes=EUR").await.status());
        }
        runs.push(run);
    }
    assert_eq!(runs[0], runs[1]);
    let failed = runs[0].iter().filter(|s| **s != StatusCode::OK).count();
    assert!((40..=80).contains(&failed), "{failed} of 200 at 30 %");
}

#[tokio::test]
async fn malformed_modes_spoil_answers_as_they_say() {
    let simulator = spawn(Knobs::default()).await;
    let good = json_of(get(&simulator, "/v2/rate/USD/EUR").await).await;
    let good_rate = good["rate"].as_f64().unwrap_or_default();
    let body = async |mode: &str, path: &str| {
        set(&simulator, json!({"malformed": mode}));
        let response = get(&simulator, path).await;
        assert_eq!(response.status(), StatusCode::OK, "{mode}");
        assert_eq!(header(&response, "content-type"), Some("application/json; charset=utf-8"));
        response.text().await.unwrap_or_else(|e| panic!("{mode}: {e}"))
    };

    let text = body("bad_json", "/v2/rate/USD/EUR").await;
    assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");

    let text = body("negative_rate", "/v2/rate/USD/EUR").await;
    let row: Value = serde_json::from_str(&text).unwrap_or_default();
    assert_eq!(row["rate"].as_f64(), Some(-good_rate));

    let text = body("nan_rate", "/v2/rates?base=USD&quotes=EUR").await;
    assert!(text.contains(r#""rate":NaN"#), "{text}");
    assert!(serde_json::from_str::<Value>(&text).is_err());

    let text = body("wrong_pair", "/v2/rate/USD/EUR").await;
    let row: Value = serde_json::from_str(&text).unwrap_or_default();
    assert_eq!((&row["base"], &row["quote"]), (&json!("EUR"), &json!("USD")));
    let text = body("wrong_pair", "/v2/rate/USD/USD").await;
    let row: Value = serde_json::from_str(&text).unwrap_or_default();
    assert_ne!(row["quote"], "USD");

    let text = body("bad_date", "/v2/rates?base=USD&quotes=EUR").await;
    let rows: Value = serde_json::from_str(&text).unwrap_or_default();
    assert_eq!(rows[0]["date"], "27/11/2026");

    set(&simulator, json!({"malformed": "none"}));
    assert_eq!(json_of(get(&simulator, "/v2/rate/USD/EUR").await).await, good);
}

#[tokio::test]
async fn truncated_answers_announce_more_than_they_send() {
    let simulator = spawn(Knobs { malformed: Malformed::Truncated, ..Knobs::default() }).await;
    let response = get(&simulator, "/v2/rates?base=USD").await;
    assert_eq!(response.status(), StatusCode::OK);
    let announced = response.content_length().unwrap_or_default();
    assert!(announced > 100, "{announced}");
    assert!(response.bytes().await.is_err(), "the body must end early");
    // The simulator still serves the next call.
    set(&simulator, json!({"malformed": "none"}));
    assert_eq!(get(&simulator, "/v2/rates").await.status(), StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn the_black_hole_holds_calls_until_the_client_gives_up() {
    let simulator = spawn(Knobs { black_hole: true, ..Knobs::default() }).await;
    let client = reqwest::Client::new();
    let started = Instant::now();
    let held = client.get(format!("{}/v2/rate/USD/EUR", simulator.url())).timeout(Duration::from_secs(30)).send().await;
    assert!(held.as_ref().is_err_and(reqwest::Error::is_timeout), "{held:?}");
    assert!(started.elapsed() >= Duration::from_secs(30));
    let stats = simulator.stats();
    assert_eq!((stats.calls, stats.black_holed), (1, 1));

    // Control still answers while calls are held; switched off, calls are
    // answered again.
    let control = client.get(format!("{}/_control", simulator.url())).send().await;
    assert_eq!(control.map(|r| r.status()).ok(), Some(StatusCode::OK));
    set(&simulator, json!({"black_hole": false}));
    assert_eq!(get(&simulator, "/v2/rate/USD/EUR").await.status(), StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn a_held_call_is_released_when_the_simulator_stops() {
    let simulator = spawn(Knobs { black_hole: true, ..Knobs::default() }).await;
    let url = format!("{}/v2/rates", simulator.url());
    let held = tokio::spawn(async move { reqwest::get(url).await.map(|r| r.status()) });
    while simulator.stats().black_holed == 0 {
        tokio::task::yield_now().await;
    }
    assert!(!held.is_finished());
    let stopped = tokio::time::timeout(Duration::from_secs(5), simulator.shutdown()).await;
    assert!(matches!(stopped, Ok(Ok(()))), "{stopped:?}");
    let status = held.await.ok().and_then(Result::ok);
    assert_eq!(status, Some(StatusCode::SERVICE_UNAVAILABLE));
}

#[tokio::test(start_paused = true)]
async fn outages_answer_503_steadily_or_in_windows() {
    let simulator = spawn(Knobs { outage: true, ..Knobs::default() }).await;
    let response = get(&simulator, "/v2/rates").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(header(&response, "retry-after"), None);

    // Down for the first 200 ms of every second since start.
    set(&simulator, json!({"outage": false, "outage_every_ms": 1000, "outage_for_ms": 200}));
    assert_eq!(get(&simulator, "/v2/rates").await.status(), StatusCode::SERVICE_UNAVAILABLE);
    tokio::time::advance(Duration::from_millis(300)).await;
    assert_eq!(get(&simulator, "/v2/rates").await.status(), StatusCode::OK);
    tokio::time::advance(Duration::from_millis(750)).await;
    assert_eq!(get(&simulator, "/v2/rates").await.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(simulator.stats().outages, 3);
}

#[tokio::test(start_paused = true)]
async fn latency_and_jitter_delay_answers() {
    let simulator = spawn(Knobs { latency_ms: 2_000, jitter_ms: 500, ..Knobs::default() }).await;
    for _ in 0..5 {
        let started = Instant::now();
        assert_eq!(get(&simulator, "/v2/rates").await.status(), StatusCode::OK);
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(2_000) && took <= Duration::from_millis(2_600), "{took:?}");
    }
}

#[tokio::test]
async fn the_control_endpoint_merges_and_validates_knobs() {
    let simulator = spawn(Knobs::default()).await;
    let client = reqwest::Client::new();
    let control = format!("{}/_control", simulator.url());
    let response = client.post(&control).json(&json!({"latency_ms": 5, "malformed": "bad_date"})).send().await;
    let knobs: Knobs = match response {
        Ok(response) => response.json().await.unwrap_or_default(),
        Err(error) => panic!("{error}"),
    };
    assert_eq!((knobs.latency_ms, knobs.malformed), (5, Malformed::BadDate));
    assert_eq!(simulator.knobs(), knobs);
    let read: Knobs = match client.get(&control).send().await {
        Ok(response) => response.json().await.unwrap_or_default(),
        Err(error) => panic!("{error}"),
    };
    assert_eq!(read, knobs);

    for (body, text) in [
        (json!({"error_rate": 2}), "error_rate: must be between 0 and 1"),
        (json!({"speed": 1}), ""),
        (json!({"malformed": "sideways"}), ""),
    ] {
        let response = client.post(&control).json(&body).send().await;
        let response = response.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let message = json_of(response).await["message"].as_str().map(str::to_owned).unwrap_or_default();
        assert!(message.contains(text), "{message}");
    }
    assert_eq!(simulator.knobs(), knobs, "refused patches change nothing");
    assert_eq!(simulator.stats().calls, 0, "control calls are not counted");
}

#[tokio::test(start_paused = true)]
async fn a_call_over_quota_counts_even_when_its_client_leaves_early() {
    let simulator = spawn(Knobs { quota_per_second: 1, latency_ms: 10_000, ..Knobs::default() }).await;
    let client = reqwest::Client::new();
    for _ in 0..2 {
        let call = client.get(format!("{}/v2/rates", simulator.url())).timeout(Duration::from_millis(100)).send().await;
        assert!(call.is_err_and(|e| e.is_timeout()));
    }
    let stats = simulator.stats();
    assert_eq!((stats.calls, stats.over_quota), (2, 1));
}
