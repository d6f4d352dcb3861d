//! Orders: multi-line orders that take stock atomically and never oversell,
//! placed at most once per Idempotency-Key.
//!
//! `handlers` → `input`/`listing` (parse at the edge) → `store` (PostgreSQL
//! or SQLite: locks, then `reserve` decides, then writes) → `model`.

mod handlers;
mod input;
mod listing;
mod model;
mod reserve;
mod store;

use axum::Router;
use axum::extract::FromRef;
use axum::routing::{get, post};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use model::{Order, OrderView, Status};
pub use store::OrderStore;

use crate::idempotency::IdempotencyStore;

/// The `/v1/orders` routes, as served.
pub fn router<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    OrderStore: FromRef<S>,
    IdempotencyStore: FromRef<S>,
{
    Router::new()
        .route("/v1/orders", post(handlers::create).get(handlers::list))
        .route("/v1/orders/{id}", get(handlers::get_one))
        .route("/v1/orders/{id}/cancel", post(handlers::cancel))
}

/// The same routes with their documentation (`crate::api::document`).
pub fn documented<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    OrderStore: FromRef<S>,
    IdempotencyStore: FromRef<S>,
{
    OpenApiRouter::new()
        .routes(routes!(handlers::create, handlers::list))
        .routes(routes!(handlers::get_one))
        .routes(routes!(handlers::cancel))
}
