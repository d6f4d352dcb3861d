//! Products: the catalogue, with stock, prices and optimistic concurrency.
//!
//! `handlers` → `input`/`listing` (parse at the edge) → `store` (PostgreSQL
//! or SQLite) → `model`.

mod cursor;
mod handlers;
mod id;
mod input;
mod listing;
mod model;
pub(crate) mod store;

use axum::Router;
use axum::extract::FromRef;
use axum::routing::{get, post};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use model::{MAX_STOCK, Product, ProductView};
pub use store::ProductStore;

use crate::fx::Fx;

/// The `/v1/products` routes, as served.
pub fn router<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    ProductStore: FromRef<S>,
    Fx: FromRef<S>,
{
    Router::new()
        .route("/v1/products", post(handlers::create).get(handlers::list))
        .route("/v1/products/{id}", get(handlers::get_one).patch(handlers::patch).delete(handlers::delete))
}

/// The same routes with their documentation (`crate::api::document`).
pub fn documented<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    ProductStore: FromRef<S>,
    Fx: FromRef<S>,
{
    OpenApiRouter::new().routes(routes!(handlers::create, handlers::list)).routes(routes!(
        handlers::get_one,
        handlers::patch,
        handlers::delete
    ))
}
