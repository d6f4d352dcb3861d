//! SQL text shared by both engines, with each engine's placeholders.

use std::sync::LazyLock;

use crate::products::listing::Sort;

/// Columns in the order every row reader expects.
pub const COLUMNS: &str = "id, sku, name, description, price_minor, currency, stock, version, created_at, updated_at";

/// The list statements, per engine, per sort, without and with a cursor:
/// built once so each is one cached prepared statement.
pub struct ListStatements([[String; 2]; 5]);

pub static POSTGRES_LIST: LazyLock<ListStatements> = LazyLock::new(|| ListStatements::build(Dialect::Postgres));
pub static SQLITE_LIST: LazyLock<ListStatements> = LazyLock::new(|| ListStatements::build(Dialect::Sqlite));

#[derive(Clone, Copy)]
enum Dialect {
    Postgres,
    Sqlite,
}

const SORTS: [Sort; 5] = [Sort::CreatedAsc, Sort::CreatedDesc, Sort::PriceAsc, Sort::PriceDesc, Sort::NameAsc];

impl ListStatements {
    /// The statement for `sort`, with the cursor condition when `after`.
    ///
    /// Parameters: 1 name pattern, 2 min price, 3 max price, 4 in-stock flag,
    /// then (with a cursor) 5 sort key, 6 id, and last the row limit.
    pub fn get(&self, sort: Sort, after: bool) -> &str {
        let index = SORTS.iter().position(|s| *s == sort).unwrap_or(0);
        &self.0[index][usize::from(after)]
    }

    fn build(dialect: Dialect) -> Self {
        Self(SORTS.map(|sort| [statement(dialect, sort, false), statement(dialect, sort, true)]))
    }
}

fn statement(dialect: Dialect, sort: Sort, after: bool) -> String {
    let (column, key_type) = match sort {
        Sort::CreatedAsc | Sort::CreatedDesc => ("created_at", "timestamptz"),
        Sort::PriceAsc | Sort::PriceDesc => ("price_minor", "bigint"),
        Sort::NameAsc => ("name", "text"),
    };
    let (compare, direction) = match sort {
        Sort::CreatedDesc | Sort::PriceDesc => ("<", "DESC"),
        _ => (">", "ASC"),
    };
    let p = |n: usize, ty: &str| match dialect {
        Dialect::Postgres => format!("${n}::{ty}"),
        Dialect::Sqlite => format!("?{n}"),
    };
    let mut sql = format!(
        "SELECT {COLUMNS} FROM products \
         WHERE ({q} IS NULL OR name_folded LIKE {q} ESCAPE '\\') \
         AND ({min} IS NULL OR price_minor >= {min}) \
         AND ({max} IS NULL OR price_minor <= {max}) \
         AND (NOT {stock} OR stock > 0)",
        q = p(1, "text"),
        min = p(2, "bigint"),
        max = p(3, "bigint"),
        stock = p(4, "bool"),
    );
    let limit = if after {
        sql += &format!(" AND ({column}, id) {compare} ({}, {})", p(5, key_type), p(6, "bigint"));
        p(7, "bigint")
    } else {
        p(5, "bigint")
    };
    sql += &format!(" ORDER BY {column} {direction}, id {direction} LIMIT {limit}");
    sql
}
