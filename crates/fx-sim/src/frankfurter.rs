//! The Frankfurter v2 routes: `/v2/rates`, `/v2/rate/{base}/{quote}` and
//! `/v2/currencies`, in the shapes api.frankfurter.dev answers.
//!
//! Matched against Frankfurter's public documentation and its open-source
//! server (read for the shapes, nothing copied). Where this differs or we
//! were unsure:
//! - Without `quotes`, the real API also lists the base against itself
//!   (rate 1); this lists every other currency, as our design asks. A base
//!   named in `quotes` does get its rate-1 row, as in the real API.
//! - Rates are rounded to six significant digits; the real API rounds to a
//!   number of decimal places that depends on the magnitude.
//! - Only `base` and `quotes` are accepted (the real API also takes `date`,
//!   `from`, `to`, `providers`, `group`, `expand`); any other parameter is
//!   refused with 422, as the real API refuses unknown ones.
//! - A well-formed code the simulator does not quote is a 422 "invalid
//!   currency"; the real API says so only for codes that are not ISO 4217,
//!   and may answer an empty list for a real code it lacks data for.
//! - `/v2/currencies` objects carry `iso_code`, `iso_numeric`, `name`,
//!   `start_date` and `end_date`; the real ones also carry a `symbol`.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Extension, Path, Query};
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::knobs::{Knobs, Malformed};
use crate::rates::{self, CURRENCIES, Currency};

/// Longest query string accepted, in bytes: 50 quotes of 3 letters with
/// commas (and their `%2C` spellings) fit with room to spare.
pub const MAX_QUERY_BYTES: usize = 1_024;

/// Most quotes one `/v2/rates` call may name.
pub const MAX_QUOTES: usize = 50;

/// `Content-Type` of every JSON answer, as the real API spells it.
const JSON: &str = "application/json; charset=utf-8";

/// The provider routes. Handlers read the knobs of their call from the
/// request's extensions, where [`crate::server`]'s gate put them.
pub(crate) fn router() -> Router {
    Router::new()
        .route("/v2/rates", get(rates))
        .route("/v2/rate/{base}/{quote}", get(rate))
        .route("/v2/currencies", get(currencies))
        .fallback(not_found)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RatesQuery {
    base: Option<String>,
    quotes: Option<String>,
}

async fn rates(Extension(knobs): Extension<Arc<Knobs>>, uri: Uri) -> Response {
    if uri.query().map_or(0, str::len) > MAX_QUERY_BYTES {
        return message(StatusCode::URI_TOO_LONG, "query too long");
    }
    let Ok(Query(query)) = Query::<RatesQuery>::try_from_uri(&uri) else {
        return message(StatusCode::UNPROCESSABLE_ENTITY, "invalid query: only base and quotes, each at most once");
    };
    let base = match currency(query.base.as_deref().unwrap_or("EUR")) {
        Ok(base) => base,
        Err(response) => return response,
    };
    let quotes = match query.quotes.as_deref() {
        None => CURRENCIES.iter().filter(|c| c.code != base.code).collect(),
        Some(list) => match quote_list(list) {
            Ok(quotes) => quotes,
            Err(response) => return response,
        },
    };
    let rows: Vec<_> = quotes.into_iter().map(|quote| (base, quote)).collect();
    render(&rows, &knobs, Shape::List)
}

async fn rate(
    Extension(knobs): Extension<Arc<Knobs>>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Response {
    // A segment that is not UTF-8 once decoded is no currency either.
    let Ok(Path((base, quote))) = path else {
        return message(StatusCode::UNPROCESSABLE_ENTITY, "invalid currency");
    };
    match (currency(&base), currency(&quote)) {
        (Ok(base), Ok(quote)) => render(&[(base, quote)], &knobs, Shape::One),
        (Err(response), _) | (_, Err(response)) => response,
    }
}

async fn currencies(Extension(knobs): Extension<Arc<Knobs>>) -> Response {
    let list: Vec<_> = CURRENCIES
        .iter()
        .map(|c| {
            serde_json::json!({
                "iso_code": c.code,
                "iso_numeric": c.numeric,
                "name": c.name,
                "start_date": rates::HISTORY_START,
                "end_date": knobs.date,
            })
        })
        .collect();
    finish(serde_json::Value::from(list).to_string(), knobs.malformed)
}

async fn not_found() -> Response {
    message(StatusCode::NOT_FOUND, "not found")
}

/// The quoted currencies a `quotes` list names, deduplicated and sorted as
/// the real API sorts rows (by quote). An empty list names none.
fn quote_list(list: &str) -> Result<Vec<&'static Currency>, Response> {
    if list.is_empty() {
        return Ok(Vec::new());
    }
    if list.split(',').count() > MAX_QUOTES {
        return Err(message(StatusCode::UNPROCESSABLE_ENTITY, "too many quotes: at most 50"));
    }
    let mut quotes = list.split(',').map(currency).collect::<Result<Vec<_>, _>>()?;
    quotes.sort_by_key(|c| c.code);
    quotes.dedup_by_key(|c| c.code);
    Ok(quotes)
}

/// The quoted currency a code names, in any letter case as the real API
/// accepts; otherwise the 422 to answer. The code is echoed only when it is
/// three ASCII letters, so a client cannot make the simulator repeat
/// arbitrary text.
fn currency(code: &str) -> Result<&'static Currency, Response> {
    let upper = code.to_ascii_uppercase();
    rates::find(&upper).ok_or_else(|| {
        let text = if upper.len() == 3 && upper.bytes().all(|b| b.is_ascii_uppercase()) {
            format!("invalid currency: {upper}")
        } else {
            "invalid currency".to_owned()
        };
        message(StatusCode::UNPROCESSABLE_ENTITY, &text)
    })
}

