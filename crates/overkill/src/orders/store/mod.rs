//! Where orders are stored: one interface, a PostgreSQL and a SQLite
//! implementation that behave identically. Placing and cancelling are one
//! transaction each — the products' rows locked in id order, the domain's
//! decision ([`super::reserve`]), the writes, and the idempotency key's
//! answer — so an order exists exactly when its stock was taken and its key
//! answered.

mod postgres;
mod sqlite;

use std::sync::Arc;

use chassis::Problem;
use chassis::conditional::Preconditions;
use chassis::idempotency::StoredResponse;
use time::OffsetDateTime;

use super::listing::ListQuery;
use super::model::{NewOrder, Order};
use crate::db::postgres::IsolationLevel;
use crate::db::{Database, StoreError};
use crate::idempotency::{self, Completion};

/// Turns the outcome of placing or cancelling into the answer the client
/// sees (and an idempotent retry replays).
pub type Answer = Arc<dyn Fn(&Result<Order, Problem>) -> StoredResponse + Send + Sync>;

/// The order repository.
#[derive(Clone)]
pub struct OrderStore {
    db: Database,
}

// === impl OrderStore ===

impl OrderStore {
    /// A repository over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Places `new` if every product has the stock, else changes nothing;
    /// either way the answer is stored under `completion`'s key, if any, in
    /// the same transaction.
    pub async fn place(
        &self,
        new: NewOrder,
        now: OffsetDateTime,
        completion: Option<Completion>,
        answer: Answer,
    ) -> Result<StoredResponse, StoreError> {
        match &self.db {
            Database::Postgres(pool) => {
                pool.transaction(IsolationLevel::ReadCommitted, |tx| {
                    let (new, completion, answer) = (new.clone(), completion.clone(), answer.clone());
                    Box::pin(async move {
                        let response = answer(&postgres::place(tx, &new, now).await?);
                        if let Some(completion) = &completion {
                            idempotency::complete_postgres(tx, completion, &response).await?;
                        }
                        Ok(response)
                    })
                })
                .await
            }
            Database::Sqlite(db) => {
                db.transaction(move |tx| {
                    let response = answer(&sqlite::place(tx, &new, now)?);
                    if let Some(completion) = &completion {
                        idempotency::complete_sqlite(tx, completion, &response)?;
                    }
                    Ok(response)
                })
                .await
            }
        }
    }

    /// Cancels order `id` if `preconditions` allow, returning its stock
    /// once; see [`Self::place`] for the answer.
    pub async fn cancel(
        &self,
        id: i64,
        preconditions: Preconditions,
        now: OffsetDateTime,
        completion: Option<Completion>,
        answer: Answer,
    ) -> Result<StoredResponse, StoreError> {
        match &self.db {
            Database::Postgres(pool) => {
                pool.transaction(IsolationLevel::ReadCommitted, |tx| {
                    let (preconditions, completion, answer) =
                        (preconditions.clone(), completion.clone(), answer.clone());
                    Box::pin(async move {
                        let response = answer(&postgres::cancel(tx, id, &preconditions, now).await?);
                        if let Some(completion) = &completion {
                            idempotency::complete_postgres(tx, completion, &response).await?;
                        }
                        Ok(response)
                    })
                })
                .await
            }
            Database::Sqlite(db) => {
                db.transaction(move |tx| {
                    let response = answer(&sqlite::cancel(tx, id, &preconditions, now)?);
                    if let Some(completion) = &completion {
                        idempotency::complete_sqlite(tx, completion, &response)?;
                    }
                    Ok(response)
                })
                .await
            }
        }
    }

    /// The order with `id`, if any.
    pub async fn get(&self, id: i64) -> Result<Option<Order>, StoreError> {
        match &self.db {
            Database::Postgres(pool) => postgres::get(&*pool.shared().await?, id).await,
            Database::Sqlite(db) => db.read(move |conn| sqlite::get(conn, id)).await,
        }
    }

    /// Up to `query.limit + 1` orders after the cursor: one more than a
    /// page, to tell whether another page follows.
    pub async fn list(&self, query: &ListQuery) -> Result<Vec<Order>, StoreError> {
        match &self.db {
            Database::Postgres(pool) => postgres::list(&*pool.shared().await?, query).await,
            Database::Sqlite(db) => {
                let query = query.clone();
                db.read(move |conn| sqlite::list(conn, &query)).await
            }
        }
    }
}

/// 404 for order `id`.
pub fn not_found(id: impl std::fmt::Display) -> Problem {
    Problem::not_found(format!("there is no order with id {id}"))
}

/// 412: `If-Match` names another version of `order`.
pub fn stale(order: &Order) -> Problem {
    Problem::precondition_failed(format!("the order is at ETag {}; fetch it and retry", order.etag()))
}
