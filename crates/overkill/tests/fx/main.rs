//! Prices in any currency, black-box: each test starts its own Frankfurter
//! simulator (`crates/fx-sim`, a real HTTP server on loopback) and its own
//! service pointed at it, configured by `OVERKILL_FX_*` variables — in this
//! process, or the Go twin's binary in twin mode (see
//! `support::spawn_with_env`). The simulator counts every call it gets, so
//! the tests count what reached the provider.

#![allow(clippy::unwrap_used)]

#[path = "../support/mod.rs"]
mod support;

use std::time::Duration;

use fx_sim::{Knobs, KnobsPatch, Malformed, Simulator};
use serde_json::{Value, json};
use support::{TestApp, assert_problem, spawn_with_env, unique};
use tokio::task::JoinSet;
use tokio::time::Instant;

/// A simulator with `knobs`, and a service using it with `settings` on top
/// of test defaults (a generous quota, the breaker out of the way).
async fn start(knobs: Knobs, settings: &[(&str, &str)]) -> (Simulator, TestApp) {
    let simulator = fx_sim::spawn(knobs).await;
    let mut env = vec![
        ("OVERKILL_FX_URL", simulator.url()),
        ("OVERKILL_FX_QUOTA_PER_SECOND", "1000".to_owned()),
        ("OVERKILL_FX_QUOTA_BURST", "1000".to_owned()),
        ("OVERKILL_FX_BREAKER_MIN_CALLS", "1000".to_owned()),
    ];
    for (key, value) in settings {
        env.retain(|(existing, _)| existing != key);
        env.push((key, (*value).to_owned()));
    }
    let app = spawn_with_env(&env).await;
    (simulator, app)
}

/// Creates a product priced `price_minor` in `currency`, named `name`.
async fn product(app: &TestApp, name: &str, price_minor: i64, currency: &str) -> Value {
    let body =
        json!({"sku": unique("FX-"), "name": name, "price_minor": price_minor, "currency": currency, "stock": 1});
    app.create_ok(&body).await
}

/// The provider's rate for one pair, as the number's own text.
async fn provider_rate(simulator: &Simulator, base: &str, quote: &str) -> String {
    let url = format!("{}/v2/rate/{base}/{quote}", simulator.url());
    let body = reqwest::get(url).await.unwrap().text().await.unwrap();
    let start = body.find("\"rate\":").unwrap() + "\"rate\":".len();
    body[start..].trim_end_matches('}').to_owned()
}

