//! Products on PostgreSQL. Each function runs on the connection or
//! transaction it is given; the caller decides the unit of work.

use deadpool_postgres::GenericClient;
use time::OffsetDateTime;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::sql::{Dialect, columns, list_statement};
use crate::db::StoreError;
use crate::products::listing::{After, ListQuery};
use crate::products::model::{NewProduct, Product, ProductFields, StoredRow};

/// Inserts `new` at version 1.
pub async fn create(client: &impl GenericClient, new: &NewProduct, now: OffsetDateTime) -> Result<Product, StoreError> {
    const SQL: &str = concat!(
        "INSERT INTO products (sku, name, name_folded, description, price_minor, currency, stock, version, created_at, updated_at) ",
        "VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $8) RETURNING ",
        columns!()
    );
    let statement = client.prepare_cached(SQL).await?;
    let f = &new.fields;
    let params: [&(dyn ToSql + Sync); 8] = [
        &new.sku.as_str(),
        &f.name,
        &f.name_folded(),
        &f.description,
        &f.price_minor,
        &f.currency.code(),
        &f.stock,
        &now,
    ];
    product(&client.query_one(&statement, &params).await?)
}

/// The product with `id`, if any.
pub async fn get(client: &impl GenericClient, id: i64) -> Result<Option<Product>, StoreError> {
    let statement = client.prepare_cached(concat!("SELECT ", columns!(), " FROM products WHERE id = $1")).await?;
    client.query_opt(&statement, &[&id]).await?.as_ref().map(product).transpose()
}

/// Sets the fields of product `id` if it is at `version`; see `ProductStore::update`.
pub async fn update(
    client: &impl GenericClient,
    id: i64,
    version: i64,
    f: &ProductFields,
    now: OffsetDateTime,
) -> Result<Option<Product>, StoreError> {
    const SQL: &str = concat!(
        "UPDATE products SET name = $3, name_folded = $4, description = $5, price_minor = $6, currency = $7, ",
        "stock = $8, version = version + 1, updated_at = $9 WHERE id = $1 AND version = $2 RETURNING ",
        columns!()
    );
    let statement = client.prepare_cached(SQL).await?;
    let params: [&(dyn ToSql + Sync); 9] =
        [&id, &version, &f.name, &f.name_folded(), &f.description, &f.price_minor, &f.currency.code(), &f.stock, &now];
    client.query_opt(&statement, &params).await?.as_ref().map(product).transpose()
}

/// Deletes product `id` (only at `version`, when given); whether a row went.
pub async fn delete(client: &impl GenericClient, id: i64, version: Option<i64>) -> Result<bool, StoreError> {
    let statement =
        client.prepare_cached("DELETE FROM products WHERE id = $1 AND ($2::bigint IS NULL OR version = $2)").await?;
    Ok(client.execute(&statement, &[&id, &version]).await? > 0)
}

/// Up to `query.limit + 1` products after the cursor.
pub async fn list(client: &impl GenericClient, query: &ListQuery) -> Result<Vec<Product>, StoreError> {
    let f = &query.filters;
    let sql = list_statement(Dialect::Postgres, query.sort, f, query.after.is_some());
    let statement = client.prepare_cached(&sql).await?;
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
    match &query.after {
        Some(After::Time(time, id)) => params.extend([time as &(dyn ToSql + Sync), id]),
        Some(After::Price(price, id)) => params.extend([price as &(dyn ToSql + Sync), id]),
        Some(After::Name(name, id)) => params.extend([name as &(dyn ToSql + Sync), id]),
        None => {}
    }
    params.push(&limit);
    let rows = client.query(&statement, &params).await?;
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
