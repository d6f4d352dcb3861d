//! Orders on PostgreSQL, in READ COMMITTED: the rows an order changes are
//! locked (`FOR UPDATE`) before they are read for the decision, products
//! always in ascending id order, so two orders never wait on each other in
//! a cycle; the caller retries the rare deadlock all the same. Placing is
//! four round trips: BEGIN, lock, one statement that writes everything,
//! COMMIT.

use chassis::Problem;
use chassis::conditional::Preconditions;
use deadpool_postgres::{GenericClient, Transaction};
use time::OffsetDateTime;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::db::StoreError;
use crate::money::Currency;
use crate::orders::listing::{ListQuery, Sort};
use crate::orders::model::{NewOrder, Order, OrderLine, Status};
use crate::orders::reserve::{Reservation, StockRow, reserve, restock};

const ORDER_COLUMNS: &str = "id, status, customer_ref, currency, total_minor, version, created_at, updated_at";

/// Places `new` in `tx`; `Err(problem)` when the domain refuses it (then
/// nothing was written).
pub async fn place(
    tx: &Transaction<'_>,
    new: &NewOrder,
    now: OffsetDateTime,
) -> Result<Result<Order, Problem>, StoreError> {
    let ids: Vec<i64> = new.lines.iter().map(|line| line.product_id).collect();
    let rows = lock_products(tx, &ids).await?;
    let reservation = match reserve(new, &rows) {
        Ok(reservation) => reservation,
        Err(problem) => return Ok(Err(problem)),
    };
    let id = write_order(tx, &ids, new, &reservation, now).await?;
    Ok(Ok(reservation.into_order(id, new.customer_ref.clone(), now)))
}

