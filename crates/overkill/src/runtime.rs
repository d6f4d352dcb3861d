//! The tokio runtime the service runs on: one definition for `main` and for
//! the tests that depend on its limits.

use std::num::NonZeroUsize;

use tokio::runtime::{Builder, Runtime};

/// The runtime for a service with `db_pool_size` database connections,
/// sized to the cores the process may run on (its CPU affinity and cgroup
/// quota). On one core it is tokio's single-threaded scheduler: with one
/// worker, the multi-threaded one only adds cross-thread wake-ups and
/// atomic hand-offs (arena/findings.md, issue 12). On more, it is the
/// multi-threaded scheduler with a worker per core.
///
/// Blocking threads run SQLite queries, each holding one connection, so
/// more of them than connections (the readers and the writer) would only
/// wait; the cap also bounds their memory under load. It is safe because
/// `db::sqlite` takes a thread only once it holds a connection.
pub fn build(db_pool_size: usize) -> std::io::Result<Runtime> {
    let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    let mut builder = if cores == 1 { Builder::new_current_thread() } else { Builder::new_multi_thread() };
    builder.enable_all().max_blocking_threads(db_pool_size + 1).build()
}
