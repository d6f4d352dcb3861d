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
use time::OffsetDateTime;
use utoipa::IntoParams;

use super::model::{MAX_NAME_CHARS, MAX_PRICE_MINOR, Product};
use crate::timestamp;

/// Latest `created_at` a cursor may carry: 9999-12-31T23:59:59.999999Z, in
/// microseconds since the epoch (the last instant RFC 3339 can write).
const MAX_TIME_MICROS: i64 = 253_402_300_799_999_999;

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

/// The value of the sort column of a row, as a cursor carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
enum SortKey {
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
    /// Continue after this row.
    pub after: Option<After>,
}

/// The row a page continues after: its sort key, typed by the sort and
/// within the range the column can hold, and its id (≥ 1). Checked when
/// the cursor is decoded, so no store can fail to convert it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum After {
    /// `created_at` sorts.
    Time(OffsetDateTime, i64),
    /// `price` sorts: `price_minor`.
    Price(i64, i64),
    /// `name` sort.
    Name(String, i64),
}

#[derive(Serialize, Deserialize)]
struct CursorPayload {
    s: Sort,
    k: SortKey,
    i: i64,
    f: String,
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

/// The row `cursor` continues after, if it is intact, was made for this
/// sort and these filters, and holds a key and id a row can have. The
/// checksum is no signature: a client can forge a cursor, so its contents
/// are checked like any other input (the Go twin applies the same rules).
fn decode_cursor(cursor: &str, sort: Sort, filters: &Filters) -> Option<After> {
    let (data, checksum) = cursor.split_once('.')?;
    let json = URL_SAFE_NO_PAD.decode(data).ok()?;
    if format!("{:016x}", fnv1a(&json)) != checksum {
        return None;
    }
    let payload: CursorPayload = serde_json::from_slice(&json).ok()?;
    if payload.s != sort || payload.f != fingerprint(filters) || payload.i < 1 {
        return None;
    }
    let id = payload.i;
    match (sort, payload.k) {
        (Sort::CreatedAsc | Sort::CreatedDesc, SortKey::Number(micros)) if (0..=MAX_TIME_MICROS).contains(&micros) => {
            timestamp::from_micros(micros).map(|time| After::Time(time, id))
        }
        (Sort::PriceAsc | Sort::PriceDesc, SortKey::Number(price)) if (0..=MAX_PRICE_MINOR).contains(&price) => {
            Some(After::Price(price, id))
        }
        (Sort::NameAsc, SortKey::Text(name))
            if (1..=MAX_NAME_CHARS).contains(&name.chars().count()) && !name.contains('\0') =>
        {
            Some(After::Name(name, id))
        }
        _ => None,
    }
}

/// Identifies a filter set, so a cursor is only accepted with the filters
/// it was made for: FNV-1a of this text, whose format is fixed here (not by
/// `Debug`, which may change with any Rust release or a field's rename):
///
/// `q=<byte length>:<LIKE pattern>;min=<n>;max=<n>;in_stock=<0|1>`
///
/// with `-` for an absent pattern or bound. The length prefix stops a
/// pattern from spelling the fields that follow it. Changing the format
/// invalidates the cursors clients hold (a 400; they start again).
fn fingerprint(filters: &Filters) -> String {
    let number = |n: Option<i64>| n.map_or_else(|| "-".to_owned(), |n| n.to_string());
    let q = filters.name_pattern.as_ref().map_or_else(|| "-".to_owned(), |p| format!("{}:{p}", p.len()));
    let text = format!(
        "q={q};min={};max={};in_stock={}",
        number(filters.min_price),
        number(filters.max_price),
        u8::from(filters.in_stock)
    );
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
        assert_eq!(decode_cursor(&cursor, Sort::NameAsc, &filters), Some(After::Name("Mug".into(), 7)));
        assert_eq!(decode_cursor(&cursor, Sort::PriceAsc, &filters), None);
        let other = Filters { in_stock: true, ..filters.clone() };
        assert_eq!(decode_cursor(&cursor, Sort::NameAsc, &other), None);
        let tampered = cursor.replacen('e', "f", 1);
        assert_eq!(decode_cursor(&tampered, Sort::NameAsc, &filters), None);
    }

    /// A cursor with a valid checksum, as a client could forge one.
    fn forged(sort: Sort, key: SortKey, id: i64) -> String {
        let payload = CursorPayload { s: sort, k: key, i: id, f: fingerprint(&Filters::default()) };
        let json = serde_json::to_vec(&payload).unwrap();
        format!("{}.{:016x}", URL_SAFE_NO_PAD.encode(&json), fnv1a(&json))
    }

    #[test]
    fn forged_cursor_contents_are_checked() {
        let accepts = |sort, key, id| decode_cursor(&forged(sort, key, id), sort, &Filters::default()).is_some();
        let (time, price, name) = (Sort::CreatedDesc, Sort::PriceAsc, Sort::NameAsc);
        assert!(accepts(time, SortKey::Number(0), 1));
        assert!(accepts(time, SortKey::Number(MAX_TIME_MICROS), i64::MAX));
        assert!(!accepts(time, SortKey::Number(MAX_TIME_MICROS + 1), 1));
        assert!(!accepts(time, SortKey::Number(i64::MAX), 1));
        assert!(!accepts(time, SortKey::Number(-1), 1));
        assert!(!accepts(time, SortKey::Number(5), 0));
        assert!(!accepts(time, SortKey::Number(5), -3));
        assert!(accepts(price, SortKey::Number(MAX_PRICE_MINOR), 1));
        assert!(!accepts(price, SortKey::Number(MAX_PRICE_MINOR + 1), 1));
        assert!(!accepts(price, SortKey::Number(-1), 1));
        assert!(!accepts(price, SortKey::Text("5".into()), 1));
        assert!(accepts(name, SortKey::Text("é".repeat(200)), 1));
        assert!(!accepts(name, SortKey::Text("é".repeat(201)), 1));
        assert!(!accepts(name, SortKey::Text(String::new()), 1));
        assert!(!accepts(name, SortKey::Text("a\0b".into()), 1));
        assert!(!accepts(name, SortKey::Number(1), 1));
    }

    #[test]
    fn fingerprint_is_a_fixed_format_and_tells_filter_sets_apart() {
        let filters =
            Filters { name_pattern: Some("%mug%".into()), min_price: Some(5), max_price: None, in_stock: true };
        let expected = format!("{:016x}", fnv1a(b"q=5:%mug%;min=5;max=-;in_stock=1"));
        assert_eq!(fingerprint(&filters), expected, "the format is part of every cursor clients hold");
        let spelled = Filters { name_pattern: Some("%mug%;min=5".into()), ..Filters::default() };
        let split = Filters { name_pattern: Some("%mug%".into()), min_price: Some(5), ..Filters::default() };
        assert_ne!(fingerprint(&spelled), fingerprint(&split));
        assert_ne!(fingerprint(&Filters::default()), fingerprint(&Filters { in_stock: true, ..Filters::default() }));
    }

    #[test]
    fn like_wildcards_are_literal() {
        assert_eq!(like_pattern("50%_a\\"), "%50\\%\\_a\\\\%");
    }
}
