//! The products table's constraints, by the names both engines report (see
//! `db::sqlite::classify`), and the problems their violations are.

use chassis::Problem;

use crate::db::StoreError;

/// Unique `sku`.
pub const SKU_KEY: &str = "products_sku_key";

/// A store error as the client sees it: a duplicate sku is a 409; any other
/// error (the range checks included, which input validation makes
/// unreachable, so a violation is a bug) as `db` maps it.
pub fn on_constraint(error: StoreError) -> Problem {
    match error.constraint() {
        Some(SKU_KEY) => Problem::conflict("a product with this sku already exists"),
        _ => Problem::from(error),
    }
}
