//! The v2 routes over real HTTP: shapes, deterministic rates, refusals.

mod common;

use common::{currency, get, header, json_of, set};
use fx_sim::rates::{self, CURRENCIES};
use fx_sim::{Knobs, spawn};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn rates_answer_in_the_v2_shape_with_deterministic_rates() {
    let simulator = spawn(Knobs::default()).await;
    let response = get(&simulator, "/v2/rates?base=USD&quotes=GBP,EUR").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "content-type"), Some("application/json; charset=utf-8"));
    let date = "2026-11-27";
    let expected = json!([
        {"date": date, "base": "USD", "quote": "EUR", "rate": rates::rate(currency("USD"), currency("EUR"), date)},
        {"date": date, "base": "USD", "quote": "GBP", "rate": rates::rate(currency("USD"), currency("GBP"), date)},
    ]);
    assert_eq!(json_of(response).await, expected);

    // The same question, another spelling: the same answer.
    let again = json_of(get(&simulator, "/v2/rates?quotes=eur%2Cgbp,EUR&base=usd").await).await;
    assert_eq!(again, expected);

    // One pair.
    let one = json_of(get(&simulator, "/v2/rate/usd/EUR").await).await;
    assert_eq!(one, expected[0]);
    let same = json_of(get(&simulator, "/v2/rate/JPY/JPY").await).await;
    assert_eq!(same["rate"], json!(1.0));
}

#[tokio::test]
async fn without_quotes_every_other_currency_is_listed_against_the_base_or_eur() {
    let simulator = spawn(Knobs::default()).await;
    let rows = json_of(get(&simulator, "/v2/rates?base=JPY").await).await;
    let rows = rows.as_array().cloned().unwrap_or_default();
    assert_eq!(rows.len(), CURRENCIES.len() - 1);
    assert!(rows.iter().all(|row| row["base"] == "JPY" && row["quote"] != "JPY"));
    let quotes: Vec<&str> = rows.iter().filter_map(|row| row["quote"].as_str()).collect();
    assert!(quotes.windows(2).all(|pair| pair[0] < pair[1]), "sorted by quote");

    let default_base = json_of(get(&simulator, "/v2/rates").await).await;
    assert!(default_base.as_array().is_some_and(|rows| rows.iter().all(|row| row["base"] == "EUR")));
    assert_eq!(json_of(get(&simulator, "/v2/rates?quotes=").await).await, json!([]));
}

#[tokio::test]
async fn the_date_knob_moves_the_date_and_the_rates() {
    let simulator = spawn(Knobs::default()).await;
    let before = json_of(get(&simulator, "/v2/rate/USD/EUR").await).await;
    set(&simulator, json!({"date": "2027-01-15"}));
    let after = json_of(get(&simulator, "/v2/rate/USD/EUR").await).await;
    assert_eq!(after["date"], "2027-01-15");
    assert_ne!(after["rate"], before["rate"]);
}

#[tokio::test]
async fn currencies_lists_every_quoted_code() {
    let simulator = spawn(Knobs::default()).await;
    let list = json_of(get(&simulator, "/v2/currencies").await).await;
    let list = list.as_array().cloned().unwrap_or_default();
    assert_eq!(list.len(), CURRENCIES.len());
    assert_eq!(
        list[0],
        json!({"iso_code": "AUD", "iso_numeric": "036", "name": "Australian Dollar",
               "start_date": "1999-01-04", "end_date": "2026-11-27"})
    );
}

#[tokio::test]
async fn bad_questions_get_422_with_a_message_that_echoes_only_codes() {
    let simulator = spawn(Knobs::default()).await;
    let cases = [
        ("/v2/rates?base=XXX", "invalid currency: XXX"),
        ("/v2/rates?base=USD&quotes=EUR,ABC", "invalid currency: ABC"),
        ("/v2/rates?quotes=EUR,,GBP", "invalid currency"),
        ("/v2/rate/USD/%3Cscript%3E", "invalid currency"),
        ("/v2/rate/%FF/EUR", "invalid currency"),
        ("/v2/rates?base=USD&base=EUR", "invalid query: only base and quotes, each at most once"),
        ("/v2/rates?date=2020-01-01", "invalid query: only base and quotes, each at most once"),
    ];
    for (path, text) in cases {
        let response = get(&simulator, path).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{path}");
        assert_eq!(json_of(response).await, json!({"status": 422, "message": text}), "{path}");
    }
    let many = vec!["EUR"; fx_sim::MAX_QUOTES + 1].join(",");
    let response = get(&simulator, &format!("/v2/rates?quotes={many}")).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let long = "A".repeat(fx_sim::MAX_QUERY_BYTES);
    let response = get(&simulator, &format!("/v2/rates?quotes={long}")).await;
    assert_eq!(response.status(), StatusCode::URI_TOO_LONG);
    let response = get(&simulator, "/v1/latest").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    // Every one of them was a call.
    assert_eq!(simulator.stats().calls, 10);
}
