//! The products' keyset cursor, sealed by [`crate::cursor`]. The payload
//! holds the sort, the last row's sort key and id, and a fingerprint of the
//! filters, so a cursor cannot be replayed against another query; [`decode`]
//! checks its contents like any input.

use serde::{Deserialize, Serialize};

use super::listing::{After, Filters, Sort};
use super::model::{MAX_NAME_CHARS, MAX_PRICE_MINOR, Product};
use crate::timestamp;

/// Latest `created_at` a cursor may carry: 9999-12-31T23:59:59.999999Z, in
/// microseconds since the epoch (the last instant RFC 3339 can write).
const MAX_TIME_MICROS: i64 = 253_402_300_799_999_999;

/// The value of the sort column of a row, as a cursor carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
enum SortKey {
    /// `created_at` in microseconds, or `price_minor`.
    Number(i64),
    /// `name`.
    Text(String),
}

#[derive(Serialize, Deserialize)]
struct CursorPayload {
    s: Sort,
    k: SortKey,
    i: i64,
    f: String,
}

/// The cursor for the page after `last`, in `sort` order under `filters`.
pub fn encode(sort: Sort, filters: &Filters, last: &Product) -> String {
    let key = match sort {
        Sort::CreatedAsc | Sort::CreatedDesc => SortKey::Number(timestamp::micros(last.created_at)),
        Sort::PriceAsc | Sort::PriceDesc => SortKey::Number(last.fields.price_minor),
        Sort::NameAsc => SortKey::Text(last.fields.name.clone()),
    };
    crate::cursor::seal(&CursorPayload { s: sort, k: key, i: last.id, f: fingerprint(filters) })
}

/// The row `cursor` continues after, if it is intact, was made for this
/// sort and these filters, and holds a key and id a row can have. The
/// checksum is no signature: a client can forge a cursor, so its contents
/// are checked like any other input (the Go twin applies the same rules).
pub fn decode(cursor: &str, sort: Sort, filters: &Filters) -> Option<After> {
    let payload: CursorPayload = crate::cursor::open(cursor)?;
    if payload.s != sort || payload.f != fingerprint(filters) || payload.i < 1 {
        return None;
    }
    let id = payload.i;
    match (sort, payload.k) {
        (Sort::CreatedAsc | Sort::CreatedDesc, SortKey::Number(micros)) if (0..=MAX_TIME_MICROS).contains(&micros) => {
            timestamp::from_micros(micros).map(|time| After::Time(time, id))
        }
        (Sort::PriceAsc | Sort::PriceDesc, SortKey::Number(price)) if (0..=MAX_PRICE_MINOR).contains(&price) => {
            Some(After::Price(price, id))
        }
        (Sort::NameAsc, SortKey::Text(name))
            if (1..=MAX_NAME_CHARS).contains(&name.chars().count()) && !name.contains('\0') =>
        {
            Some(After::Name(name, id))
        }
        _ => None,
    }
}

/// Identifies a filter set, so a cursor is only accepted with the filters
/// it was made for: FNV-1a of this text, whose format is fixed here (not by
/// `Debug`, which may change with any Rust release or a field's rename):
///
/// `q=<byte length>:<LIKE pattern>;min=<n>;max=<n>;in_stock=<0|1>`
///
/// with `-` for an absent pattern or bound. The length prefix stops a
/// pattern from spelling the fields that follow it. Changing the format
/// invalidates the cursors clients hold (a 400; they start again).
fn fingerprint(filters: &Filters) -> String {
    let number = |n: Option<i64>| n.map_or_else(|| "-".to_owned(), |n| n.to_string());
    let q = filters.name_pattern.as_ref().map_or_else(|| "-".to_owned(), |p| format!("{}:{p}", p.len()));
    let text = format!(
        "q={q};min={};max={};in_stock={}",
        number(filters.min_price),
        number(filters.max_price),
        u8::from(filters.in_stock)
    );
    crate::cursor::fingerprint(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_tampering_and_other_queries() {
        let filters = Filters::default();
        let payload =
            CursorPayload { s: Sort::NameAsc, k: SortKey::Text("Mug".into()), i: 7, f: fingerprint(&filters) };
        let cursor = crate::cursor::seal(&payload);
        assert_eq!(decode(&cursor, Sort::NameAsc, &filters), Some(After::Name("Mug".into(), 7)));
        assert_eq!(decode(&cursor, Sort::PriceAsc, &filters), None);
        let other = Filters { in_stock: true, ..filters.clone() };
        assert_eq!(decode(&cursor, Sort::NameAsc, &other), None);
        let tampered = cursor.replacen('e', "f", 1);
        assert_eq!(decode(&tampered, Sort::NameAsc, &filters), None);
    }

    /// A cursor with a valid checksum, as a client could forge one.
    fn forged(sort: Sort, key: SortKey, id: i64) -> String {
        crate::cursor::seal(&CursorPayload { s: sort, k: key, i: id, f: fingerprint(&Filters::default()) })
    }

    #[test]
    fn forged_cursor_contents_are_checked() {
        let accepts = |sort, key, id| decode(&forged(sort, key, id), sort, &Filters::default()).is_some();
        let (time, price, name) = (Sort::CreatedDesc, Sort::PriceAsc, Sort::NameAsc);
        assert!(accepts(time, SortKey::Number(0), 1));
        assert!(accepts(time, SortKey::Number(MAX_TIME_MICROS), i64::MAX));
        assert!(!accepts(time, SortKey::Number(MAX_TIME_MICROS + 1), 1));
        assert!(!accepts(time, SortKey::Number(i64::MAX), 1));
        assert!(!accepts(time, SortKey::Number(-1), 1));
        assert!(!accepts(time, SortKey::Number(5), 0));
        assert!(!accepts(time, SortKey::Number(5), -3));
        assert!(accepts(price, SortKey::Number(MAX_PRICE_MINOR), 1));
        assert!(!accepts(price, SortKey::Number(MAX_PRICE_MINOR + 1), 1));
        assert!(!accepts(price, SortKey::Number(-1), 1));
        assert!(!accepts(price, SortKey::Text("5".into()), 1));
        assert!(accepts(name, SortKey::Text("é".repeat(200)), 1));
        assert!(!accepts(name, SortKey::Text("é".repeat(201)), 1));
        assert!(!accepts(name, SortKey::Text(String::new()), 1));
        assert!(!accepts(name, SortKey::Text("a\0b".into()), 1));
        assert!(!accepts(name, SortKey::Number(1), 1));
    }

    #[test]
    fn fingerprint_is_a_fixed_format_and_tells_filter_sets_apart() {
        let filters =
            Filters { name_pattern: Some("%mug%".into()), min_price: Some(5), max_price: None, in_stock: true };
        let expected = format!("{:016x}", fnv1a(b"q=5:%mug%;min=5;max=-;in_stock=1"));
        assert_eq!(fingerprint(&filters), expected, "the format is part of every cursor clients hold");
        let spelled = Filters { name_pattern: Some("%mug%;min=5".into()), ..Filters::default() };
        let split = Filters { name_pattern: Some("%mug%".into()), min_price: Some(5), ..Filters::default() };
        assert_ne!(fingerprint(&spelled), fingerprint(&split));
        assert_ne!(fingerprint(&Filters::default()), fingerprint(&Filters { in_stock: true, ..Filters::default() }));
    }
}
