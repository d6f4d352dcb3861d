//! The domain rules of placing and cancelling an order, apart from storage:
//! the stores lock the products' rows, call these, and write what they
//! decide, all in one transaction.

use chassis::{FieldError, Problem};
use http::StatusCode;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::model::{MAX_TOTAL_MINOR, NewOrder, Order, OrderLine, Status};
use crate::money::Currency;
use crate::products::MAX_STOCK;

/// A product's row as an order sees it, locked for the transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockRow {
    pub id: i64,
    pub sku: String,
    pub name: String,
    pub price_minor: i64,
    pub currency: Currency,
    pub stock: i64,
}

/// What placing an order takes: its lines, snapshotted, and its total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    pub lines: Vec<OrderLine>,
    pub total_minor: i64,
    pub currency: Currency,
}

impl Reservation {
    /// The order it made, stored as `id` at `now`.
    pub fn into_order(self, id: i64, customer_ref: Option<String>, now: OffsetDateTime) -> Order {
        Order {
            id,
            status: Status::Placed,
            customer_ref,
            lines: self.lines,
            total_minor: self.total_minor,
            currency: self.currency,
            version: 1,
            created_at: now,
            updated_at: now,
        }
    }
}

/// Checks `order` against its products' rows (`rows`, any order; the
/// products that exist). In turn: every product exists, all share one
/// currency and the total fits (422 naming the lines), and every product has
/// the stock (409 `insufficient-stock` listing every short line). Then the
/// reservation: each line takes `quantity` from its product's stock.
pub fn reserve(order: &NewOrder, rows: &[StockRow]) -> Result<Reservation, Problem> {
    let row = |id: i64| rows.iter().find(|row| row.id == id);
    let unknown: Vec<FieldError> = order
        .lines
        .iter()
        .enumerate()
        .filter(|(_, line)| row(line.product_id).is_none())
        .map(|(i, _)| field_error(i, "no such product"))
        .collect();
    if !unknown.is_empty() {
        return Err(Problem::validation(unknown));
    }
    let found: Vec<&StockRow> = order.lines.iter().filter_map(|line| row(line.product_id)).collect();
    let currency = found[0].currency;
    let mixed: Vec<FieldError> = found
        .iter()
        .enumerate()
        .filter(|(_, row)| row.currency != currency)
        .map(|(i, row)| field_error(i, &format!("is priced in {}, lines[0] in {currency}", row.currency)))
        .collect();
    if !mixed.is_empty() {
        return Err(Problem::validation(mixed));
    }
    let lines: Vec<OrderLine> = order
        .lines
        .iter()
        .zip(&found)
        .map(|(line, row)| OrderLine {
            product_id: row.id,
            sku: row.sku.clone(),
            name: row.name.clone(),
            unit_price_minor: row.price_minor,
            quantity: line.quantity,
        })
        .collect();
    // Each line total is at most 10^12 × 1000, fifty of them fit in an i64.
    let total_minor: i64 = lines.iter().map(OrderLine::total_minor).sum();
    if total_minor > MAX_TOTAL_MINOR {
        let message = format!("the order's total would exceed {MAX_TOTAL_MINOR} minor units");
        return Err(Problem::validation(vec![FieldError { field: "lines".to_owned(), message }]));
    }
    let short: Vec<Value> = order
        .lines
        .iter()
        .zip(&found)
        .filter(|(line, row)| row.stock < line.quantity)
        .map(|(line, row)| json!({"product_id": row.id, "requested": line.quantity, "available": row.stock}))
        .collect();
    if !short.is_empty() {
        let detail = match short.len() {
            1 => "one line asks for more than is in stock".to_owned(),
            n => format!("{n} lines ask for more than is in stock"),
        };
        let mut problem = Problem::new(StatusCode::CONFLICT, "insufficient-stock", "Insufficient stock", detail);
        problem.extensions.insert("short_lines".to_owned(), Value::Array(short));
        return Err(problem);
    }
    Ok(Reservation { lines, total_minor, currency })
}

/// The stock each product of `order` returns to when it is cancelled:
/// (product id, new stock) for the products still in `rows`; a product
/// deleted since is skipped. 409 when a product's stock would pass its
/// limit (a PATCH raised it meanwhile): nothing is restored then.
pub fn restock(order: &Order, rows: &[StockRow]) -> Result<Vec<(i64, i64)>, Problem> {
    let mut restored = Vec::with_capacity(order.lines.len());
    for line in &order.lines {
        let Some(row) = rows.iter().find(|row| row.id == line.product_id) else { continue };
        let stock = row.stock + line.quantity;
        if stock > MAX_STOCK {
            return Err(Problem::conflict(format!(
                "returning {} units to product {} would take its stock past {MAX_STOCK}; lower its stock first",
                line.quantity, row.id
            )));
        }
        restored.push((row.id, stock));
    }
    Ok(restored)
}

fn field_error(line: usize, message: &str) -> FieldError {
    FieldError { field: format!("lines[{line}].product_id"), message: message.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orders::model::LineRequest;

    fn row(id: i64, price_minor: i64, currency: &str, stock: i64) -> StockRow {
        let currency = Currency::parse(currency).unwrap();
        StockRow { id, sku: format!("S{id}"), name: format!("P{id}"), price_minor, currency, stock }
    }

    fn order(lines: &[(i64, i64)]) -> NewOrder {
        let lines = lines.iter().map(|&(product_id, quantity)| LineRequest { product_id, quantity }).collect();
        NewOrder { lines, customer_ref: None }
    }

    #[test]
    fn snapshots_lines_and_totals() {
        let rows = [row(1, 250, "EUR", 5), row(2, 1000, "EUR", 1)];
        let reservation = reserve(&order(&[(2, 1), (1, 4)]), &rows).unwrap();
        assert_eq!(reservation.total_minor, 2000);
        assert_eq!(reservation.lines[0].product_id, 2);
        assert_eq!((reservation.lines[1].sku.as_str(), reservation.lines[1].quantity), ("S1", 4));
    }

    #[test]
    fn refusals_come_in_order_and_list_every_line() {
        let rows = [row(1, 100, "EUR", 1), row(2, 100, "USD", 0), row(3, 100, "EUR", 0)];
        let unknown = reserve(&order(&[(9, 1), (1, 5), (8, 1)]), &rows).unwrap_err();
        let fields: Vec<_> = unknown.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!((unknown.status, fields), (422, vec!["lines[0].product_id", "lines[2].product_id"]));
        let mixed = reserve(&order(&[(1, 5), (2, 1)]), &rows).unwrap_err();
        assert_eq!((mixed.status, mixed.errors[0].field.as_str()), (422, "lines[1].product_id"));
        let short = reserve(&order(&[(1, 5), (3, 1)]), &rows).unwrap_err();
        assert_eq!((short.status, short.kind.as_str()), (409, "/problems/insufficient-stock"));
        assert_eq!(
            short.extensions["short_lines"],
            json!([{"product_id": 1, "requested": 5, "available": 1}, {"product_id": 3, "requested": 1, "available": 0}])
        );
    }

    #[test]
    fn totals_past_2_53_are_refused() {
        let rows: Vec<StockRow> = (1..=10).map(|id| row(id, 1_000_000_000_000, "EUR", 1000)).collect();
        let lines: Vec<(i64, i64)> = (1..=10).map(|id| (id, 1000)).collect();
        let problem = reserve(&order(&lines), &rows).unwrap_err();
        assert_eq!((problem.status, problem.errors[0].field.as_str()), (422, "lines"));
        assert!(reserve(&order(&lines[..9]), &rows).is_ok(), "9 × 10^15 is under 2^53");
    }
}
