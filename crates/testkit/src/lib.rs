//! Test harness shared by the workspace's integration tests.
//!
//! - [`postgres`]: a real PostgreSQL for tests — `DATABASE_URL` when set,
//!   otherwise a throwaway cluster started from `initdb`/`postgres` — and a
//!   fresh database per test, dropped afterwards.
//! - [`chaos`]: a TCP proxy that can cut a link on demand, to test how the
//!   service behaves when its database goes away and comes back.
//! - [`upstream`]: a real HTTP/1.1 upstream (echo, stream, stall, reset,
//!   any status) that counts its connections, for the proxy tests.

#![allow(clippy::unwrap_used)]

pub mod chaos;
pub mod postgres;
pub mod upstream;
