//! The tokio runtime the service runs on: one definition for `main` and for
//! the tests that depend on its limits.

use tokio::runtime::{Builder, Runtime};

/// A multi-threaded runtime for a service with `db_pool_size` database
/// connections. Blocking threads run SQLite queries, each holding one
/// connection, so more of them than connections (the readers and the writer)
/// would only wait; the cap also bounds their memory under load. It is safe
/// because `db::sqlite` takes a thread only once it holds a connection.
pub fn build(db_pool_size: usize) -> std::io::Result<Runtime> {
    Builder::new_multi_thread().enable_all().max_blocking_threads(db_pool_size + 1).build()
}
