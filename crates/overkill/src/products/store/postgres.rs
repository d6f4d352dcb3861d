//! Products on PostgreSQL.

use time::OffsetDateTime;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::sql::{Dialect, columns, list_statement};
use crate::db::StoreError;
use crate::db::postgres::{PgPool, classify};
use crate::products::listing::{ListQuery, SortKey};
use crate::products::model::{NewProduct, Product, ProductFields, StoredRow};
use crate::timestamp;

pub async fn create(pool: &PgPool, new: NewProduct, now: OffsetDateTime) -> Result<Product, StoreError> {
    const SQL: &str = concat!(
        "INSERT INTO products (sku, name, name_folded, description, price_minor, currency, stock, version, created_at, updated_at) ",
        "VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $8) RETURNING ",
        columns!()
    );
    let client = pool.get().await?;
    let statement = client.prepare_cached(SQL).await.map_err(classify)?;
    let f = &new.fields;
    let row = client
        .query_one(
            &statement,
            &[
                &new.sku.as_str(),
                &f.name,
                &f.name_folded(),
                &f.description,
                &f.price_minor,
                &f.currency.code(),
                &f.stock,
                &now,
            ],
        )
        .await
        .map_err(classify)?;
    product(&row)
}

pub async fn get(pool: &PgPool, id: i64) -> Result<Option<Product>, StoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(concat!("SELECT ", columns!(), " FROM products WHERE id = $1"))
        .await
        .map_err(classify)?;
    let row = client.query_opt(&statement, &[&id]).await.map_err(classify)?;
    row.as_ref().map(product).transpose()
}

pub async fn update(
    pool: &PgPool,
    id: i64,
    version: i64,
    f: ProductFields,
    now: OffsetDateTime,
) -> Result<Option<Product>, StoreError> {
    const SQL: &str = concat!(
        "UPDATE products SET name = $3, name_folded = $4, description = $5, price_minor = $6, currency = $7, ",
        "stock = $8, version = version + 1, updated_at = $9 WHERE id = $1 AND version = $2 RETURNING ",
        columns!()
    );
    let client = pool.get().await?;
    let statement = client.prepare_cached(SQL).await.map_err(classify)?;
    let row = client
        .query_opt(
            &statement,
            &[
                &id,
                &version,
                &f.name,
                &f.name_folded(),
                &f.description,
                &f.price_minor,
                &f.currency.code(),
                &f.stock,
                &now,
            ],
        )
        .await
        .map_err(classify)?;
    row.as_ref().map(product).transpose()
}

pub async fn delete(pool: &PgPool, id: i64, version: Option<i64>) -> Result<bool, StoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached("DELETE FROM products WHERE id = $1 AND ($2::bigint IS NULL OR version = $2)")
        .await
        .map_err(classify)?;
    let deleted = client.execute(&statement, &[&id, &version]).await.map_err(classify)?;
    Ok(deleted > 0)
}

pub async fn list(pool: &PgPool, query: &ListQuery) -> Result<Vec<Product>, StoreError> {
    let f = &query.filters;
    let sql = list_statement(Dialect::Postgres, query.sort, f, query.after.is_some());
    let client = pool.get().await?;
    let statement = client.prepare_cached(&sql).await.map_err(classify)?;
    let limit = i64::try_from(query.limit + 1).unwrap_or(i64::MAX);
    let mut params: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(6);
    if let Some(pattern) = &f.name_pattern {
        params.push(pattern);
    }
    if let Some(min) = &f.min_price {
        params.push(min);
    }
    if let Some(max) = &f.max_price {
        params.push(max);
    }
    // The key's SQL type follows the sort: timestamptz, bigint or text.
    let time_key = match &query.after {
        Some((SortKey::Number(micros), _)) if query.sort.is_by_time() => timestamp::from_micros(*micros),
        _ => None,
    };
    if let Some((key, id)) = &query.after {
        match (key, &time_key) {
            (_, Some(time)) => params.push(time),
            (SortKey::Number(number), None) => params.push(number),
            (SortKey::Text(text), None) => params.push(text),
        }
        params.push(id);
    }
    params.push(&limit);
    let rows = client.query(&statement, &params).await.map_err(classify)?;
    rows.iter().map(product).collect()
}

fn product(row: &Row) -> Result<Product, StoreError> {
    let read = || -> Result<StoredRow, tokio_postgres::Error> {
        Ok(StoredRow {
            id: row.try_get(0)?,
            sku: row.try_get(1)?,
            name: row.try_get(2)?,
            description: row.try_get(3)?,
            price_minor: row.try_get(4)?,
            currency: row.try_get(5)?,
            stock: row.try_get(6)?,
            version: row.try_get(7)?,
            created_at: row.try_get(8)?,
            updated_at: row.try_get(9)?,
        })
    };
    let stored = read().map_err(|error| StoreError::Other(error.into()))?;
    Product::try_from(stored).map_err(StoreError::Other)
}
