//! Products on SQLite. Timestamps are stored as microseconds since the epoch.

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params};
use time::OffsetDateTime;

use super::sql::{Dialect, columns, list_statement};
use crate::db::StoreError;
use crate::db::sqlite::{SqliteDb, returning};
use crate::products::listing::{ListQuery, SortKey};
use crate::products::model::{NewProduct, Product, ProductFields, StoredRow};
use crate::timestamp;

pub async fn create(db: &SqliteDb, new: NewProduct, now: OffsetDateTime) -> Result<Product, StoreError> {
    let row = db
        .transaction(move |conn| {
            const SQL: &str = concat!(
                "INSERT INTO products (sku, name, name_folded, description, price_minor, currency, stock, version, created_at, updated_at) ",
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, ?8, ?8) RETURNING ",
                columns!()
            );
            let f = &new.fields;
            let row = returning(
                &mut *conn.prepare_cached(SQL)?,
                params![new.sku.as_str(), f.name, f.name_folded(), f.description, f.price_minor, f.currency.code(), f.stock, timestamp::micros(now)],
                stored_row,
            )?;
            row.ok_or(rusqlite::Error::QueryReturnedNoRows)
        })
        .await?;
    product(row)
}

pub async fn get(db: &SqliteDb, id: i64) -> Result<Option<Product>, StoreError> {
    let row = db
        .read(move |conn| {
            conn.prepare_cached(concat!("SELECT ", columns!(), " FROM products WHERE id = ?1"))?
                .query_row([id], stored_row)
                .optional()
        })
        .await?;
    row.map(product).transpose()
}

pub async fn update(
    db: &SqliteDb,
    id: i64,
    version: i64,
    f: ProductFields,
    now: OffsetDateTime,
) -> Result<Option<Product>, StoreError> {
    let row = db
        .transaction(move |conn| {
            const SQL: &str = concat!(
                "UPDATE products SET name = ?3, name_folded = ?4, description = ?5, price_minor = ?6, currency = ?7, ",
                "stock = ?8, version = version + 1, updated_at = ?9 WHERE id = ?1 AND version = ?2 RETURNING ",
                columns!()
            );
            returning(
                &mut *conn.prepare_cached(SQL)?,
                params![
                    id,
                    version,
                    f.name,
                    f.name_folded(),
                    f.description,
                    f.price_minor,
                    f.currency.code(),
                    f.stock,
                    timestamp::micros(now)
                ],
                stored_row,
            )
        })
        .await?;
    row.map(product).transpose()
}

pub async fn delete(db: &SqliteDb, id: i64, version: Option<i64>) -> Result<bool, StoreError> {
    db.transaction(move |conn| {
        conn.prepare_cached("DELETE FROM products WHERE id = ?1 AND (?2 IS NULL OR version = ?2)")?
            .execute(params![id, version])
            .map(|deleted| deleted > 0)
    })
    .await
}

pub async fn list(db: &SqliteDb, query: ListQuery) -> Result<Vec<Product>, StoreError> {
    let rows = db.read(move |conn| list_rows(conn, &query)).await?;
    rows.into_iter().map(product).collect()
}

fn list_rows(conn: &Connection, query: &ListQuery) -> rusqlite::Result<Vec<StoredRow>> {
    let f = &query.filters;
    let mut values: Vec<Value> = Vec::with_capacity(6);
    values.extend(f.name_pattern.clone().map(Value::Text));
    values.extend(f.min_price.map(Value::Integer));
    values.extend(f.max_price.map(Value::Integer));
    if let Some((key, id)) = &query.after {
        values.push(match key {
            SortKey::Number(number) => Value::Integer(*number),
            SortKey::Text(text) => Value::Text(text.clone()),
        });
        values.push(Value::Integer(*id));
    }
    values.push(Value::Integer(i64::try_from(query.limit + 1).unwrap_or(i64::MAX)));
    let sql = list_statement(Dialect::Sqlite, query.sort, f, query.after.is_some());
    let mut statement = conn.prepare_cached(&sql)?;
    let rows = statement.query_map(rusqlite::params_from_iter(values), stored_row)?;
    rows.collect()
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
