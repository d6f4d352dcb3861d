//! The policy and the cache against a real provider over loopback: the
//! Frankfurter simulator (`crates/fx-sim`), with the knobs its faults need.
//! The attempt here is a plain reqwest GET; the service's FX client will be
//! the production one.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use fx_sim::{Knobs, KnobsPatch};
use outbound::breaker::{BreakerSettings, BreakerState};
use outbound::cache::{Cache, Freshness};
use outbound::{AttemptError, CallError, Fault, Policy, Settings};
use tokio::task::JoinSet;
use tokio::time::Instant;

fn settings(per_second: f64, burst: u32) -> Settings {
    Settings {
        name: "fx-sim",
        attempt_timeout: Duration::from_secs(2),
        max_attempts: 3,
        retry_budget_ratio: 0.2,
        backoff_base: Duration::from_millis(50),
        backoff_max: Duration::from_secs(1),
        quota_per_second: per_second,
        quota_burst: burst,
        max_in_flight: 64,
        breaker: BreakerSettings {
            failure_rate: 0.5,
            min_calls: 5,
            window: Duration::from_secs(10),
            open_for: Duration::from_secs(3),
        },
    }
}

/// One GET of a rate, classified as the policy wants it.
async fn get_rate(client: reqwest::Client, url: String) -> Result<String, AttemptError> {
    let response = client.get(url).send().await.map_err(|_| AttemptError { fault: Fault::Connect, wait: None })?;
    let status = response.status().as_u16();
    let wait = outbound::wait::requested(response.headers(), std::time::SystemTime::now());
    if status != 200 {
        return Err(AttemptError { fault: Fault::Status(status), wait });
    }
    response.text().await.map_err(|_| AttemptError { fault: Fault::Malformed, wait: None })
}

#[tokio::test]
async fn a_hundred_concurrent_misses_make_one_provider_call() {
    let simulator = fx_sim::spawn(Knobs { latency_ms: 50, ..Knobs::default() }).await;
    let policy = Arc::new(Policy::new(settings(50.0, 50)));
    let cache: Arc<Cache<&str, String, CallError>> =
        Arc::new(Cache::new("fx-sim", Duration::from_secs(60), Duration::from_secs(600), 100));
    let client = reqwest::Client::new();
    let url = format!("{}/v2/rate/USD/EUR", simulator.url());
    let mut callers = JoinSet::new();
    for _ in 0..100 {
        let (policy, cache, client, url) = (policy.clone(), cache.clone(), client.clone(), url.clone());
        callers.spawn(async move {
            let fetch = move || async move {
                let deadline = Instant::now() + Duration::from_secs(5);
                policy.call(deadline, true, |_| get_rate(client.clone(), url.clone())).await
            };
            cache.get(&"USD/EUR", fetch).await
        });
    }
    while let Some(answer) = callers.join_next().await {
        let (body, freshness) = answer.unwrap().unwrap();
        assert!(body.contains("\"quote\":\"EUR\""), "{body}");
        assert_eq!(freshness, Freshness::Live);
    }
    assert_eq!(simulator.stats().calls, 1, "one upstream call for 100 callers");
}

#[tokio::test]
async fn load_far_above_the_quota_never_goes_over_it() {
    // The provider allows 20/s with a burst of 12; the client keeps to
    // 20/s with a burst of 10 (a little under, as a client should).
    let simulator = fx_sim::spawn(Knobs { quota_per_second: 20, quota_burst: 12, ..Knobs::default() }).await;
    let policy = Arc::new(Policy::new(settings(20.0, 10)));
    let client = reqwest::Client::new();
    let url = format!("{}/v2/rate/USD/GBP", simulator.url());
    let (mut ok, mut refused, mut late) = (0_u64, 0_u64, 0_u64);
    let started = Instant::now();
    // 300 calls over 1.5 s: ten times what the quota allows.
    let mut callers = JoinSet::new();
    for n in 0..300_u64 {
        let (policy, client, url) = (policy.clone(), client.clone(), url.clone());
        callers.spawn(async move {
            tokio::time::sleep(Duration::from_millis(n * 5)).await;
            let deadline = Instant::now() + Duration::from_millis(200);
            policy.call(deadline, true, |_| get_rate(client.clone(), url.clone())).await
        });
    }
    while let Some(result) = callers.join_next().await {
        match result.unwrap() {
            Ok(_) => ok += 1,
            Err(CallError::Quota { .. } | CallError::Bulkhead) => refused += 1,
            // A token near the deadline leaves the attempt no time: it may
            // or may not have reached the provider.
            Err(CallError::Failed { fault: Fault::Timeout, .. }) => late += 1,
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    let stats = simulator.stats();
    assert_eq!(stats.over_quota, 0, "the provider never saw a call over its quota");
    assert!((ok..=ok + late).contains(&stats.calls), "{} calls seen, {ok} answered, {late} late", stats.calls);
    let elapsed = started.elapsed().as_secs_f64();
    assert!(ok as f64 <= 10.0 + 20.0 * elapsed + 1.0, "{ok} calls in {elapsed:.2} s");
    assert!(refused > 200, "{refused} refused at once");
}

#[tokio::test]
async fn failures_open_the_breaker_and_a_probe_closes_it_once_the_provider_heals() {
    let simulator = fx_sim::spawn(Knobs { error_rate: 1.0, ..Knobs::default() }).await;
    let policy = Policy::new(Settings { max_attempts: 1, ..settings(100.0, 100) });
    let client = reqwest::Client::new();
    let url = format!("{}/v2/rate/USD/JPY", simulator.url());
    let call = || policy.call(Instant::now() + Duration::from_secs(2), true, |_| get_rate(client.clone(), url.clone()));
    for _ in 0..5 {
        assert!(matches!(call().await, Err(CallError::Failed { .. })));
    }
    assert_eq!(policy.breaker_state(), BreakerState::Open);
    let seen = simulator.stats().calls;
    for _ in 0..20 {
        assert!(matches!(call().await, Err(CallError::BreakerOpen { .. })));
    }
    assert_eq!(simulator.stats().calls, seen, "no call reached the provider while open");

    simulator.set(KnobsPatch { error_rate: Some(0.0), ..KnobsPatch::default() }).unwrap();
    let reopens = match call().await {
        Err(CallError::BreakerOpen { until }) => until,
        other => panic!("still open: {other:?}"),
    };
    tokio::time::sleep_until(reopens).await; // the breaker's own reopening time: the wait is the test
    assert!(call().await.is_ok(), "the half-open probe succeeds");
    assert_eq!(policy.breaker_state(), BreakerState::Closed);
    assert_eq!(simulator.stats().calls, seen + 1);
}
