//! JSON the same way in every feature: numbers read from bodies, and
//! response bodies written into a buffer sized up front.

use axum::response::{IntoResponse, Response};
use chassis::Problem;
use http::{HeaderValue, header};
use serde::Serialize;
use serde_json::Value;

/// A 200 with `value` as its JSON body, written into a buffer of
/// `capacity` bytes: sized from the number of items, a page is written
/// without growing the buffer (axum's `Json` starts at 128 bytes and grows
/// it by copying, about 3 % of a page's CPU; arena/findings.md, issue 12).
pub fn response(value: &impl Serialize, capacity: usize) -> Response {
    let mut body = Vec::with_capacity(capacity);
    match serde_json::to_writer(&mut body, value) {
        Ok(()) => ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response(),
        Err(error) => {
            Problem::internal().with_cause(format!("the response did not serialize: {error}")).into_response()
        }
    }
}

/// A JSON number whose value is a whole number in `min..=max`, however it
/// is spelled: `2`, `2.0`, `2e0` and `-0` are integers, as JSON Schema
/// counts them (and as JavaScript cannot tell them apart); `2.5` is not. A
/// number with a fraction or exponent is read as a correctly rounded double
/// (serde_json's `float_roundtrip`, as Go's parser), as JSON parsers do; a
/// spelling that is not plain digits is refused from 2^53 on, where doubles
/// no longer hold every integer, rather than rounded to a neighbour.
pub fn whole_number(value: &Value, min: i64, max: i64) -> Option<i64> {
    let whole = match value.as_i64() {
        Some(n) => n,
        None => {
            let x = value.as_f64().filter(|x| x.fract() == 0.0 && x.abs() < MAX_EXACT)?;
            x as i64
        }
    };
    (min..=max).contains(&whole).then_some(whole)
}

/// 2^53: every whole double below it is exactly the integer it spells; from
/// it on, doubles skip integers (9007199254740993.0 reads as 2^53).
const MAX_EXACT: f64 = 9_007_199_254_740_992.0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_whole_numbers_in_any_spelling() {
        let read = |text: &str| whole_number(&serde_json::from_str(text).unwrap(), 0, 1_000_000_000);
        for (text, whole) in [("0", 0), ("-0", 0), ("-0.0", 0), ("7", 7), ("1.0", 1), ("1e2", 100), ("2.50e1", 25)] {
            assert_eq!(read(text), Some(whole), "{text}");
        }
        assert_eq!(read("1e9"), Some(1_000_000_000));
        for text in ["-1", "-1.0", "1.5", "25e-1", "1e300", "1000000001", "1000000000.5", "99999999999999999999"] {
            assert_eq!(read(text), None, "{text}");
        }
        for text in [r#""1""#, "true", "null", "[1]"] {
            assert_eq!(read(text), None, "{text}");
        }
        let id = |text: &str| whole_number(&serde_json::from_str(text).unwrap(), 1, i64::MAX);
        assert_eq!(id("9223372036854775807"), Some(i64::MAX));
        assert_eq!(id("9.2e18"), None, "past 2^53 only plain digits are exact");
        assert_eq!(id("4.5e15"), Some(4_500_000_000_000_000));
        assert_eq!(id("9007199254740993.0"), None, "rounds to 2^53, which is not the id spelled");
        assert_eq!(id("9007199254740991.0"), Some(9_007_199_254_740_991));
    }
}
