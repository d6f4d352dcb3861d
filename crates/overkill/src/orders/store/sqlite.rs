//! Orders on SQLite: the same steps as PostgreSQL's, in a writer
//! transaction (`BEGIN IMMEDIATE`: SQLite's one writer is the lock), one
//! statement per row, which costs no round trip in process. Times are
//! microseconds since the epoch.

use chassis::Problem;
use chassis::conditional::Preconditions;
use rusqlite::{Connection, OptionalExtension, Row, params};
use time::OffsetDateTime;

use crate::db::StoreError;
use crate::money::Currency;
use crate::orders::listing::{ListQuery, Sort};
use crate::orders::model::{NewOrder, Order, OrderLine, Status};
use crate::orders::reserve::{StockRow, reserve, restock};
use crate::timestamp;

const ORDER_COLUMNS: &str = "id, status, customer_ref, currency, total_minor, version, created_at, updated_at";

/// Places `new` in the writer transaction `conn`; see `postgres::place`.
pub fn place(conn: &Connection, new: &NewOrder, now: OffsetDateTime) -> Result<Result<Order, Problem>, StoreError> {
    let rows = products(conn, new.lines.iter().map(|line| line.product_id))?;
    let reservation = match reserve(new, &rows) {
        Ok(reservation) => reservation,
        Err(problem) => return Ok(Err(problem)),
    };
    let at = timestamp::micros(now);
    let mut take = conn.prepare_cached(
        "UPDATE products SET stock = stock - ?2, version = version + 1, updated_at = ?3 WHERE id = ?1",
    )?;
    for line in &new.lines {
        take.execute(params![line.product_id, line.quantity, at])?;
    }
    let id: i64 = conn
        .prepare_cached(
            "INSERT INTO orders (status, customer_ref, currency, total_minor, version, created_at, updated_at) \
             VALUES ('placed', ?1, ?2, ?3, 1, ?4, ?4) RETURNING id",
        )?
        .query_row(params![new.customer_ref, reservation.currency.code(), reservation.total_minor, at], |row| {
            row.get(0)
        })?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO order_lines (order_id, line_no, product_id, sku, name, unit_price_minor, quantity) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for (number, line) in reservation.lines.iter().enumerate() {
        insert.execute(params![
            id,
            number,
            line.product_id,
            line.sku,
            line.name,
            line.unit_price_minor,
            line.quantity
        ])?;
    }
    Ok(Ok(reservation.into_order(id, new.customer_ref.clone(), now)))
}

/// Cancels order `id` in the writer transaction `conn`; see `postgres::cancel`.
pub fn cancel(
    conn: &Connection,
    id: i64,
    preconditions: &Preconditions,
    now: OffsetDateTime,
) -> Result<Result<Order, Problem>, StoreError> {
    let Some(mut order) = get(conn, id)? else {
        return Ok(Err(super::not_found(id)));
    };
    if !preconditions.if_match_allows(&order.etag()) {
        return Ok(Err(super::stale(&order)));
    }
    if order.status == Status::Cancelled {
        return Ok(Ok(order));
    }
    let rows = products(conn, order.lines.iter().map(|line| line.product_id))?;
    let restored = match restock(&order, &rows) {
        Ok(restored) => restored,
        Err(problem) => return Ok(Err(problem)),
    };
    let at = timestamp::micros(now);
    let mut put_back =
        conn.prepare_cached("UPDATE products SET stock = ?2, version = version + 1, updated_at = ?3 WHERE id = ?1")?;
    for (product_id, stock) in restored {
        put_back.execute(params![product_id, stock, at])?;
    }
    conn.prepare_cached(
        "UPDATE orders SET status = 'cancelled', version = version + 1, updated_at = ?2 WHERE id = ?1",
    )?
    .execute(params![id, at])?;
    order.status = Status::Cancelled;
    order.version += 1;
    order.updated_at = now;
    Ok(Ok(order))
}

/// The order with `id`, if any.
pub fn get(conn: &Connection, id: i64) -> Result<Option<Order>, StoreError> {
    let sql = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = ?1");
    let Some(head) = conn.prepare_cached(&sql)?.query_row(params![id], order_head).optional()? else {
        return Ok(None);
    };
    order(conn, head).map(Some)
}

