//! `GET /v1/products` parameters and the keyset cursor.
//!
//! The cursor is base64url(JSON payload) + "." + a checksum of the payload.
//! The payload holds the sort, the last row's sort key and id, and a
//! fingerprint of the filters, so a cursor cannot be replayed against
//! another query. The checksum catches edits and truncation; it is not a
//! signature, and needs not be: a forged cursor only moves the page start
//! within results the client may list anyway.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chassis::{FieldError, Problem};
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;

use super::model::{MAX_PRICE_MINOR, Product};
use crate::timestamp;

/// Page size bounds.
const DEFAULT_LIMIT: usize = 20;
const MAX_LIMIT: usize = 100;
const MAX_Q_CHARS: usize = 200;

/// Query parameters of the list, for the OpenAPI document.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ListParams {
    /// Page size, 1..=100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// `created_at` (default), `-created_at`, `price`, `-price` or `name`.
    sort: Option<String>,
    /// Case-insensitive substring of the name.
    #[param(max_length = 200)]
    q: Option<String>,
    /// Lowest price_minor, inclusive.
    min_price: Option<i64>,
    /// Highest price_minor, inclusive.
    max_price: Option<i64>,
    /// `true`: only products with stock > 0.
    in_stock: Option<bool>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// Sort orders; ties are broken by id in the same direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Sort {
    #[serde(rename = "created_at")]
    CreatedAsc,
    #[serde(rename = "-created_at")]
    CreatedDesc,
    #[serde(rename = "price")]
    PriceAsc,
    #[serde(rename = "-price")]
    PriceDesc,
    #[serde(rename = "name")]
    NameAsc,
}

/// The value of the sort column of a row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SortKey {
    /// `created_at` in microseconds, or `price_minor`.
    Number(i64),
    /// `name`.
    Text(String),
}

/// Filters; all optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    /// `LIKE` pattern over the folded name, `%`, `_` and `\` escaped.
    pub name_pattern: Option<String>,
    pub min_price: Option<i64>,
    pub max_price: Option<i64>,
    pub in_stock: bool,
}

/// A validated list request.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub sort: Sort,
    pub limit: usize,
    pub filters: Filters,
    /// Continue after this (sort key, id).
    pub after: Option<(SortKey, i64)>,
}

#[derive(Serialize, Deserialize)]
struct CursorPayload {
    s: Sort,
    k: SortKey,
    i: i64,
    f: String,
}

// === impl Sort ===

impl Sort {
    /// Whether the sort key is `created_at`.
    pub fn is_by_time(self) -> bool {
        matches!(self, Self::CreatedAsc | Self::CreatedDesc)
    }
}

// === impl ListQuery ===

impl ListQuery {
    /// Validates the query parameters; reports every invalid one.
    pub fn parse(params: &HashMap<String, String>) -> Result<Self, Problem> {
        let mut errors = Vec::new();
        let mut invalid = |field: &str, message: &str| {
            errors.push(FieldError { field: field.to_owned(), message: message.to_owned() });
        };
        let limit = match params.get("limit").map(|v| v.parse::<usize>()) {
            None => DEFAULT_LIMIT,
            Some(Ok(n)) if (1..=MAX_LIMIT).contains(&n) => n,
            Some(_) => {
                invalid("limit", "must be an integer from 1 to 100");
                DEFAULT_LIMIT
            }
        };
        let sort = match params.get("sort").map(String::as_str) {
            None => Sort::CreatedAsc,
            Some(text) => serde_json::from_value(serde_json::Value::String(text.to_owned())).unwrap_or_else(|_| {
                invalid("sort", "must be one of created_at, -created_at, price, -price, name");
                Sort::CreatedAsc
            }),
        };
        let mut price = |field: &str| match params.get(field).map(|v| v.parse::<i64>()) {
            None => None,
            Some(Ok(n)) if (0..=MAX_PRICE_MINOR).contains(&n) => Some(n),
            Some(_) => {
                invalid(field, "must be an integer from 0 to 1000000000000");
                None
            }
        };
        let min_price = price("min_price");
        let max_price = price("max_price");
        let in_stock = match params.get("in_stock").map(String::as_str) {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => {
                invalid("in_stock", "must be true or false");
                false
            }
        };
        let name_pattern = match params.get("q") {
            Some(q) if q.chars().count() > MAX_Q_CHARS => {
                invalid("q", "must be at most 200 characters");
                None
            }
            Some(q) if !q.is_empty() => Some(like_pattern(&q.to_lowercase())),
            _ => None,
        };
        let filters = Filters { name_pattern, min_price, max_price, in_stock };
        let after = params.get("cursor").map(|cursor| decode_cursor(cursor, sort, &filters));
        if let Some(None) = after {
            invalid("cursor", "is not a cursor this query returned; start again without it");
        }
        let after = after.flatten();
        if !errors.is_empty() {
            return Err(Problem::invalid_parameters(errors));
        }
        Ok(Self { sort, limit, filters, after })
    }

