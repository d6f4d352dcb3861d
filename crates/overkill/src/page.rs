//! What every keyset-paginated list shares: the `limit` parameter, and
//! telling a full page from the last one.

use std::collections::HashMap;

use crate::path_id::canonical_decimal;

/// Page size when `limit` is absent.
pub const DEFAULT_LIMIT: usize = 20;
/// Largest `limit`.
pub const MAX_LIMIT: usize = 100;

/// The `limit` parameter: 1..=[`MAX_LIMIT`], [`DEFAULT_LIMIT`] when absent;
/// otherwise `invalid` is told, and the default stands in.
pub fn limit(params: &HashMap<String, String>, mut invalid: impl FnMut(&str, &str)) -> usize {
    match params.get("limit").map(|v| canonical_decimal(v)) {
        None => DEFAULT_LIMIT,
        Some(Some(n)) if (1..=MAX_LIMIT as u64).contains(&n) => n as usize,
        Some(_) => {
            invalid("limit", "must be an integer from 1 to 100");
            DEFAULT_LIMIT
        }
    }
}

/// Stores read one row more than a page; if it came, the page is cut to
/// `limit` and its last row is where the next page starts.
pub fn cut<T>(rows: &mut Vec<T>, limit: usize) -> Option<&T> {
    if rows.len() > limit {
        rows.truncate(limit);
        rows.last()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_continues_only_when_a_row_more_came() {
        let mut full = vec![1, 2, 3];
        assert_eq!(cut(&mut full, 2), Some(&2));
        assert_eq!(full, [1, 2]);
        let mut last = vec![1, 2];
        assert_eq!(cut(&mut last, 2), None);
    }
}
