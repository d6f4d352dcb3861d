//! The service as operators see it: probes, metrics, limits, shutdown, the
//! command line and migrations. These start the service in-process (they
//! need to reach inside: trigger shutdown, cut the database link), so they
//! are not part of the conformance suite.

#![allow(clippy::unwrap_used)]

#[path = "../support/mod.rs"]
mod support;

mod cli;
mod connections;
mod durability;
mod idempotency;
mod lifecycle;
mod limits;
mod observability;
mod proxy_memory;
mod sqlite;
mod storage;
