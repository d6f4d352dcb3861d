//! `GET /v1/orders` parameters, validated into a [`ListQuery`], and its
//! keyset cursor (sealed by [`crate::cursor`]).

use std::collections::HashMap;

use chassis::{FieldError, Problem};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use super::model::{MAX_CUSTOMER_REF_LEN, Order, Status};
use crate::timestamp;

/// Query parameters of the list, for the OpenAPI document.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ListParams {
    /// Page size (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// Order of the page (default `-created_at`, newest first); ties are broken by id in the same direction.
    #[param(inline)]
    sort: Option<Sort>,
    /// Only orders in this status.
    #[param(inline)]
    status: Option<Status>,
    /// Only orders with this `customer_ref`.
    #[param(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9._:-]+$")]
    customer_ref: Option<String>,
    /// `next_cursor` of the previous page, with the same `sort` and filters.
    #[param(min_length = 1)]
    cursor: Option<String>,
}

/// Sort orders of the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum Sort {
    #[serde(rename = "-created_at")]
    Newest,
    #[serde(rename = "created_at")]
    Oldest,
}

/// A validated list request.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub sort: Sort,
    pub limit: usize,
    pub status: Option<Status>,
    pub customer_ref: Option<String>,
    /// Continue after this (created_at, id).
    pub after: Option<(OffsetDateTime, i64)>,
}

#[derive(Serialize, Deserialize)]
struct CursorPayload {
    s: Sort,
    /// `created_at` of the last row, microseconds since the epoch.
    k: i64,
    i: i64,
    f: String,
}

/// Latest `created_at` a cursor may carry: 9999-12-31T23:59:59.999999Z.
const MAX_TIME_MICROS: i64 = 253_402_300_799_999_999;

// === impl ListQuery ===

impl ListQuery {
    /// Validates the query parameters; reports every invalid one.
    pub fn parse(params: &HashMap<String, String>) -> Result<Self, Problem> {
        let mut errors = Vec::new();
        let mut invalid = |field: &str, message: &str| {
            errors.push(FieldError { field: field.to_owned(), message: message.to_owned() });
        };
        let limit = crate::page::limit(params, &mut invalid);
        let sort = match params.get("sort").map(String::as_str) {
            None | Some("-created_at") => Sort::Newest,
            Some("created_at") => Sort::Oldest,
            Some(_) => {
                invalid("sort", "must be -created_at or created_at");
                Sort::Newest
            }
        };
        let status = params.get("status").and_then(|text| {
            let status = Status::parse(text);
            if status.is_none() {
                invalid("status", "must be placed or cancelled");
            }
            status
        });
        let customer_ref = params.get("customer_ref").and_then(|text| {
            let valid = (1..=MAX_CUSTOMER_REF_LEN).contains(&text.len())
                && text.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
            if !valid {
                invalid("customer_ref", "must be 1–64 characters of A-Z, a-z, 0-9, '.', '_', ':' or '-'");
            }
            valid.then(|| text.clone())
        });
        let mut query = Self { sort, limit, status, customer_ref, after: None };
        if let Some(cursor) = params.get("cursor") {
            query.after = query.decode(cursor);
            if query.after.is_none() {
                invalid("cursor", "is not a cursor this query returned; start again without it");
            }
        }
        if errors.is_empty() { Ok(query) } else { Err(Problem::invalid_parameters(errors)) }
    }

    /// The cursor that continues after `last`.
    pub fn cursor_after(&self, last: &Order) -> String {
        let payload =
            CursorPayload { s: self.sort, k: timestamp::micros(last.created_at), i: last.id, f: self.fingerprint() };
        crate::cursor::seal(&payload)
    }

    /// The row an intact cursor for this query continues after; its contents
    /// are checked like any input (a client can forge one).
    fn decode(&self, cursor: &str) -> Option<(OffsetDateTime, i64)> {
        let payload: CursorPayload = crate::cursor::open(cursor)?;
        let valid = payload.s == self.sort
            && payload.f == self.fingerprint()
            && payload.i >= 1
            && (0..=MAX_TIME_MICROS).contains(&payload.k);
        valid.then(|| timestamp::from_micros(payload.k).map(|time| (time, payload.i))).flatten()
    }

    /// Identifies the filters: `status=<s|->;customer_ref=<r|->` (a
    /// customer_ref holds no `;`), hashed.
    fn fingerprint(&self) -> String {
        let status = self.status.map_or("-", Status::as_str);
        let text = format!("status={status};customer_ref={}", self.customer_ref.as_deref().unwrap_or("-"));
        crate::cursor::fingerprint(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn reports_every_bad_parameter() {
        let problem =
            ListQuery::parse(&params(&[("limit", "0"), ("sort", "id"), ("status", "open"), ("customer_ref", "a b")]))
                .unwrap_err();
        assert_eq!(problem.errors.len(), 4);
    }

    #[test]
    fn cursors_only_continue_their_own_query() {
        let query = ListQuery::parse(&params(&[("status", "placed")])).unwrap();
        let at = timestamp::from_micros(1_700_000_000_000_000).unwrap();
        let payload = CursorPayload { s: Sort::Newest, k: timestamp::micros(at), i: 9, f: query.fingerprint() };
        let cursor = crate::cursor::seal(&payload);
        let same = ListQuery::parse(&params(&[("status", "placed"), ("cursor", &cursor)])).unwrap();
        assert_eq!(same.after, Some((at, 9)));
        for other in [vec![("cursor", cursor.as_str())], vec![("status", "cancelled"), ("cursor", &cursor)]] {
            assert!(ListQuery::parse(&params(&other)).is_err());
        }
    }
}