/// One object (`/v2/rate`) or a list of them (`/v2/rates`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    One,
    List,
}

/// The rows as JSON, spoiled as `knobs.malformed` says. Written by hand
/// rather than through serde so that `nan_rate` can write a token JSON has
/// no spelling for; codes come from our table and the date was validated,
/// so nothing needs escaping.
fn render(rows: &[(&'static Currency, &'static Currency)], knobs: &Knobs, shape: Shape) -> Response {
    let date = if knobs.malformed == Malformed::BadDate {
        // `YYYY-MM-DD` → `DD/MM/YYYY`.
        format!("{}/{}/{}", &knobs.date[8..10], &knobs.date[5..7], &knobs.date[0..4])
    } else {
        knobs.date.clone()
    };
    let objects: Vec<String> = rows
        .iter()
        .map(|&(base, quote)| {
            let (base, quote) =
                if knobs.malformed == Malformed::WrongPair { wrong_pair(base, quote) } else { (base, quote) };
            let value = rates::rate(base, quote, &knobs.date);
            let rate = match knobs.malformed {
                Malformed::NanRate => "NaN".to_owned(),
                Malformed::NegativeRate => number(-value),
                _ => number(value),
            };
            format!(r#"{{"date":"{date}","base":"{}","quote":"{}","rate":{rate}}}"#, base.code, quote.code)
        })
        .collect();
    let body = match shape {
        Shape::One => objects.concat(),
        Shape::List => format!("[{}]", objects.join(",")),
    };
    finish(body, knobs.malformed)
}

/// The pair the other way round; for a same-currency pair, another quote.
fn wrong_pair(base: &'static Currency, quote: &'static Currency) -> (&'static Currency, &'static Currency) {
    if base.code != quote.code {
        return (quote, base);
    }
    let other = CURRENCIES.iter().find(|c| c.code != base.code).unwrap_or(base);
    (base, other)
}

/// A rate as JSON text (the shortest text that reads back as the same double).
fn number(value: f64) -> String {
    serde_json::Number::from_f64(value).map_or_else(|| "null".to_owned(), |n| n.to_string())
}

/// A 200 with `body`, spoiled by the modes that act on whole bodies.
fn finish(body: String, malformed: Malformed) -> Response {
    match malformed {
        Malformed::BadJson => json_typed(
            "<html><head><title>502 Bad Gateway</title></head>\
             <body><h1>502 Bad Gateway</h1></body></html>"
                .to_owned(),
        ),
        Malformed::Truncated => truncated(body.into_bytes()),
        _ => json_typed(body),
    }
}

fn json_typed(body: String) -> Response {
    ([(header::CONTENT_TYPE, JSON)], body).into_response()
}

/// Announces the whole body in `Content-Length`, sends half of it, then
/// fails the body so the server cuts the connection.
fn truncated(body: Vec<u8>) -> Response {
    use futures_util::stream::{self, StreamExt};

    let length = body.len();
    let half = body[..length / 2].to_vec();
    let first = stream::once(async move { Ok::<_, std::io::Error>(half) });
    // hyper aborts a response whose body fails before it has flushed
    // anything, head included; a pause after the first half lets it flush
    // the head and the half, so the client sees a cut body, not no answer.
    let cut = stream::once(async {
        tokio::time::sleep(TRUNCATION_PAUSE).await;
        Err(std::io::Error::other("fx-sim: body truncated on purpose"))
    });
    let mut response = Body::from_stream(first.chain(cut)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, header::HeaderValue::from_static(JSON));
    headers.insert(header::CONTENT_LENGTH, header::HeaderValue::from(length));
    response
}

/// How long a truncated body stalls before the cut.
const TRUNCATION_PAUSE: std::time::Duration = std::time::Duration::from_millis(20);

/// An error in the real API's shape: `{"status": 422, "message": "…"}`.
pub(crate) fn message(status: StatusCode, text: &str) -> Response {
    let body = serde_json::json!({ "status": status.as_u16(), "message": text });
    (status, [(header::CONTENT_TYPE, JSON)], body.to_string()).into_response()
}
