//! The query-string extractor: parameters decoded strictly, so that text no
//! parameter can legitimately hold never reaches a handler (or SQL).

use std::collections::HashMap;

use axum::extract::FromRequestParts;
use http::request::Parts;

use crate::problem::{FieldError, Problem};

/// Query parameters by name (the last of repeated names wins), each value
/// `application/x-www-form-urlencoded`-decoded (`+` is a space). Rejects
/// with 400 `invalid-parameter`, naming every offending parameter, a value
/// that is not UTF-8 once decoded or that holds NUL (U+0000): the lossy
/// decoding of axum's `Query` would turn the first into U+FFFD, and
/// PostgreSQL cannot store the second while SQLite cuts strings at it.
#[derive(Debug, Default)]
pub struct QueryParams(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Problem> {
        parse(parts.uri.query().unwrap_or_default()).map(Self)
    }
}

/// Decodes a query string; see [`QueryParams`].
pub fn parse(query: &str) -> Result<HashMap<String, String>, Problem> {
    let mut params = HashMap::new();
    let mut errors = Vec::new();
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = String::from_utf8_lossy(&decode(name)).into_owned();
        match String::from_utf8(decode(value)) {
            Ok(value) if value.contains('\0') => errors.push(invalid(&name, "must not contain NUL (U+0000)")),
            Ok(value) => {
                params.insert(name, value);
            }
            Err(_) => errors.push(invalid(&name, "must be UTF-8 text once percent-decoded")),
        }
    }
    if errors.is_empty() { Ok(params) } else { Err(Problem::invalid_parameters(errors)) }
}

fn invalid(name: &str, message: &str) -> FieldError {
    FieldError { field: name.to_owned(), message: message.to_owned() }
}

/// Percent-decodes `text`, `+` as a space. A `%` not followed by two hex
/// digits stays as it is, as browsers and `form_urlencoded` treat it.
fn decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match bytes[i] {
            b'%' => bytes.get(i + 1..i + 3).and_then(|hex| u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()),
            _ => None,
        };
        match (bytes[i], escaped) {
            (_, Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', None) => {
                out.push(b' ');
                i += 1;
            }
            (byte, None) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_like_a_form() {
        let params = parse("q=caf%C3%A9+au+lait&limit=5&flag&q2=50%25&bad=%G1&&sort=a&sort=b").unwrap();
        assert_eq!(params["q"], "café au lait");
        assert_eq!((params["limit"].as_str(), params["flag"].as_str()), ("5", ""));
        assert_eq!((params["q2"].as_str(), params["bad"].as_str()), ("50%", "%G1"));
        assert_eq!(params["sort"], "b");
        assert!(parse("").unwrap().is_empty());
    }

    #[test]
    fn rejects_nul_and_invalid_utf8_naming_each_parameter() {
        let problem = parse("q=a%00b&cursor=%FF&limit=5&x=%C3").unwrap_err();
        assert_eq!(problem.status, 400);
        let fields: Vec<&str> = problem.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["q", "cursor", "x"]);
    }
}
