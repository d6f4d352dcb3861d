//! Keyset cursors, sealed: base64url(JSON payload) "." a checksum of the
//! payload. Each feature defines its payload (the sort, the last row's key
//! and id, a fingerprint of the filters) and checks its contents when it
//! opens one. The checksum catches edits and truncation; it is not a
//! signature, and needs not be: a forged cursor only moves the page start
//! within results the client may list anyway — provided its contents are
//! checked like any input, which each feature's decoder does.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The cursor for `payload`. Serialising a payload of plain fields with
/// string keys cannot fail; an empty cursor would only be refused.
pub fn seal(payload: &impl Serialize) -> String {
    let json = serde_json::to_vec(payload).unwrap_or_default();
    format!("{}.{:016x}", URL_SAFE_NO_PAD.encode(&json), fnv1a(&json))
}

/// The payload of an intact cursor; `None` when it was edited, cut short or
/// never a cursor. The caller checks what the payload holds.
pub fn open<T: DeserializeOwned>(cursor: &str) -> Option<T> {
    let (data, checksum) = cursor.split_once('.')?;
    let json = URL_SAFE_NO_PAD.decode(data).ok()?;
    if format!("{:016x}", fnv1a(&json)) != checksum {
        return None;
    }
    serde_json::from_slice(&json).ok()
}

/// FNV-1a, 64 bit, as 16 hex digits: a fingerprint of a filter set, so a
/// cursor is only accepted with the filters it was made for.
pub fn fingerprint(text: &str) -> String {
    format!("{:016x}", fnv1a(text.as_bytes()))
}

/// FNV-1a, 64 bit. Hand-written (six lines) because cursors need a hash
/// that is stable across Rust releases and processes, which std's hashers
/// do not promise.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_cursors_open_and_edited_ones_do_not() {
        let cursor = seal(&(7, "Mug"));
        assert_eq!(open::<(i64, String)>(&cursor), Some((7, "Mug".to_owned())));
        assert_eq!(open::<(i64, String)>(&cursor.replacen('N', "M", 1)), None);
        assert_eq!(open::<(i64, String)>(&cursor[..cursor.len() - 1]), None);
        assert_eq!(open::<(i64, String)>("not a cursor"), None);
    }
}
