//! Frankfurter v2 over HTTP: one attempt at a base currency's table
//! (`GET {url}/v2/rates?base=SRC`), its answer read strictly. Anything
//! but a well-formed table is a [`Fault`]: the provider's problem, never a
//! price.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use chassis::client::HttpClient;
use http::{Request, Uri, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use outbound::{AttemptError, Fault};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::money::{Currency, Rate};

/// Largest answer read from the provider; past it, the answer is malformed.
/// Frankfurter's whole table for one base is about 3 KiB.
const MAX_ANSWER_BYTES: usize = 1 << 20;

/// What the provider says about one base currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// Its rates, by quote currency.
    Quoted(Table),
    /// The provider does not quote it (it answered 422).
    Unsupported,
}

/// The rates of one base currency, by quote.
pub type Table = HashMap<Currency, Quote>;

/// One rate as the provider gave it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quote {
    /// 1 base = `rate` quote.
    pub rate: Rate,
    /// The provider's date for it.
    pub date: time::Date,
}

/// The provider's transport: a pooled HTTP/1.1 client (https or http) and
/// the base URL.
#[derive(Debug, Clone)]
pub struct Provider {
    client: HttpClient,
    url: String,
}

/// Sent with every call, so the provider can tell who asks.
const USER_AGENT: &str = concat!("overkill/", env!("CARGO_PKG_VERSION"));

/// One row of `/v2/rates`. The rate is kept as the number's own text and
/// read as a decimal: through a double, `0.1` would not be 0.1.
#[derive(Deserialize)]
struct Row<'a> {
    date: String,
    base: String,
    quote: String,
    #[serde(borrow)]
    rate: &'a RawValue,
}

// === impl Provider ===

impl Provider {
    /// A client for the provider at `url` (no trailing slash needed), with
    /// `connect_timeout` for TCP and up to `pool` idle connections. (The TLS
    /// handshake is bounded by the attempt's timeout.)
    pub fn new(url: &str, connect_timeout: Duration, pool: usize) -> anyhow::Result<Self> {
        let client = chassis::client::http_client(connect_timeout, pool);
        Ok(Self { client, url: url.trim_end_matches('/').to_owned() })
    }

    /// One attempt at `base`'s table. The policy bounds it in time.
    pub async fn rates(&self, base: Currency) -> Result<Lookup, AttemptError> {
        let uri: Uri = format!("{}/v2/rates?base={}", self.url, base.code())
            .parse()
            .map_err(|_| malformed(base, "the provider URL does not make a request URI"))?;
        let request = Request::get(uri)
            .header(header::USER_AGENT, USER_AGENT)
            .header(header::ACCEPT, "application/json")
            .body(Body::empty())
            .map_err(|_| malformed(base, "the provider URL does not make a request"))?;
        let response = self.client.request(request).await.map_err(|error| {
            tracing::debug!(%error, "fx provider transport error");
            AttemptError { fault: Fault::Connect, wait: None }
        })?;
        let status = response.status().as_u16();
        let wait = outbound::wait::requested(response.headers(), SystemTime::now());
        match status {
            200 => {}
            422 => return Ok(Lookup::Unsupported),
            _ => return Err(AttemptError { fault: Fault::Status(status), wait }),
        }
        let body = match Limited::new(response.into_body(), MAX_ANSWER_BYTES).collect().await {
            Ok(body) => body.to_bytes(),
            Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => {
                return Err(malformed(base, "answer too large"));
            }
            Err(error) => {
                // Cut off mid-answer: the connection's fault, not the data's.
                tracing::debug!(%error, "fx provider answer cut short");
                return Err(AttemptError { fault: Fault::Connect, wait: None });
            }
        };
        parse(base, &body).map(Lookup::Quoted).map_err(|reason| malformed(base, reason))
    }
}

fn malformed(base: Currency, reason: &str) -> AttemptError {
    tracing::warn!(base = base.code(), reason, "fx provider answer is malformed");
    AttemptError { fault: Fault::Malformed, wait: None }
}

/// Reads `/v2/rates?base={base}`'s answer: a non-empty array of rows for
/// `base`, each with a valid date and a positive decimal rate. Rows quoting
/// a currency we do not know are skipped; any other defect rejects it all.
pub fn parse(base: Currency, body: &[u8]) -> Result<Table, &'static str> {
    let rows: Vec<Row<'_>> = serde_json::from_slice(body).map_err(|_| "not an array of {date, base, quote, rate}")?;
    if rows.is_empty() {
        return Err("no rates");
    }
    let mut table = Table::with_capacity(rows.len());
    for row in rows {
        if row.base != base.code() {
            return Err("a row for another base");
        }
        let date = time::Date::parse(&row.date, crate::timestamp::DATE).map_err(|_| "a date that is not YYYY-MM-DD")?;
        let rate = Rate::parse(row.rate.get()).ok_or("a rate that is not a positive decimal number")?;
        if let Some(quote) = Currency::parse(&row.quote) {
            table.insert(quote, Quote { rate, date });
        }
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd() -> Currency {
        Currency::parse("USD").unwrap_or_else(|| unreachable!())
    }

    #[test]
    fn a_table_is_read_exactly() {
        let body = br#"[{"date":"2026-11-27","base":"USD","quote":"EUR","rate":0.9234},
            {"date":"2026-11-27","base":"USD","quote":"JPY","rate":1.5645e2},
            {"date":"2026-11-27","base":"USD","quote":"XYZ","rate":3}]"#;
        let table = parse(usd(), body).unwrap_or_default();
        assert_eq!(table.len(), 2, "the unknown XYZ is skipped");
        let eur = table[&Currency::parse("EUR").unwrap_or_else(|| unreachable!())];
        assert_eq!(eur.rate.to_string(), "0.9234");
        assert_eq!(eur.date.to_string(), "2026-11-27");
        assert_eq!(table[&Currency::parse("JPY").unwrap_or_else(|| unreachable!())].rate.to_string(), "156.45");
    }

    #[test]
    fn anything_but_a_table_is_malformed() {
        let row = |date: &str, base: &str, rate: &str| {
            format!(r#"[{{"date":"{date}","base":"{base}","quote":"EUR","rate":{rate}}}]"#)
        };
        for body in [
            String::new(),
            "[]".to_owned(),
            "{}".to_owned(),
            "null".to_owned(),
            r#"[{"date":"2026-11-27","base":"USD","quote":"EUR"}]"#.to_owned(),
            row("2026-11-27", "USD", "0.9")[..30].to_owned(),
            row("2026-11-27", "GBP", "0.9"),
            row("2026-13-27", "USD", "0.9"),
            row("27/11/2026", "USD", "0.9"),
            row("2026-11-27", "USD", "0"),
            row("2026-11-27", "USD", "-0.9"),
            row("2026-11-27", "USD", "\"0.9\""),
            row("2026-11-27", "USD", "null"),
            row("2026-11-27", "USD", "1e400"),
            row("2026-11-27", "USD", "0.1234567890123456789"),
        ] {
            assert!(parse(usd(), body.as_bytes()).is_err(), "accepted {body}");
        }
    }
}
