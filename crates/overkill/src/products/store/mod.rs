//! Where products are stored: one interface, a PostgreSQL and a SQLite
//! implementation that behave identically.

mod postgres;
mod sql;
mod sqlite;

use time::OffsetDateTime;

use super::listing::ListQuery;
use super::model::{NewProduct, Product, ProductFields};
use crate::db::{Database, StoreError};

/// The product repository.
#[derive(Clone)]
pub struct ProductStore {
    db: Database,
}

// === impl ProductStore ===

impl ProductStore {
    /// A repository over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Inserts a product with version 1; a duplicate sku is a `Conflict`.
    pub async fn create(&self, new: NewProduct, now: OffsetDateTime) -> Result<Product, StoreError> {
        match &self.db {
            Database::Postgres(pool) => postgres::create(pool, new, now).await,
            Database::Sqlite(db) => sqlite::create(db, new, now).await,
        }
    }

    /// The product with `id`, if any.
    pub async fn get(&self, id: i64) -> Result<Option<Product>, StoreError> {
        match &self.db {
            Database::Postgres(pool) => postgres::get(pool, id).await,
            Database::Sqlite(db) => sqlite::get(db, id).await,
        }
    }

    /// Replaces the fields of product `id` if it is still at `version`,
    /// bumping the version. `None` when the product is gone or has moved on:
    /// the compare-and-swap that makes concurrent changes safe.
    pub async fn update(
        &self,
        id: i64,
        version: i64,
        fields: ProductFields,
        now: OffsetDateTime,
    ) -> Result<Option<Product>, StoreError> {
        match &self.db {
            Database::Postgres(pool) => postgres::update(pool, id, version, fields, now).await,
            Database::Sqlite(db) => sqlite::update(db, id, version, fields, now).await,
        }
    }

    /// Deletes product `id` (only at `version`, when given); whether a row went.
    pub async fn delete(&self, id: i64, version: Option<i64>) -> Result<bool, StoreError> {
        match &self.db {
            Database::Postgres(pool) => postgres::delete(pool, id, version).await,
            Database::Sqlite(db) => sqlite::delete(db, id, version).await,
        }
    }

    /// Up to `query.limit + 1` products in order, after the cursor: one more
    /// than a page, to tell whether another page follows.
    pub async fn list(&self, query: &ListQuery) -> Result<Vec<Product>, StoreError> {
        match &self.db {
            Database::Postgres(pool) => postgres::list(pool, query).await,
            Database::Sqlite(db) => sqlite::list(db, query.clone()).await,
        }
    }
}
