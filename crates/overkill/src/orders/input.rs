//! Order bodies → a validated [`NewOrder`]. Every invalid field is reported
//! at once, by its path (`lines[2].quantity`); unknown members are refused
//! by name.

use chassis::{FieldError, Problem};
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::model::{LineRequest, MAX_CUSTOMER_REF_LEN, MAX_LINES, MAX_QUANTITY, NewOrder};
use crate::json::whole_number;

/// Body of `POST /v1/orders`. Documents the shape; [`parse_new`] parses.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct CreateOrder {
    /// The products and quantities, each product at most once.
    #[schema(min_items = 1, max_items = 50)]
    lines: Vec<CreateOrderLine>,
    /// The client's own reference for the order; null or absent for none.
    #[schema(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9._:-]+$")]
    customer_ref: Option<String>,
}

/// One line of [`CreateOrder`].
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct CreateOrderLine {
    #[schema(minimum = 1)]
    product_id: i64,
    #[schema(minimum = 1, maximum = 1000)]
    quantity: i64,
}

const FIELDS: &[&str] = &["lines", "customer_ref"];
const LINE_FIELDS: &[&str] = &["product_id", "quantity"];

/// Parses a create body.
pub fn parse_new(body: &Map<String, Value>) -> Result<NewOrder, Problem> {
    reject_unknown(body, FIELDS, "")?;
    let mut errors = Vec::new();
    let customer_ref = match body.get("customer_ref") {
        None | Some(Value::Null) => None,
        Some(value) => {
            let parsed = value.as_str().filter(|text| is_customer_ref(text));
            if parsed.is_none() {
                errors.push(error("customer_ref", "must be 1–64 characters of A-Z, a-z, 0-9, '.', '_', ':' or '-'"));
            }
            parsed.map(str::to_owned)
        }
    };
    let lines = match body.get("lines") {
        None | Some(Value::Null) => {
            errors.push(error("lines", "is required"));
            Vec::new()
        }
        Some(Value::Array(items)) if (1..=MAX_LINES).contains(&items.len()) => parse_lines(items, &mut errors)?,
        Some(_) => {
            errors.push(error("lines", "must be an array of 1–50 lines"));
            Vec::new()
        }
    };
    if errors.is_empty() { Ok(NewOrder { lines, customer_ref }) } else { Err(Problem::validation(errors)) }
}

fn parse_lines(items: &[Value], errors: &mut Vec<FieldError>) -> Result<Vec<LineRequest>, Problem> {
    let mut lines = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Some(line) = item.as_object() else {
            errors.push(error(&format!("lines[{i}]"), "must be an object with product_id and quantity"));
            continue;
        };
        reject_unknown(line, LINE_FIELDS, &format!("lines[{i}]."))?;
        let product_id = match line.get("product_id") {
            None | Some(Value::Null) => Err("is required"),
            Some(value) => whole_number(value, 1, i64::MAX).ok_or("must be a product id, an integer of at least 1"),
        };
        let quantity = match line.get("quantity") {
            None | Some(Value::Null) => Err("is required"),
            Some(value) => whole_number(value, 1, MAX_QUANTITY).ok_or("must be an integer from 1 to 1000"),
        };
        if let Err(message) = product_id {
            errors.push(error(&format!("lines[{i}].product_id"), message));
        }
        if let Err(message) = quantity {
            errors.push(error(&format!("lines[{i}].quantity"), message));
        }
        if let (Ok(product_id), Ok(quantity)) = (product_id, quantity) {
            if let Some(first) = lines.iter().position(|l: &(usize, LineRequest)| l.1.product_id == product_id) {
                let message = format!("repeats the product of lines[{}]", lines[first].0);
                errors.push(error(&format!("lines[{i}].product_id"), &message));
            } else {
                lines.push((i, LineRequest { product_id, quantity }));
            }
        }
    }
    Ok(lines.into_iter().map(|(_, line)| line).collect())
}

fn is_customer_ref(text: &str) -> bool {
    (1..=MAX_CUSTOMER_REF_LEN).contains(&text.len())
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// 400 for the first member that is not in `known`, named with `prefix`.
fn reject_unknown(object: &Map<String, Value>, known: &[&str], prefix: &str) -> Result<(), Problem> {
    match object.keys().find(|key| !known.contains(&key.as_str())) {
        Some(unknown) => Err(Problem::unknown_field(&format!("{prefix}{unknown}"))),
        None => Ok(()),
    }
}

fn error(field: &str, message: &str) -> FieldError {
    FieldError { field: field.to_owned(), message: message.to_owned() }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(body: Value) -> Result<NewOrder, Problem> {
        parse_new(body.as_object().unwrap())
    }

    fn fields(problem: &Problem) -> Vec<&str> {
        problem.errors.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn parses_lines_in_order() {
        let order = parse(json!({"lines": [{"product_id": 3, "quantity": 2}, {"product_id": 1, "quantity": 1.0}],
            "customer_ref": "c-1"}))
        .unwrap();
        assert_eq!(
            order.lines,
            [LineRequest { product_id: 3, quantity: 2 }, LineRequest { product_id: 1, quantity: 1 }]
        );
        assert_eq!(order.customer_ref.as_deref(), Some("c-1"));
        assert_eq!(
            parse(json!({"lines": [{"product_id": 1, "quantity": 1}], "customer_ref": null})).unwrap().customer_ref,
            None
        );
    }

    #[test]
    fn reports_every_invalid_field_by_path() {
        let problem = parse(json!({"lines": [{"product_id": 0, "quantity": 1001}, {"product_id": 5, "quantity": 1},
            {"product_id": 5, "quantity": 2}, 7, {"quantity": 1}], "customer_ref": "has space"}))
        .unwrap_err();
        assert_eq!(problem.status, 422);
        assert_eq!(
            fields(&problem),
            [
                "customer_ref",
                "lines[0].product_id",
                "lines[0].quantity",
                "lines[2].product_id",
                "lines[3]",
                "lines[4].product_id"
            ]
        );
        assert!(problem.errors[3].message.contains("lines[1]"));
        for lines in [json!([]), json!({}), json!("x"), Value::Array(vec![json!({"product_id": 1, "quantity": 1}); 51])]
        {
            assert_eq!(fields(&parse(json!({"lines": lines})).unwrap_err()), ["lines"]);
        }
        assert_eq!(fields(&parse(json!({})).unwrap_err()), ["lines"]);
    }

    #[test]
    fn unknown_members_are_400_by_path() {
        let top = parse(json!({"lines": [], "note": 1})).unwrap_err();
        assert_eq!((top.status, top.field.as_deref()), (400, Some("note")));
        let nested = parse(
            json!({"lines": [{"product_id": 1, "quantity": 1}, {"product_id": 2, "quantity": 1, "colour": "red"}]}),
        )
        .unwrap_err();
        assert_eq!((nested.status, nested.field.as_deref()), (400, Some("lines[1].colour")));
    }
}