/// Cancels order `id` in `tx`: see `OrderStore::cancel`.
pub async fn cancel(
    tx: &Transaction<'_>,
    id: i64,
    preconditions: &Preconditions,
    now: OffsetDateTime,
) -> Result<Result<Order, Problem>, StoreError> {
    let lock = tx.prepare_cached(&format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1 FOR UPDATE")).await?;
    let Some(row) = tx.query_opt(&lock, &[&id]).await? else {
        return Ok(Err(super::not_found(id)));
    };
    let mut order = order(&row, lines(tx, &[id]).await?.pop().map(|(_, lines)| lines).unwrap_or_default())?;
    if !preconditions.if_match_allows(&order.etag()) {
        return Ok(Err(super::stale(&order)));
    }
    if order.status == Status::Cancelled {
        return Ok(Ok(order));
    }
    let ids: Vec<i64> = order.lines.iter().map(|line| line.product_id).collect();
    let rows = lock_products(tx, &ids).await?;
    let restored = match restock(&order, &rows) {
        Ok(restored) => restored,
        Err(problem) => return Ok(Err(problem)),
    };
    let (ids, stocks): (Vec<i64>, Vec<i64>) = restored.into_iter().unzip();
    let put_back = tx
        .prepare_cached(
            "UPDATE products AS p SET stock = d.stock, version = p.version + 1, updated_at = $3 \
             FROM unnest($1::bigint[], $2::bigint[]) AS d(id, stock) WHERE p.id = d.id",
        )
        .await?;
    tx.execute(&put_back, &[&ids, &stocks, &now]).await?;
    let mark = tx
        .prepare_cached("UPDATE orders SET status = 'cancelled', version = version + 1, updated_at = $2 WHERE id = $1")
        .await?;
    tx.execute(&mark, &[&id, &now]).await?;
    order.status = Status::Cancelled;
    order.version += 1;
    order.updated_at = now;
    Ok(Ok(order))
}

/// The order with `id`, if any.
pub async fn get(client: &impl GenericClient, id: i64) -> Result<Option<Order>, StoreError> {
    let statement = client.prepare_cached(&format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1")).await?;
    let Some(row) = client.query_opt(&statement, &[&id]).await? else { return Ok(None) };
    let lines = lines(client, &[id]).await?.pop().map(|(_, lines)| lines).unwrap_or_default();
    order(&row, lines).map(Some)
}

/// Up to `query.limit + 1` orders after the cursor, with their lines.
pub async fn list(client: &impl GenericClient, query: &ListQuery) -> Result<Vec<Order>, StoreError> {
    let mut conditions = Vec::new();
    let mut params: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(5);
    let status = query.status.map(Status::as_str);
    if let Some(status) = &status {
        params.push(status);
        conditions.push(format!("status = ${}", params.len()));
    }
    if let Some(customer_ref) = &query.customer_ref {
        params.push(customer_ref);
        conditions.push(format!("customer_ref = ${}", params.len()));
    }
    let (compare, direction) = match query.sort {
        Sort::Newest => ("<", "DESC"),
        Sort::Oldest => (">", "ASC"),
    };
    if let Some((time, id)) = &query.after {
        params.extend([time as &(dyn ToSql + Sync), id]);
        conditions.push(format!("(created_at, id) {compare} (${}, ${})", params.len() - 1, params.len()));
    }
    let limit = i64::try_from(query.limit + 1).unwrap_or(i64::MAX);
    params.push(&limit);
    let filter = if conditions.is_empty() { String::new() } else { format!("WHERE {}", conditions.join(" AND ")) };
    let sql = format!(
        "SELECT {ORDER_COLUMNS} FROM orders {filter} ORDER BY created_at {direction}, id {direction} LIMIT ${}",
        params.len()
    );
    let statement = client.prepare_cached(&sql).await?;
    let rows = client.query(&statement, &params).await?;
    let ids: Vec<i64> = rows.iter().map(|row| row.try_get(0)).collect::<Result<_, _>>()?;
    let mut lines = lines(client, &ids).await?;
    rows.iter()
        .map(|row| {
            let id: i64 = row.try_get(0)?;
            let at = lines.iter().position(|(order_id, _)| *order_id == id);
            order(row, at.map(|at| lines.swap_remove(at).1).unwrap_or_default())
        })
        .collect()
}

/// Locks the rows of the products with `ids` that exist, in ascending id
/// order, and reads them.
async fn lock_products(client: &impl GenericClient, ids: &[i64]) -> Result<Vec<StockRow>, StoreError> {
    let statement = client
        .prepare_cached(
            "SELECT id, sku, name, price_minor, currency, stock FROM products WHERE id = ANY($1) ORDER BY id FOR UPDATE",
        )
        .await?;
    client.query(&statement, &[&ids]).await?.iter().map(stock_row).collect()
}

/// Takes the stock, stores the order and its lines: one statement (data-
/// modifying CTEs), so one round trip where three would do the same.
async fn write_order(
    client: &impl GenericClient,
    ids: &[i64],
    new: &NewOrder,
    reservation: &Reservation,
    now: OffsetDateTime,
) -> Result<i64, StoreError> {
    const SQL: &str = "WITH take AS ( \
            UPDATE products AS p SET stock = p.stock - d.quantity, version = p.version + 1, updated_at = $3 \
            FROM unnest($1::bigint[], $2::bigint[]) AS d(id, quantity) WHERE p.id = d.id \
        ), placed AS ( \
            INSERT INTO orders (status, customer_ref, currency, total_minor, version, created_at, updated_at) \
            VALUES ('placed', $4, $5, $6, 1, $3, $3) RETURNING id \
        ), lines AS ( \
            INSERT INTO order_lines (order_id, line_no, product_id, sku, name, unit_price_minor, quantity) \
            SELECT placed.id, d.* FROM placed, \
                unnest($7::int[], $1::bigint[], $8::text[], $9::text[], $10::bigint[], $2::bigint[]) \
                AS d(line_no, product_id, sku, name, unit_price_minor, quantity) \
        ) SELECT id FROM placed";
    let statement = client.prepare_cached(SQL).await?;
    let lines = &reservation.lines;
    let quantities: Vec<i64> = new.lines.iter().map(|line| line.quantity).collect();
    let numbers: Vec<i32> = (0..lines.len() as i32).collect();
    let skus: Vec<&str> = lines.iter().map(|line| line.sku.as_str()).collect();
    let names: Vec<&str> = lines.iter().map(|line| line.name.as_str()).collect();
    let prices: Vec<i64> = lines.iter().map(|line| line.unit_price_minor).collect();
    let currency = reservation.currency.code();
    let params: [&(dyn ToSql + Sync); 10] = [
        &ids,
        &quantities,
        &now,
        &new.customer_ref,
        &currency,
        &reservation.total_minor,
        &numbers,
        &skus,
        &names,
        &prices,
    ];
    Ok(client.query_one(&statement, &params).await?.try_get(0)?)
}

/// The lines of the orders `ids`, grouped by order, each in line order.
async fn lines(client: &impl GenericClient, ids: &[i64]) -> Result<Vec<(i64, Vec<OrderLine>)>, StoreError> {
    let statement = client
        .prepare_cached(
            "SELECT order_id, product_id, sku, name, unit_price_minor, quantity FROM order_lines \
             WHERE order_id = ANY($1) ORDER BY order_id, line_no",
        )
        .await?;
    let mut grouped: Vec<(i64, Vec<OrderLine>)> = Vec::with_capacity(ids.len());
    for row in client.query(&statement, &[&ids]).await? {
        let order_id: i64 = row.try_get(0)?;
        let line = OrderLine {
            product_id: row.try_get(1)?,
            sku: row.try_get(2)?,
            name: row.try_get(3)?,
            unit_price_minor: row.try_get(4)?,
            quantity: row.try_get(5)?,
        };
        match grouped.last_mut() {
            Some((id, lines)) if *id == order_id => lines.push(line),
            _ => grouped.push((order_id, vec![line])),
        }
    }
    Ok(grouped)
}

fn order(row: &Row, lines: Vec<OrderLine>) -> Result<Order, StoreError> {
    let status: String = row.try_get(1)?;
    let currency: String = row.try_get(3)?;
    let id: i64 = row.try_get(0)?;
    Ok(Order {
        id,
        status: Status::parse(&status).ok_or_else(|| corrupt(id, "status"))?,
        customer_ref: row.try_get(2)?,
        lines,
        total_minor: row.try_get(4)?,
        currency: Currency::parse(&currency).ok_or_else(|| corrupt(id, "currency"))?,
        version: row.try_get(5)?,
        created_at: row.try_get(6)?,
        updated_at: row.try_get(7)?,
    })
}

fn stock_row(row: &Row) -> Result<StockRow, StoreError> {
    let id: i64 = row.try_get(0)?;
    let currency: String = row.try_get(4)?;
    Ok(StockRow {
        id,
        sku: row.try_get(1)?,
        name: row.try_get(2)?,
        price_minor: row.try_get(3)?,
        currency: Currency::parse(&currency)
            .ok_or_else(|| StoreError::Other(anyhow::anyhow!("product {id} has an unknown currency")))?,
        stock: row.try_get(5)?,
    })
}

fn corrupt(id: i64, column: &str) -> StoreError {
    StoreError::Other(anyhow::anyhow!("order {id} has an unknown {column}"))
}
