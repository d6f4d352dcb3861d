//! Where products are stored: one interface, a PostgreSQL and a SQLite
//! implementation that behave identically.
//!
//! `postgres` and `sqlite` hold functions that take a connection or a
//! transaction, visible to the crate so that a feature spanning tables
//! (orders reserving stock) can call them inside its own transaction. [`ProductStore`] is the caller for
//! the products routes: each of its operations is one statement, atomic by
//! itself, so on PostgreSQL it runs without BEGIN/COMMIT (two round trips
//! saved) on a connection shared with other requests' statements
//! (`PgPool::shared`, pipelined); on SQLite every write runs in a
//! transaction on the writer, the only way to write there.

mod constraints;
pub(crate) mod postgres;
mod sql;
pub(crate) mod sqlite;

use time::OffsetDateTime;

pub use self::constraints::on_constraint;
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

    /// Inserts a product with version 1; a duplicate sku is a
    /// `UniqueViolation` of [`constraints::SKU_KEY`].
    pub async fn create(&self, new: NewProduct, now: OffsetDateTime) -> Result<Product, StoreError> {
        match &self.db {
            Database::Postgres(pool) => postgres::create(&*pool.shared().await?, &new, now).await,
            Database::Sqlite(db) => db.transaction(move |tx| sqlite::create(tx, &new, now)).await,
        }
    }

    /// The product with `id`, if any.
    pub async fn get(&self, id: i64) -> Result<Option<Product>, StoreError> {
        match &self.db {
            Database::Postgres(pool) => postgres::get(&*pool.shared().await?, id).await,
            Database::Sqlite(db) => db.read(move |conn| sqlite::get(conn, id)).await,
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
            Database::Postgres(pool) => postgres::update(&*pool.shared().await?, id, version, &fields, now).await,
            Database::Sqlite(db) => db.transaction(move |tx| sqlite::update(tx, id, version, &fields, now)).await,
        }
    }

    /// Deletes product `id` (only at `version`, when given); whether a row went.
    pub async fn delete(&self, id: i64, version: Option<i64>) -> Result<bool, StoreError> {
        match &self.db {
            Database::Postgres(pool) => postgres::delete(&*pool.shared().await?, id, version).await,
            Database::Sqlite(db) => db.transaction(move |tx| sqlite::delete(tx, id, version)).await,
        }
    }

    /// Up to `query.limit + 1` products in order, after the cursor: one more
    /// than a page, to tell whether another page follows.
    pub async fn list(&self, query: &ListQuery) -> Result<Vec<Product>, StoreError> {
        match &self.db {
            Database::Postgres(pool) => postgres::list(&*pool.shared().await?, query).await,
            Database::Sqlite(db) => {
                let query = query.clone();
                db.read(move |conn| sqlite::list(conn, &query)).await
            }
        }
    }
}
