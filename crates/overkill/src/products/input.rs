//! Request bodies → validated domain values. Every invalid field is
//! reported at once; unknown fields are refused by name.

use chassis::{FieldError, Problem};
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::model::{MAX_NAME_CHARS, MAX_PRICE_MINOR, MAX_STOCK, NewProduct, ProductFields, Sku};
use crate::money::Currency;

/// Body of `POST /v1/products`. Documents the shape; parsing is done by
/// [`parse_new`] so that every invalid field can be reported together. The
/// limits here are the code's constants, checked by `api::tests`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct CreateProduct {
    /// 1–64 characters of `[A-Za-z0-9._-]`, unique.
    #[schema(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9._-]+$", example = "MUG-BLUE-330")]
    sku: String,
    /// 1–200 characters, no NUL, at least one of them not whitespace (the
    /// pattern lists Unicode's White_Space characters explicitly, as regex
    /// engines disagree on `\s`).
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000]*[^\u0000\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\u0000]*$"
    )]
    name: String,
    /// At most 2000 characters, no NUL; null or absent for none.
    #[schema(max_length = 2000, pattern = "^[^\\u0000]*$")]
    description: Option<String>,
    /// Price in minor units of `currency`.
    #[schema(minimum = 0, maximum = 1_000_000_000_000_i64)]
    price_minor: i64,
    #[schema(value_type = Currency)]
    currency: String,
    /// Units in stock.
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    stock: i64,
}

/// Body of `PATCH /v1/products/{id}`: a JSON merge patch (RFC 7396) of the
/// mutable fields. An absent field is unchanged; `description: null` clears
/// the description, and null is refused (422) for every other field.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ProductPatch {
    /// 1–200 characters, not only whitespace, no NUL.
    #[schema(
        nullable = false,
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000]*[^\u0000\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\u0000]*$"
    )]
    name: Option<String>,
    /// At most 2000 characters, no NUL; null clears it.
    #[schema(max_length = 2000, pattern = "^[^\\u0000]*$")]
    description: Option<String>,
    /// Price in minor units of `currency`.
    #[schema(nullable = false, minimum = 0, maximum = 1_000_000_000_000_i64)]
    price_minor: Option<i64>,
    #[schema(nullable = false, value_type = Option<Currency>)]
    currency: Option<String>,
    /// Units in stock.
    #[schema(nullable = false, minimum = 0, maximum = 1_000_000_000)]
    stock: Option<i64>,
}

const MUTABLE: &[&str] = &["name", "description", "price_minor", "currency", "stock"];
const READ_ONLY: &[&str] = &["id", "sku", "version", "created_at", "updated_at"];
const MAX_DESCRIPTION_CHARS: usize = 2000;

/// Parses a create body.
pub fn parse_new(body: &Map<String, Value>) -> Result<NewProduct, Problem> {
    reject_unknown(body, &["sku"])?;
    let mut errors = Vec::new();
    let sku = required(body, "sku", &mut errors, |v| {
        v.as_str().and_then(Sku::parse).ok_or("must be 1–64 characters of A-Z, a-z, 0-9, '.', '_' or '-'")
    });
    let name = required(body, "name", &mut errors, name);
    let description = match body.get("description") {
        None => Some(None),
        Some(value) => check(&mut errors, "description", description(value)),
    };
    let price_minor = required(body, "price_minor", &mut errors, price);
    let currency = required(body, "currency", &mut errors, currency);
    let stock = required(body, "stock", &mut errors, stock);
    match (sku, name, description, price_minor, currency, stock) {
        (Some(sku), Some(name), Some(description), Some(price_minor), Some(currency), Some(stock))
            if errors.is_empty() =>
        {
            Ok(NewProduct { sku, fields: ProductFields { name, description, price_minor, currency, stock } })
        }
        _ => Err(Problem::validation(errors)),
    }
}

/// Applies a merge patch to `current`, returning the new field values.
pub fn apply_patch(current: &ProductFields, patch: &Map<String, Value>) -> Result<ProductFields, Problem> {
    reject_unknown(patch, READ_ONLY)?;
    let mut errors: Vec<FieldError> = READ_ONLY
        .iter()
        .filter(|field| patch.contains_key(**field))
        .map(|field| field_error(field, "is read-only"))
        .collect();
    let mut next = current.clone();
    merge(patch, "name", &mut errors, name, &mut next.name);
    merge(patch, "description", &mut errors, description, &mut next.description);
    merge(patch, "price_minor", &mut errors, price, &mut next.price_minor);
    merge(patch, "currency", &mut errors, currency, &mut next.currency);
    merge(patch, "stock", &mut errors, stock, &mut next.stock);
    if errors.is_empty() { Ok(next) } else { Err(Problem::validation(errors)) }
}

/// Sets `target` from member `field` of `patch` when present and valid;
/// records the error when present and invalid.
fn merge<T>(
    patch: &Map<String, Value>,
    field: &str,
    errors: &mut Vec<FieldError>,
    parse: impl Fn(&Value) -> Result<T, &'static str>,
    target: &mut T,
) {
    if let Some(value) = patch.get(field) {
        if let Some(parsed) = check(errors, field, parse(value)) {
            *target = parsed;
        }
    }
}

