//! The overkill service: a products API (orders, FX prices and proxy routes
//! to come) on the [`chassis`].
//!
//! Where a request goes: `chassis::server` → `chassis::middleware` →
//! [`api`] (routes) → a feature's `handlers` (e.g. [`products`]) → its
//! `store` → [`db`] (PostgreSQL or SQLite).

pub mod api;
mod ballast;
pub mod cli;
pub mod config;
pub mod db;
pub mod money;
pub mod products;
pub mod runtime;
pub mod startup;
pub mod timestamp;

pub use config::Config;
pub use startup::Application;