/// `price_minor` × `rate` × 10^(`to_exp` − `from_exp`), rounded half to
/// even, computed from the rate's decimal text — independently of the
/// service's own arithmetic.
fn expected(price_minor: i64, from_exp: i32, to_exp: i32, rate: &str) -> i64 {
    let (number, exponent) = match rate.split_once(['e', 'E']) {
        Some((number, exponent)) => (number, exponent.parse::<i32>().unwrap()),
        None => (rate, 0),
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits: u128 = format!("{whole}{fraction}").parse().unwrap();
    let shift = to_exp - from_exp + exponent - fraction.len() as i32;
    let product = price_minor as u128 * digits;
    if shift >= 0 {
        return (product * 10_u128.pow(shift as u32)) as i64;
    }
    let divisor = 10_u128.pow((-shift) as u32);
    let (quotient, remainder) = (product / divisor, product % divisor);
    let rounded = match (remainder * 2).cmp(&divisor) {
        std::cmp::Ordering::Greater => quotient + 1,
        std::cmp::Ordering::Equal => quotient + (quotient & 1),
        std::cmp::Ordering::Less => quotient,
    };
    rounded as i64
}

/// The canonical text of a rate: plain decimal, no trailing zeros.
fn canonical(rate: &str) -> String {
    let (number, exponent) = match rate.split_once(['e', 'E']) {
        Some((number, exponent)) => (number, exponent.parse::<i32>().unwrap()),
        None => (rate, 0),
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits = format!("{whole}{fraction}");
    let point = whole.len() as i32 + exponent;
    let text = if point <= 0 {
        format!("0.{}{digits}", "0".repeat((-point) as usize))
    } else if point as usize >= digits.len() {
        format!("{digits}{}", "0".repeat(point as usize - digits.len()))
    } else {
        format!("{}.{}", &digits[..point as usize], &digits[point as usize..])
    };
    let text = text.trim_start_matches('0');
    let text = if text.starts_with('.') || text.is_empty() { format!("0{text}") } else { text.to_owned() };
    if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_owned() } else { text }
}

async fn get_json(app: &TestApp, path: &str) -> Value {
    let response = app.get(path).await;
    assert_eq!(response.status(), 200, "{path}: {:?}", response.text().await);
    response.json().await.unwrap()
}

async fn readiness(app: &TestApp) -> Value {
    let response = app.client.get(app.admin_url("/readyz")).send().await.unwrap();
    assert_eq!(response.status(), 200, "the service stays ready whatever the provider does");
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_product_and_a_page_are_converted_exactly_with_one_call_per_source_currency() {
    let (simulator, app) = start(Knobs::default(), &[]).await;
    let name = unique("fx-page-");
    let eur = product(&app, &name, 1999, "EUR").await;
    product(&app, &name, 500, "JPY").await;
    product(&app, &name, 1234, "KWD").await;
    product(&app, &name, 777, "EUR").await;
    let rates = [
        ("EUR", 2, provider_rate(&simulator, "EUR", "USD").await),
        ("JPY", 0, provider_rate(&simulator, "JPY", "USD").await),
        ("KWD", 3, provider_rate(&simulator, "KWD", "USD").await),
    ];
    simulator.reset_stats();

    let page = get_json(&app, &format!("/v1/products?q={name}&currency=USD&sort=price")).await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 4);
    for item in items {
        let (_, exponent, rate) = rates.iter().find(|(code, _, _)| item["currency"] == *code).unwrap();
        let price = item["price_minor"].as_i64().unwrap();
        let converted = &item["converted"];
        assert_eq!(converted["currency"], "USD", "{item}");
        assert_eq!(converted["rate"], canonical(rate), "{item}");
        assert_eq!(converted["amount_minor"], expected(price, *exponent, 2, rate), "{item}");
        assert_eq!(converted["rate_date"], "2026-11-27", "{item}");
        assert_eq!(converted["source"], "live", "{item}");
    }
    assert_eq!(simulator.stats().calls, 3, "one provider call per source currency, not per item");

    // The same rate again: from the cache, no call; without `currency`, no
    // conversion and the ETag is back.
    let one = app.get(&format!("/v1/products/{}?currency=USD", eur["id"])).await;
    assert_eq!(one.status(), 200);
    assert!(one.headers().get("etag").is_none(), "a converted view changes with the rate: no ETag");
    let one: Value = one.json().await.unwrap();
    assert_eq!(one["converted"]["source"], "cached");
    assert_eq!(one["converted"]["amount_minor"], expected(1999, 2, 2, &rates[0].2));
    let plain = app.get(&format!("/v1/products/{}", eur["id"])).await;
    assert!(plain.headers().get("etag").is_some());
    assert!(plain.json::<Value>().await.unwrap().get("converted").is_none());

    // Same currency: rate 1, no call.
    let same = get_json(&app, &format!("/v1/products/{}?currency=EUR", eur["id"])).await;
    assert_eq!(same["converted"]["rate"], "1");
    assert_eq!(same["converted"]["amount_minor"], 1999);
    assert_eq!(simulator.stats().calls, 3);
}

#[tokio::test]
async fn minor_units_follow_each_currency_and_round_half_to_even() {
    let (simulator, app) = start(Knobs::default(), &[]).await;
    let name = unique("fx-units-");
    // Prices chosen so the exact results carry fractions of a minor unit.
    let cases = [("EUR", 2, 12_345, "JPY", 0), ("USD", 2, 99_999, "KWD", 3), ("JPY", 0, 1_000_000_000_000, "EUR", 2)];
    for (from, from_exp, price, to, to_exp) in cases {
        let created = product(&app, &name, price, from).await;
        let rate = provider_rate(&simulator, from, to).await;
        let got = get_json(&app, &format!("/v1/products/{}?currency={to}", created["id"])).await;
        assert_eq!(got["converted"]["amount_minor"], expected(price, from_exp, to_exp, &rate), "{from}→{to} at {rate}");
    }
}

#[tokio::test]
async fn a_hundred_concurrent_requests_for_an_uncached_currency_make_one_provider_call() {
    let (simulator, app) = start(Knobs { latency_ms: 200, ..Knobs::default() }, &[]).await;
    let created = product(&app, &unique("fx-herd-"), 1000, "GBP").await;
    let path = format!("/v1/products/{}?currency=SEK", created["id"]);
    let mut requests = JoinSet::new();
    for _ in 0..100 {
        let (client, url) = (app.client.clone(), app.url(&path));
        requests.spawn(async move { client.get(url).send().await.unwrap().status() });
    }
    while let Some(status) = requests.join_next().await {
        assert_eq!(status.unwrap(), 200);
    }
    assert_eq!(simulator.stats().calls, 1, "concurrent misses for one currency share one provider call");
}

#[tokio::test]
async fn fx_rates_lists_quotes_in_order_from_one_lookup() {
    let (simulator, app) = start(Knobs::default(), &[]).await;
    let eur = provider_rate(&simulator, "USD", "EUR").await;
    let jpy = provider_rate(&simulator, "USD", "JPY").await;
    simulator.reset_stats();
    let body = get_json(&app, "/v1/fx/rates?base=USD&quotes=JPY,USD,EUR").await;
    assert_eq!(body["base"], "USD");
    let rates = body["rates"].as_array().unwrap();
    let quotes: Vec<_> = rates.iter().map(|r| r["quote"].as_str().unwrap()).collect();
    assert_eq!(quotes, ["JPY", "USD", "EUR"]);
    assert_eq!(rates[0]["rate"], canonical(&jpy));
    assert_eq!(rates[1]["rate"], "1");
    assert_eq!(rates[2]["rate"], canonical(&eur));
    assert_eq!(rates[2]["rate_date"], "2026-11-27");
    assert_eq!(simulator.stats().calls, 1);
    let again = get_json(&app, "/v1/fx/rates?base=USD&quotes=EUR").await;
    assert_eq!(again["rates"][0]["source"], "cached");
    // A parameter given twice: the last value counts, as for every parameter.
    let last = get_json(&app, "/v1/fx/rates?base=GBP&quotes=GBP&base=USD&quotes=EUR").await;
    assert_eq!((&last["base"], &last["rates"][0]["quote"]), (&json!("USD"), &json!("EUR")));

    for (query, fields) in [
        ("quotes=EUR", vec!["base"]),
        ("base=USD", vec!["quotes"]),
        ("base=usd&quotes=EUR", vec!["base"]),
        ("base=USD&quotes=EUR,EUR", vec!["quotes"]),
        ("base=USD&quotes=EUR,", vec!["quotes"]),
        ("base=USD&quotes=XXX", vec!["quotes"]),
        ("base=USD&quotes=", vec!["quotes"]),
        (
            "base=USD&quotes=AUD,BGN,BRL,CAD,CHF,CNY,CZK,DKK,EUR,GBP,HKD,HUF,IDR,ILS,INR,ISK,JPY,KRW,MXN,MYR,NOK",
            vec!["quotes"],
        ),
        ("base=USD&quotes=EUR&symbols=GBP", vec!["symbols"]),
    ] {
        let problem = assert_problem(app.get(&format!("/v1/fx/rates?{query}")).await, 400, "invalid-parameter").await;
        let named: Vec<_> =
            problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert_eq!(named, fields, "{query}");
    }
    // Real currencies the provider does not quote: as a quote, and as a base.
    assert_problem(app.get("/v1/fx/rates?base=USD&quotes=EUR,AFN").await, 422, "fx-unsupported-currency").await;
    assert_problem(app.get("/v1/fx/rates?base=AFN&quotes=EUR").await, 422, "fx-unsupported-currency").await;
}

#[tokio::test]
async fn a_bad_currency_is_400_and_without_one_the_provider_is_never_called() {
    let (simulator, app) = start(Knobs { black_hole: true, ..Knobs::default() }, &[]).await;
    let name = unique("fx-bad-");
    let created = product(&app, &name, 1000, "EUR").await;
    for code in ["eur", "XXX", "EURO", ""] {
        let one = app.get(&format!("/v1/products/{}?currency={code}", created["id"])).await;
        let problem = assert_problem(one, 400, "invalid-parameter").await;
        assert_eq!(problem["errors"][0]["field"], "currency", "{code:?}");
        let page = app.get(&format!("/v1/products?q={name}&currency={code}")).await;
        assert_problem(page, 400, "invalid-parameter").await;
    }
    // The provider never answers, yet products without `currency` are served.
    get_json(&app, &format!("/v1/products/{}", created["id"])).await;
    get_json(&app, &format!("/v1/products?q={name}")).await;
    assert_eq!(simulator.stats().calls, 0);
    assert_eq!(readiness(&app).await["fx"], json!({"enabled": true, "breaker": "closed"}));
}

#[tokio::test]
async fn conversion_turned_off_is_422_fx_disabled() {
    let (simulator, app) = start(Knobs::default(), &[("OVERKILL_FX_URL", "off")]).await;
    let name = unique("fx-off-");
    let created = product(&app, &name, 1000, "EUR").await;
    for path in [
        format!("/v1/products/{}?currency=USD", created["id"]),
        format!("/v1/products/{}?currency=EUR", created["id"]),
        format!("/v1/products?q={name}&currency=USD"),
        "/v1/fx/rates?base=USD&quotes=EUR".to_owned(),
        // Checked before the product is looked up.
        "/v1/products/9223372036854775807?currency=USD".to_owned(),
    ] {
        assert_problem(app.get(&path).await, 422, "fx-disabled").await;
    }
    get_json(&app, &format!("/v1/products/{}", created["id"])).await;
    assert_eq!(simulator.stats().calls, 0);
    assert_eq!(readiness(&app).await["fx"], json!({"enabled": false}));
}

#[tokio::test]
async fn in_an_outage_a_cached_rate_is_served_stale_up_to_the_limit_then_503() {
    // TTL 0: every lookup asks the provider; a stale copy may answer for an hour.
    let settings = [("OVERKILL_FX_CACHE_TTL_SECS", "0"), ("OVERKILL_FX_STALE_LIMIT_SECS", "3600")];
    let (simulator, app) = start(Knobs::default(), &settings).await;
    let created = product(&app, &unique("fx-stale-"), 2500, "CHF").await;
    let path = format!("/v1/products/{}?currency=EUR", created["id"]);
    let live = get_json(&app, &path).await;
    assert_eq!(live["converted"]["source"], "live");
    simulator.set(KnobsPatch { outage: Some(true), ..KnobsPatch::default() }).unwrap();
    let stale = get_json(&app, &path).await;
    assert_eq!(stale["converted"]["source"], "stale");
    assert_eq!(stale["converted"]["amount_minor"], live["converted"]["amount_minor"]);
    // Never cached: nothing to serve.
    let other = product(&app, &unique("fx-stale-"), 2500, "NOK").await;
    let response = app.get(&format!("/v1/products/{}?currency=EUR", other["id"])).await;
    let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
    assert_problem(response, 503, "fx-unavailable").await;
    assert!(retry_after.is_some_and(|seconds| seconds >= 1), "{retry_after:?}");

    // With no stale limit, the cached rate is not used once past its TTL.
    let settings = [("OVERKILL_FX_CACHE_TTL_SECS", "0"), ("OVERKILL_FX_STALE_LIMIT_SECS", "0")];
    let (simulator, app) = start(Knobs::default(), &settings).await;
    let created = product(&app, &unique("fx-stale-"), 2500, "CHF").await;
    let path = format!("/v1/products/{}?currency=EUR", created["id"]);
    get_json(&app, &path).await;
    simulator.set(KnobsPatch { outage: Some(true), ..KnobsPatch::default() }).unwrap();
    assert_problem(app.get(&path).await, 503, "fx-unavailable").await;
}

#[tokio::test]
async fn a_black_holed_provider_gets_a_503_by_the_fx_deadline() {
    let settings = [("OVERKILL_FX_DEADLINE_MS", "300"), ("OVERKILL_FX_ATTEMPT_TIMEOUT_MS", "200")];
    let (simulator, app) = start(Knobs { black_hole: true, ..Knobs::default() }, &settings).await;
    let created = product(&app, &unique("fx-hole-"), 100, "USD").await;
    let started = Instant::now();
    let response = app.get(&format!("/v1/products/{}?currency=EUR", created["id"])).await;
    assert!(response.headers().contains_key("retry-after"));
    assert_problem(response, 503, "fx-unavailable").await;
    // A bound on behaviour, not a benchmark: the deadline is 300 ms, the
    // request timeout 30 s; anything near the latter is a hang.
    assert!(started.elapsed() < Duration::from_secs(10), "answered after {:?}", started.elapsed());
    assert!(simulator.stats().black_holed >= 1);
}

#[tokio::test]
async fn malformed_answers_are_503_never_a_price() {
    let settings = [("OVERKILL_FX_DEADLINE_MS", "2000")];
    let (simulator, app) = start(Knobs::default(), &settings).await;
    let created = product(&app, &unique("fx-bad-answer-"), 100, "USD").await;
    let path = format!("/v1/products/{}?currency=EUR", created["id"]);
    for mode in Malformed::ALL.into_iter().filter(|mode| *mode != Malformed::None) {
        simulator.set(KnobsPatch { malformed: Some(mode), ..KnobsPatch::default() }).unwrap();
        assert_problem(app.get(&path).await, 503, "fx-unavailable").await;
    }
    simulator.set(KnobsPatch { malformed: Some(Malformed::None), ..KnobsPatch::default() }).unwrap();
    get_json(&app, &path).await;
}

#[tokio::test]
async fn load_far_above_the_quota_never_exceeds_it_and_every_request_is_answered() {
    // The provider allows 10/s (burst 10); the service keeps to 8/s (burst
    // 5). With a TTL of 0 every request wants the provider, for one of
    // eight currencies (so coalescing cannot absorb the load), and may wait
    // 500 ms at most.
    let knobs = Knobs { quota_per_second: 10, quota_burst: 10, ..Knobs::default() };
    let settings = [
        ("OVERKILL_FX_QUOTA_PER_SECOND", "8"),
        ("OVERKILL_FX_QUOTA_BURST", "5"),
        ("OVERKILL_FX_CACHE_TTL_SECS", "0"),
        ("OVERKILL_FX_STALE_LIMIT_SECS", "0"),
        ("OVERKILL_FX_DEADLINE_MS", "500"),
    ];
    let (simulator, app) = start(knobs, &settings).await;
    let mut urls = Vec::new();
    for currency in ["USD", "GBP", "JPY", "CHF", "SEK", "NOK", "PLN", "CZK"] {
        let created = product(&app, &unique("fx-quota-"), 100, currency).await;
        urls.push(app.url(&format!("/v1/products/{}?currency=EUR", created["id"])));
    }
    let until = Instant::now() + Duration::from_secs(3);
    let mut workers = JoinSet::new();
    for worker in 0..16 {
        let (client, urls) = (app.client.clone(), urls.clone());
        workers.spawn(async move {
            let (mut ok, mut refused) = (0, 0);
            let mut next = worker;
            while Instant::now() < until {
                next = (next + 1) % urls.len();
                let response = client.get(&urls[next]).send().await.unwrap();
                match response.status().as_u16() {
                    200 => ok += 1,
                    503 => {
                        assert!(response.headers().contains_key("retry-after"));
                        refused += 1;
                    }
                    other => panic!("unexpected {other}: {:?}", response.text().await),
                }
            }
            (ok, refused)
        });
    }
    let (mut ok, mut refused) = (0, 0);
    while let Some(counts) = workers.join_next().await {
        let (o, r) = counts.unwrap();
        (ok, refused) = (ok + o, refused + r);
    }
    let stats = simulator.stats();
    eprintln!(
        "quota: {ok} answered, {refused} refused (503), {} provider calls, {} over its quota",
        stats.calls, stats.over_quota
    );
    assert_eq!(stats.over_quota, 0, "{ok} answered, {refused} refused, {} provider calls", stats.calls);
    assert!(ok > 0 && refused > 0, "{ok} answered, {refused} refused");
    assert!(stats.calls <= 5 + 8 * 4, "{} provider calls in about 3 s", stats.calls);
}

#[tokio::test]
async fn failures_open_the_breaker_and_a_probe_closes_it_once_the_provider_heals() {
    let settings = [
        ("OVERKILL_FX_BREAKER_MIN_CALLS", "4"),
        ("OVERKILL_FX_BREAKER_FAILURE_RATE", "0.5"),
        ("OVERKILL_FX_BREAKER_OPEN_SECS", "1"),
        ("OVERKILL_FX_MAX_ATTEMPTS", "1"),
        ("OVERKILL_FX_CACHE_TTL_SECS", "0"),
        ("OVERKILL_FX_STALE_LIMIT_SECS", "0"),
    ];
    let (simulator, app) = start(Knobs { outage: true, ..Knobs::default() }, &settings).await;
    let created = product(&app, &unique("fx-breaker-"), 100, "USD").await;
    let path = format!("/v1/products/{}?currency=EUR", created["id"]);
    for _ in 0..4 {
        assert_problem(app.get(&path).await, 503, "fx-unavailable").await;
    }
    assert_eq!(readiness(&app).await["fx"]["breaker"], "open");
    let calls = simulator.stats().calls;
    assert_eq!(calls, 4);
    for _ in 0..20 {
        assert_problem(app.get(&path).await, 503, "fx-unavailable").await;
    }
    assert_eq!(simulator.stats().calls, calls, "an open breaker sends nothing");

    // Healed: within a bounded time, a probe goes out and closes it.
    simulator.set(KnobsPatch { outage: Some(false), ..KnobsPatch::default() }).unwrap();
    let give_up = Instant::now() + Duration::from_secs(15);
    loop {
        let response = app.get(&path).await;
        if response.status() == 200 {
            break;
        }
        assert_problem(response, 503, "fx-unavailable").await;
        assert!(Instant::now() < give_up, "the breaker never let a probe through");
        // Polling for the breaker's reopening, bounded above.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(readiness(&app).await["fx"]["breaker"], "closed");
    assert_eq!(simulator.stats().calls, calls + 1, "one probe, then closed");
}

#[tokio::test]
async fn metrics_count_provider_calls_and_cache_lookups() {
    let (_simulator, app) = start(Knobs::default(), &[]).await;
    let created = product(&app, &unique("fx-metrics-"), 100, "USD").await;
    let path = format!("/v1/products/{}?currency=EUR", created["id"]);
    get_json(&app, &path).await;
    get_json(&app, &path).await;
    let metrics = app.client.get(app.admin_url("/metrics")).send().await.unwrap().text().await.unwrap();
    // Label order differs between exporters, and in-process tests share one
    // registry: look for a series with these labels, not for exact counts.
    let has = |name: &str, labels: &[&str]| {
        metrics.lines().any(|line| line.starts_with(name) && labels.iter().all(|label| line.contains(label)))
    };
    let provider = r#"provider="frankfurter""#;
    assert!(has("outbound_calls_total{", &[provider, r#"outcome="ok""#]), "{metrics}");
    assert!(has("outbound_cache_lookups_total{", &[provider, r#"result="hit""#]), "{metrics}");
    assert!(has("outbound_cache_lookups_total{", &[provider, r#"result="miss""#]), "{metrics}");
    assert!(has("outbound_call_duration_seconds", &[provider]), "{metrics}");
    assert!(has("outbound_breaker_state{", &[provider]), "{metrics}");
}