/// 400 for the first member that is neither mutable nor in `also_known`.
fn reject_unknown(body: &Map<String, Value>, also_known: &[&str]) -> Result<(), Problem> {
    match body.keys().find(|key| !MUTABLE.contains(&key.as_str()) && !also_known.contains(&key.as_str())) {
        Some(unknown) => Err(Problem::unknown_field(unknown)),
        None => Ok(()),
    }
}

fn required<T>(
    body: &Map<String, Value>,
    field: &str,
    errors: &mut Vec<FieldError>,
    parse: impl Fn(&Value) -> Result<T, &'static str>,
) -> Option<T> {
    match body.get(field) {
        None | Some(Value::Null) => {
            errors.push(field_error(field, "is required"));
            None
        }
        Some(value) => check(errors, field, parse(value)),
    }
}

fn check<T>(errors: &mut Vec<FieldError>, field: &str, result: Result<T, &'static str>) -> Option<T> {
    result.map_err(|message| errors.push(field_error(field, message))).ok()
}

fn field_error(field: &str, message: &str) -> FieldError {
    FieldError { field: field.to_owned(), message: message.to_owned() }
}

fn name(value: &Value) -> Result<String, &'static str> {
    match value.as_str() {
        Some(text) if text.contains('\0') => Err(NUL),
        Some(text) if !text.trim().is_empty() && text.chars().count() <= MAX_NAME_CHARS => Ok(text.to_owned()),
        _ => Err("must be a string of 1–200 characters, not blank"),
    }
}

fn description(value: &Value) -> Result<Option<String>, &'static str> {
    match value {
        Value::Null => Ok(None),
        Value::String(text) if text.contains('\0') => Err(NUL),
        Value::String(text) if text.chars().count() <= MAX_DESCRIPTION_CHARS => Ok(Some(text.clone())),
        _ => Err("must be a string of at most 2000 characters, or null"),
    }
}

/// Free text may hold any character but NUL (U+0000), which PostgreSQL
/// cannot store and SQLite's C interfaces cut strings at: one rule for both.
/// (sku and currency admit only their own few characters.)
const NUL: &str = "must not contain NUL (U+0000)";

fn price(value: &Value) -> Result<i64, &'static str> {
    integer_in(value, MAX_PRICE_MINOR).ok_or("must be an integer from 0 to 1000000000000")
}

fn stock(value: &Value) -> Result<i64, &'static str> {
    integer_in(value, MAX_STOCK).ok_or("must be an integer from 0 to 1000000000")
}

fn integer_in(value: &Value, max: i64) -> Option<i64> {
    crate::json::whole_number(value, 0, max)
}

fn currency(value: &Value) -> Result<Currency, &'static str> {
    value.as_str().and_then(Currency::parse).ok_or("must be an ISO 4217 currency code such as EUR")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn reports_every_invalid_field() {
        let body = object(json!({"sku": "bad sku", "name": "", "price_minor": -1, "currency": "eur", "stock": 1.5}));
        let problem = parse_new(&body).unwrap_err();
        let fields: Vec<_> = problem.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["sku", "name", "price_minor", "currency", "stock"]);
    }

    /// The bodies' schemas in the OpenAPI document state the limits the
    /// parsers apply (docs/API.md is checked against the document).
    #[test]
    fn the_document_states_these_limits() {
        let create = serde_json::to_value(<CreateProduct as utoipa::PartialSchema>::schema()).unwrap();
        let patch = serde_json::to_value(<ProductPatch as utoipa::PartialSchema>::schema()).unwrap();
        for body in [&create, &patch] {
            let field = |name: &str| &body["properties"][name];
            assert_eq!(body["additionalProperties"], false);
            assert_eq!(field("name")["maxLength"], MAX_NAME_CHARS);
            assert_eq!(field("description")["maxLength"], MAX_DESCRIPTION_CHARS);
            assert_eq!(field("price_minor")["maximum"], MAX_PRICE_MINOR);
            assert_eq!(field("stock")["maximum"], MAX_STOCK);
            for name in ["price_minor", "stock"] {
                assert_eq!(field(name)["minimum"], 0, "{name}");
            }
        }
        assert_eq!(create["properties"]["sku"]["maxLength"], Sku::MAX_LEN);
        let required: Vec<&str> = create["required"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
        assert_eq!(required, ["sku", "name", "price_minor", "currency", "stock"]);
        // Only description may be null in a patch, and nothing is required.
        for (name, schema) in patch["properties"].as_object().unwrap() {
            let nullable = schema["type"].as_array().is_some_and(|types| types.contains(&Value::from("null")));
            assert_eq!(nullable, name == "description", "{name}: {schema}");
        }
        assert!(patch.get("required").is_none());
    }

    #[test]
    fn patch_keeps_absent_fields_and_clears_null_description() {
        let current = parse_new(&object(json!({
            "sku": "A-1", "name": "Mug", "description": "blue", "price_minor": 100, "currency": "EUR", "stock": 3
        })))
        .unwrap()
        .fields;
        let next = apply_patch(&current, &object(json!({"description": null, "stock": 4}))).unwrap();
        assert_eq!(next.description, None);
        assert_eq!((next.name.as_str(), next.stock, next.price_minor), ("Mug", 4, 100));
        let problem = apply_patch(&current, &object(json!({"name": null, "sku": "B"}))).unwrap_err();
        assert_eq!(problem.errors.len(), 2);
    }
}
