//! The overkill service: a products catalogue and orders over HTTP, on
//! PostgreSQL or embedded SQLite, built on the [`chassis`].
//!
//! Where a request goes: `chassis::server` → `chassis::middleware` →
//! [`api`] (routes) → a feature's `handlers` ([`products`], [`orders`]) →
//! its `store` → [`db`] (PostgreSQL or SQLite). Orders guard their writes
//! with [`idempotency`] keys, stored in the same transactions. Prices are
//! converted through [`fx`], which calls an exchange-rate provider.

pub mod api;
mod ballast;
pub mod cli;
pub mod config;
mod cursor;
pub mod db;
pub mod dev_cert;
pub mod fx;
pub mod idempotency;
mod json;
pub mod money;
pub mod orders;
mod page;
mod path_id;
pub mod products;
pub mod proxy;
pub mod runtime;
pub mod startup;
pub mod timestamp;

pub use config::Config;
pub use startup::Application;
