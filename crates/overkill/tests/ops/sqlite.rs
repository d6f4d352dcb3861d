//! Embedded SQLite under sustained writes: the write-ahead log stays bounded
//! and is truncated at shutdown. (Reads under a held write lock are in
//! `tests/sqlite_contention.rs`, a binary of their own.)

use overkill::config::DatabaseUrl;

use crate::support::{new_product, spawn_app_on};

/// Enough creates to write well over `WAL_BOUND` of log frames (each create
/// writes about 28 KiB: the row, four index pages, the sequence), so a log
/// that is never checkpointed exceeds the bound.
const CREATES: usize = 600;
/// Twice SQLite's auto-checkpoint threshold (1000 pages of 4 KiB).
const WAL_BOUND: u64 = 8 * 1024 * 1024;

fn wal_size(db: &std::path::Path) -> u64 {
    let wal = db.with_extension("db-wal");
    std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0)
}

#[tokio::test]
async fn sqlite_wal_stays_bounded_and_is_truncated_at_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wal.db");
    let app = spawn_app_on(DatabaseUrl::Sqlite(path.clone()), |_| {}).await;
    for created in 1..=CREATES {
        app.create_ok(&new_product("Wal", 1, 1)).await;
        let size = wal_size(&path);
        assert!(size < WAL_BOUND, "after {created} creates the WAL is {size} bytes");
    }
    // Another connection (a backup tool, an operator's shell) keeps the file
    // open, so the service's own connections closing is not the last close,
    // which would checkpoint and delete the log by itself.
    let other = rusqlite::Connection::open(&path).unwrap();
    other.query_row("SELECT count(*) FROM products", [], |_| Ok(())).unwrap();
    assert!(wal_size(&path) > 0);
    app.stop().await.unwrap();
    assert_eq!(wal_size(&path), 0, "the WAL is checkpointed and truncated at shutdown");
    drop(other);
}
