//! SQL text shared by both engines, with each engine's placeholders.

use crate::products::listing::{Filters, Sort};

/// Columns in the order every row reader expects. A macro, so statements
/// can be assembled with `concat!` at compile time.
macro_rules! columns {
    () => {
        "id, sku, name, description, price_minor, currency, stock, version, created_at, updated_at"
    };
}
pub(crate) use columns;

/// The same columns as a constant, for statements built at run time.
pub const COLUMNS: &str = columns!();

/// An engine's SQL dialect, as far as the list query cares.
#[derive(Clone, Copy)]
pub enum Dialect {
    Postgres,
    Sqlite,
}

/// The list statement for `sort` with only the conditions this request
/// uses, so the planner sees exact predicates and walks the sort index.
/// (A single statement with `$n IS NULL OR …` for every filter gets a
/// generic plan in PostgreSQL that scans the table: measured in the arena,
/// list latency grew a hundredfold once the table held dead rows.)
///
/// Parameters, in order, for those present: name pattern, min price, max
/// price, cursor sort key and id; then the row limit. In-stock needs none.
/// At most 5 sorts × 2⁴ filter sets × 2 = 160 distinct statements, each
/// cached once per connection.
pub fn list_statement(dialect: Dialect, sort: Sort, filters: &Filters, after: bool) -> String {
    let (column, key_type) = match sort {
        Sort::CreatedAsc | Sort::CreatedDesc => ("created_at", "timestamptz"),
        Sort::PriceAsc | Sort::PriceDesc => ("price_minor", "bigint"),
        Sort::NameAsc => ("name", "text"),
    };
    let (compare, direction) = match sort {
        Sort::CreatedDesc | Sort::PriceDesc => ("<", "DESC"),
        _ => (">", "ASC"),
    };
    let mut next = 0;
    let mut p = |ty: &str| {
        next += 1;
        match dialect {
            Dialect::Postgres => format!("${next}::{ty}"),
            Dialect::Sqlite => format!("?{next}"),
        }
    };
    let mut conditions = Vec::new();
    if filters.name_pattern.is_some() {
        conditions.push(format!("name_folded LIKE {} ESCAPE '\\'", p("text")));
    }
    if filters.min_price.is_some() {
        conditions.push(format!("price_minor >= {}", p("bigint")));
    }
    if filters.max_price.is_some() {
        conditions.push(format!("price_minor <= {}", p("bigint")));
    }
    if filters.in_stock {
        conditions.push("stock > 0".to_owned());
    }
    if after {
        let key = p(key_type);
        conditions.push(format!("({column}, id) {compare} ({key}, {})", p("bigint")));
    }
    let filter = if conditions.is_empty() { String::new() } else { format!(" WHERE {}", conditions.join(" AND ")) };
    let limit = p("bigint");
    format!("SELECT {COLUMNS} FROM products{filter} ORDER BY {column} {direction}, id {direction} LIMIT {limit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_used_conditions_appear() {
        let plain = list_statement(Dialect::Postgres, Sort::CreatedAsc, &Filters::default(), false);
        assert_eq!(plain, format!("SELECT {COLUMNS} FROM products ORDER BY created_at ASC, id ASC LIMIT $1::bigint"));
        let filters = Filters { max_price: Some(5), in_stock: true, ..Filters::default() };
        let sql = list_statement(Dialect::Sqlite, Sort::PriceDesc, &filters, true);
        assert!(sql.ends_with(
            "WHERE price_minor <= ?1 AND stock > 0 AND (price_minor, id) < (?2, ?3) ORDER BY price_minor DESC, id DESC LIMIT ?4"
        ));
    }
}
