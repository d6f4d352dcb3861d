//! Black-box tests of the public API over real HTTP, each run on SQLite and
//! on PostgreSQL — or, in conformance mode, against any server implementing
//! docs/API.md (see `support`).

#![allow(clippy::unwrap_used)]

#[path = "../support/mod.rs"]
mod support;

mod crud;
mod errors;
mod listing;
mod openapi;
mod orders;
