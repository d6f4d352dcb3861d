//! SQLite errors sorted by cause, constraint violations by name.
//!
//! SQLite does not report constraint names the way PostgreSQL does, so they
//! are recovered from its messages, giving the names PostgreSQL gives:
//! - unique: "UNIQUE constraint failed: products.sku" → `products_sku_key`
//!   (PostgreSQL's default `<table>_<columns>_key`, columns joined by `_`);
//!   a primary key → `<table>_pkey`. SQLite reports the columns even for a
//!   named constraint, so unique constraints must keep the default name.
//! - check: "CHECK constraint failed: products_stock_check" → the name, so
//!   check constraints must be named (`CONSTRAINT <table>_<column>_check`,
//!   again PostgreSQL's default) in the SQLite migrations.

use rusqlite::ErrorCode;
use rusqlite::ffi;

use crate::db::StoreError;

/// Sorts a SQLite error by cause. A lock held too long is `Busy`; the file
/// failing (I/O error, disk full, cannot open) is `Unavailable`, the nearest
/// thing to a lost connection; conversion and type errors (no SQLite code)
/// and everything else are `Other`.
pub fn classify(error: rusqlite::Error) -> StoreError {
    let (code, message) = match &error {
        rusqlite::Error::SqliteFailure(code, message) => (*code, message.as_deref().unwrap_or_default()),
        _ => return StoreError::Other(error.into()),
    };
    match code.extended_code {
        ffi::SQLITE_CONSTRAINT_UNIQUE => {
            return StoreError::UniqueViolation { constraint: unique_name(message, "key") };
        }
        ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
            return StoreError::UniqueViolation { constraint: unique_name(message, "pkey") };
        }
        ffi::SQLITE_CONSTRAINT_CHECK => {
            let name = message.strip_prefix("CHECK constraint failed: ").unwrap_or(message);
            return StoreError::CheckViolation { constraint: name.to_owned() };
        }
        _ => {}
    }
    match code.code {
        ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => StoreError::Busy(error.into()),
        ErrorCode::SystemIoFailure | ErrorCode::DiskFull | ErrorCode::CannotOpen => {
            StoreError::Unavailable(error.into())
        }
        _ => StoreError::Other(error.into()),
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        classify(error)
    }
}

/// `products_sku_key` from "UNIQUE constraint failed: products.sku" and
/// `suffix` "key"; `<table>_pkey` for a primary key.
fn unique_name(message: &str, suffix: &str) -> String {
    let columns = message.strip_prefix("UNIQUE constraint failed: ").unwrap_or(message);
    let mut table = "";
    let mut parts = Vec::new();
    for qualified in columns.split(", ") {
        let (t, column) = qualified.split_once('.').unwrap_or(("", qualified));
        table = t;
        parts.push(column);
    }
    if suffix == "pkey" { format!("{table}_pkey") } else { format!("{table}_{}_{suffix}", parts.join("_")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_follow_postgres_defaults() {
        assert_eq!(unique_name("UNIQUE constraint failed: products.sku", "key"), "products_sku_key");
        assert_eq!(unique_name("UNIQUE constraint failed: orders.a, orders.b", "key"), "orders_a_b_key");
        assert_eq!(unique_name("UNIQUE constraint failed: products.id", "pkey"), "products_pkey");
    }

    #[test]
    fn conversion_errors_are_bugs_not_outages() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let error = conn.query_row("SELECT 'text'", [], |row| row.get::<_, i64>(0)).unwrap_err();
        assert!(matches!(classify(error), StoreError::Other(_)));
        let error = conn.query_row("SELECT 1", [], |row| row.get::<_, i64>(5)).unwrap_err();
        assert!(matches!(classify(error), StoreError::Other(_)));
    }
}
