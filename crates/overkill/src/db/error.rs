//! Storage failures, sorted by cause, and how a client sees the ones no
//! feature maps itself.

use chassis::Problem;

/// A storage failure, as callers need to tell them apart. Constraint
/// violations carry the constraint's name, the same on both engines (see
/// `sqlite::classify` for how SQLite's are named), so the feature that owns
/// a constraint can map its violation to a problem.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint or primary key was violated.
    #[error("unique constraint {constraint} violated")]
    UniqueViolation {
        /// E.g. `products_sku_key`.
        constraint: String,
    },
    /// A check constraint was violated.
    #[error("check constraint {constraint} violated")]
    CheckViolation {
        /// E.g. `products_stock_check`.
        constraint: String,
    },
    /// Other work held what this needed for too long: a lock wait timed
    /// out, or a serialization failure or deadlock outlasted the retries.
    /// Retrying later may succeed.
    #[error("database busy")]
    Busy(#[source] anyhow::Error),
    /// The database could not be reached: a refused, closed or failed
    /// connection, a connect timeout, the server shutting down, or (SQLite)
    /// an I/O failure of the file.
    #[error("database unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// Anything else: a bug (a conversion or type error, a bad statement)
    /// or corrupt data. Never reported as an outage.
    #[error("database error")]
    Other(#[source] anyhow::Error),
}

// === impl StoreError ===

impl StoreError {
    /// The violated constraint, for a unique or check violation.
    pub fn constraint(&self) -> Option<&str> {
        match self {
            Self::UniqueViolation { constraint } | Self::CheckViolation { constraint } => Some(constraint),
            _ => None,
        }
    }
}

/// The client's view of a storage failure that no feature mapped. Logged
/// here, where it is handled: the cause stays in the log, the client gets
/// only the kind. A constraint violation that reaches this point is one its
/// feature did not expect (input validation should have caught it): a bug.
impl From<StoreError> for Problem {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::UniqueViolation { constraint } | StoreError::CheckViolation { constraint } => {
                tracing::error!(db.constraint = constraint, "constraint violation no feature maps");
                Self::internal()
            }
            StoreError::Busy(cause) => {
                tracing::warn!(error = format!("{cause:#}"), "database busy");
                Self::unavailable("the database is busy; retry shortly")
            }
            StoreError::Unavailable(cause) => {
                tracing::warn!(error = format!("{cause:#}"), "database unavailable");
                Self::unavailable("the database is unavailable; retry shortly")
            }
            StoreError::Other(cause) => {
                tracing::error!(error = format!("{cause:#}"), "database error");
                Self::internal()
            }
        }
    }
}
