//! Products on SQLite. Timestamps are stored as microseconds since the
//! epoch. Each function runs on the connection (a reader, or the writer's
//! transaction) it is given; the caller decides the unit of work.

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params};
use time::OffsetDateTime;

use super::sql::{Dialect, columns, list_statement};
use crate::db::StoreError;
use crate::db::sqlite::returning;
use crate::products::listing::{After, ListQuery};
use crate::products::model::{NewProduct, Product, ProductFields, StoredRow};
use crate::timestamp;

/// Inserts `new` at version 1.
pub fn create(conn: &Connection, new: &NewProduct, now: OffsetDateTime) -> Result<Product, StoreError> {
    const SQL: &str = concat!(
        "INSERT INTO products (sku, name, name_folded, description, price_minor, currency, stock, version, created_at, updated_at) ",
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, ?8, ?8) RETURNING ",
        columns!()
    );
    let f = &new.fields;
    let params = params![
        new.sku.as_str(),
        f.name,
        f.name_folded(),
        f.description,
        f.price_minor,
        f.currency.code(),
        f.stock,
        timestamp::micros(now)
    ];
    let row = returning(&mut *conn.prepare_cached(SQL)?, params, stored_row)?;
    product(row.ok_or(rusqlite::Error::QueryReturnedNoRows)?)
}

/// The product with `id`, if any.
pub fn get(conn: &Connection, id: i64) -> Result<Option<Product>, StoreError> {
    let mut statement = conn.prepare_cached(concat!("SELECT ", columns!(), " FROM products WHERE id = ?1"))?;
    statement.query_row([id], stored_row).optional()?.map(product).transpose()
}

/// Sets the fields of product `id` if it is at `version`; see `ProductStore::update`.
pub fn update(
    conn: &Connection,
    id: i64,
    version: i64,
    f: &ProductFields,
    now: OffsetDateTime,
) -> Result<Option<Product>, StoreError> {
    const SQL: &str = concat!(
        "UPDATE products SET name = ?3, name_folded = ?4, description = ?5, price_minor = ?6, currency = ?7, ",
        "stock = ?8, version = version + 1, updated_at = ?9 WHERE id = ?1 AND version = ?2 RETURNING ",
        columns!()
    );
    let params = params![
        id,
        version,
        f.name,
        f.name_folded(),
        f.description,
        f.price_minor,
        f.currency.code(),
        f.stock,
        timestamp::micros(now)
    ];
    returning(&mut *conn.prepare_cached(SQL)?, params, stored_row)?.map(product).transpose()
}

/// Deletes product `id` (only at `version`, when given); whether a row went.
pub fn delete(conn: &Connection, id: i64, version: Option<i64>) -> Result<bool, StoreError> {
    let mut statement = conn.prepare_cached("DELETE FROM products WHERE id = ?1 AND (?2 IS NULL OR version = ?2)")?;
    Ok(statement.execute(params![id, version])? > 0)
}

/// Up to `query.limit + 1` products after the cursor.
pub fn list(conn: &Connection, query: &ListQuery) -> Result<Vec<Product>, StoreError> {
    let f = &query.filters;
    let mut values: Vec<Value> = Vec::with_capacity(6);
    values.extend(f.name_pattern.clone().map(Value::Text));
    values.extend(f.min_price.map(Value::Integer));
    values.extend(f.max_price.map(Value::Integer));
    match &query.after {
        Some(After::Time(time, id)) => values.extend([Value::Integer(timestamp::micros(*time)), Value::Integer(*id)]),
        Some(After::Price(price, id)) => values.extend([Value::Integer(*price), Value::Integer(*id)]),
        Some(After::Name(name, id)) => values.extend([Value::Text(name.clone()), Value::Integer(*id)]),
        None => {}
    }
    values.push(Value::Integer(i64::try_from(query.limit + 1).unwrap_or(i64::MAX)));
    let sql = list_statement(Dialect::Sqlite, query.sort, f, query.after.is_some());
    let mut statement = conn.prepare_cached(&sql)?;
    let rows = statement.query_map(rusqlite::params_from_iter(values), stored_row)?;
    rows.map(|row| product(row?)).collect()
}

fn stored_row(row: &Row<'_>) -> rusqlite::Result<StoredRow> {
    let time = |index: usize| -> rusqlite::Result<OffsetDateTime> {
        let micros: i64 = row.get(index)?;
        timestamp::from_micros(micros).ok_or(rusqlite::Error::IntegralValueOutOfRange(index, micros))
    };
    Ok(StoredRow {
        id: row.get(0)?,
        sku: row.get(1)?,
        name: row.get(2)?,
        description: row.get(3)?,
        price_minor: row.get(4)?,
        currency: row.get(5)?,
        stock: row.get(6)?,
        version: row.get(7)?,
        created_at: time(8)?,
        updated_at: time(9)?,
    })
}

fn product(row: StoredRow) -> Result<Product, StoreError> {
    Product::try_from(row).map_err(StoreError::Other)
}
