//! `GET /v1/products` parameters, validated into a [`ListQuery`]; the
//! keyset cursor is in [`cursor`].

use std::collections::HashMap;

use chassis::{FieldError, Problem};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use super::cursor;
use super::model::{MAX_PRICE_MINOR, Product};
use crate::money::Currency;
use crate::path_id::canonical_decimal;

/// Longest `q`.
const MAX_Q_CHARS: usize = 200;

/// Query parameters of the list, for the OpenAPI document; the limits are
/// the constants below, checked by `api::tests`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ListParams {
    /// Page size (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// Order of the page (default `created_at`); ties are broken by id in the same direction.
    #[param(inline)]
    sort: Option<Sort>,
    /// Case-insensitive substring of the name; `%` and `_` are literal.
    #[param(max_length = 200, pattern = "^[^\\u0000]*$")]
    q: Option<String>,
    /// Lowest price_minor, inclusive.
    #[param(minimum = 0, maximum = 1_000_000_000_000_i64)]
    min_price: Option<i64>,
    /// Highest price_minor, inclusive.
    #[param(minimum = 0, maximum = 1_000_000_000_000_i64)]
    max_price: Option<i64>,
    /// `true`: only products with stock > 0.
    in_stock: Option<bool>,
    /// `next_cursor` of the previous page, with the same `sort` and filters.
    #[param(min_length = 1)]
    cursor: Option<String>,
    /// Convert every price into this currency (each item gains `converted`).
    #[param(value_type = Option<Currency>, nullable = false)]
    currency: Option<String>,
}

/// Sort orders; ties are broken by id in the same direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
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
    /// Convert prices into this currency.
    pub currency: Option<Currency>,
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
            None => Sort::CreatedAsc,
            Some(text) => serde_json::from_value(serde_json::Value::String(text.to_owned())).unwrap_or_else(|_| {
                invalid("sort", "must be one of created_at, -created_at, price, -price, name");
                Sort::CreatedAsc
            }),
        };
        let mut price = |field: &str| match params.get(field).map(|v| canonical_decimal(v)) {
            None => None,
            Some(Some(n)) if n <= MAX_PRICE_MINOR as u64 => Some(n as i64),
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
        let after = params.get("cursor").map(|cursor| cursor::decode(cursor, sort, &filters));
        if let Some(None) = after {
            invalid("cursor", "is not a cursor this query returned; start again without it");
        }
        let after = after.flatten();
        let currency = crate::fx::target_currency(params).unwrap_or_else(|error| {
            errors.push(error);
            None
        });
        if !errors.is_empty() {
            return Err(Problem::invalid_parameters(errors));
        }
        Ok(Self { sort, limit, filters, after, currency })
    }

    /// The cursor that continues after `last`.
    pub fn cursor_after(&self, last: &Product) -> String {
        cursor::encode(self.sort, &self.filters, last)
    }
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

    fn params_of(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    /// The parameters in the OpenAPI document state the limits `parse`
    /// applies (docs/API.md is checked against the document).
    #[test]
    fn the_document_states_these_limits() {
        let params = ListParams::into_params(|| None);
        let schema = |name: &str| {
            let param = params.iter().find(|p| p.name == name).unwrap();
            serde_json::to_value(param.schema.as_ref().unwrap()).unwrap()
        };
        assert_eq!(
            (schema("limit")["minimum"].as_u64(), schema("limit")["maximum"].as_u64()),
            (Some(1), Some(crate::page::MAX_LIMIT as u64))
        );
        assert_eq!(schema("q")["maxLength"], MAX_Q_CHARS);
        for name in ["min_price", "max_price"] {
            assert_eq!(
                (schema(name)["minimum"].as_i64(), schema(name)["maximum"].as_i64()),
                (Some(0), Some(MAX_PRICE_MINOR))
            );
        }
        let documented: Vec<String> =
            schema("sort")["enum"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_owned()).collect();
        for sort in &documented {
            assert!(ListQuery::parse(&params_of(&[("sort", sort)])).is_ok(), "{sort}");
        }
        assert_eq!(documented.len(), 5, "every Sort variant: {documented:?}");
    }

    #[test]
    fn reports_every_bad_parameter() {
        let problem =
            ListQuery::parse(&params_of(&[("limit", "0"), ("sort", "size"), ("in_stock", "yes")])).unwrap_err();
        assert_eq!(problem.errors.len(), 3);
    }

    #[test]
    fn like_wildcards_are_literal() {
        assert_eq!(like_pattern("50%_a\\"), "%50\\%\\_a\\\\%");
    }
}