    /// The cursor that continues after `last`.
    pub fn cursor_after(&self, last: &Product) -> String {
        let key = match self.sort {
            Sort::CreatedAsc | Sort::CreatedDesc => SortKey::Number(timestamp::micros(last.created_at)),
            Sort::PriceAsc | Sort::PriceDesc => SortKey::Number(last.fields.price_minor),
            Sort::NameAsc => SortKey::Text(last.fields.name.clone()),
        };
        let payload = CursorPayload { s: self.sort, k: key, i: last.id, f: fingerprint(&self.filters) };
        let json = serde_json::to_vec(&payload).unwrap_or_default();
        format!("{}.{:016x}", URL_SAFE_NO_PAD.encode(&json), fnv1a(&json))
    }
}

fn decode_cursor(cursor: &str, sort: Sort, filters: &Filters) -> Option<(SortKey, i64)> {
    let (data, checksum) = cursor.split_once('.')?;
    let json = URL_SAFE_NO_PAD.decode(data).ok()?;
    if format!("{:016x}", fnv1a(&json)) != checksum {
        return None;
    }
    let payload: CursorPayload = serde_json::from_slice(&json).ok()?;
    let key_fits = matches!(
        (sort, &payload.k),
        (Sort::NameAsc, SortKey::Text(_))
            | (Sort::CreatedAsc | Sort::CreatedDesc | Sort::PriceAsc | Sort::PriceDesc, SortKey::Number(_))
    );
    (payload.s == sort && payload.f == fingerprint(filters) && key_fits).then_some((payload.k, payload.i))
}

/// Identifies a filter set, so a cursor is only accepted with the filters it was made for.
fn fingerprint(filters: &Filters) -> String {
    let text = format!("{:?}", filters);
    format!("{:016x}", fnv1a(text.as_bytes()))
}

/// FNV-1a, 64 bit. Hand-written (six lines) because the cursor needs a hash
/// that is stable across Rust releases and processes, which std's hashers
/// do not promise.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3))
}

/// `%text%` with LIKE's wildcards in `text` escaped by `\`.
fn like_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn reports_every_bad_parameter() {
        let problem = ListQuery::parse(&params(&[("limit", "0"), ("sort", "size"), ("in_stock", "yes")])).unwrap_err();
        assert_eq!(problem.errors.len(), 3);
    }

    #[test]
    fn cursor_round_trips_and_rejects_tampering_and_other_queries() {
        let query = ListQuery::parse(&params(&[("sort", "name")])).unwrap();
        let filters = query.filters.clone();
        let payload =
            CursorPayload { s: Sort::NameAsc, k: SortKey::Text("Mug".into()), i: 7, f: fingerprint(&filters) };
        let json = serde_json::to_vec(&payload).unwrap();
        let cursor = format!("{}.{:016x}", URL_SAFE_NO_PAD.encode(&json), fnv1a(&json));
        assert_eq!(decode_cursor(&cursor, Sort::NameAsc, &filters), Some((SortKey::Text("Mug".into()), 7)));
        assert_eq!(decode_cursor(&cursor, Sort::PriceAsc, &filters), None);
        let other = Filters { in_stock: true, ..filters.clone() };
        assert_eq!(decode_cursor(&cursor, Sort::NameAsc, &other), None);
        let tampered = cursor.replacen('e', "f", 1);
        assert_eq!(decode_cursor(&tampered, Sort::NameAsc, &filters), None);
    }

    #[test]
    fn like_wildcards_are_literal() {
        assert_eq!(like_pattern("50%_a\\"), "%50\\%\\_a\\\\%");
    }
}