/// Up to `query.limit + 1` orders after the cursor, with their lines.
pub fn list(conn: &Connection, query: &ListQuery) -> Result<Vec<Order>, StoreError> {
    let mut conditions = Vec::new();
    let mut values: Vec<rusqlite::types::Value> = Vec::with_capacity(5);
    if let Some(status) = query.status {
        values.push(status.as_str().to_owned().into());
        conditions.push(format!("status = ?{}", values.len()));
    }
    if let Some(customer_ref) = &query.customer_ref {
        values.push(customer_ref.clone().into());
        conditions.push(format!("customer_ref = ?{}", values.len()));
    }
    let (compare, direction) = match query.sort {
        Sort::Newest => ("<", "DESC"),
        Sort::Oldest => (">", "ASC"),
    };
    if let Some((time, id)) = &query.after {
        values.extend([timestamp::micros(*time).into(), (*id).into()]);
        conditions.push(format!("(created_at, id) {compare} (?{}, ?{})", values.len() - 1, values.len()));
    }
    values.push(i64::try_from(query.limit + 1).unwrap_or(i64::MAX).into());
    let filter = if conditions.is_empty() { String::new() } else { format!("WHERE {}", conditions.join(" AND ")) };
    let sql = format!(
        "SELECT {ORDER_COLUMNS} FROM orders {filter} ORDER BY created_at {direction}, id {direction} LIMIT ?{}",
        values.len()
    );
    let heads: Vec<OrderHead> = conn
        .prepare_cached(&sql)?
        .query_map(rusqlite::params_from_iter(values), order_head)?
        .collect::<Result<_, _>>()?;
    heads.into_iter().map(|head| order(conn, head)).collect()
}

/// The rows of the products among `ids` that exist.
fn products(conn: &Connection, ids: impl Iterator<Item = i64>) -> Result<Vec<StockRow>, StoreError> {
    let mut statement =
        conn.prepare_cached("SELECT id, sku, name, price_minor, currency, stock FROM products WHERE id = ?1")?;
    let mut rows = Vec::new();
    for id in ids {
        if let Some(row) = statement.query_row(params![id], stock_row).optional()? {
            let currency = Currency::parse(&row.4)
                .ok_or_else(|| StoreError::Other(anyhow::anyhow!("product {id} has an unknown currency")))?;
            rows.push(StockRow { id: row.0, sku: row.1, name: row.2, price_minor: row.3, currency, stock: row.5 });
        }
    }
    Ok(rows)
}

type StockColumns = (i64, String, String, i64, String, i64);

fn stock_row(row: &Row<'_>) -> rusqlite::Result<StockColumns> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?))
}

/// An order's own row, before its lines are read.
struct OrderHead {
    id: i64,
    status: String,
    customer_ref: Option<String>,
    currency: String,
    total_minor: i64,
    version: i64,
    created_at: i64,
    updated_at: i64,
}

fn order_head(row: &Row<'_>) -> rusqlite::Result<OrderHead> {
    Ok(OrderHead {
        id: row.get(0)?,
        status: row.get(1)?,
        customer_ref: row.get(2)?,
        currency: row.get(3)?,
        total_minor: row.get(4)?,
        version: row.get(5)?,
        created_at: row.get(6)?,
        updated_at: row.get(7)?,
    })
}

fn order(conn: &Connection, head: OrderHead) -> Result<Order, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT product_id, sku, name, unit_price_minor, quantity FROM order_lines WHERE order_id = ?1 ORDER BY line_no",
    )?;
    let lines = statement
        .query_map(params![head.id], |row| {
            Ok(OrderLine {
                product_id: row.get(0)?,
                sku: row.get(1)?,
                name: row.get(2)?,
                unit_price_minor: row.get(3)?,
                quantity: row.get(4)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    let corrupt = |column: &str| StoreError::Other(anyhow::anyhow!("order {} has an unknown {column}", head.id));
    let time = |micros: i64| timestamp::from_micros(micros).ok_or_else(|| corrupt("timestamp"));
    Ok(Order {
        id: head.id,
        status: Status::parse(&head.status).ok_or_else(|| corrupt("status"))?,
        customer_ref: head.customer_ref,
        lines,
        total_minor: head.total_minor,
        currency: Currency::parse(&head.currency).ok_or_else(|| corrupt("currency"))?,
        version: head.version,
        created_at: time(head.created_at)?,
        updated_at: time(head.updated_at)?,
    })
}
