//! Timestamps as the API and the databases hold them: UTC, microsecond
//! precision, RFC 3339 with six fractional digits.

use serde::{Serialize, Serializer};
use time::format_description::FormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

const RFC3339_MICROS: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");

/// A calendar date, `2026-11-27`: how exchange rates are dated.
pub const DATE: &[FormatItem<'static>] = format_description!("[year]-[month]-[day]");

/// Now, truncated to microseconds so every engine stores exactly this value.
pub fn now() -> OffsetDateTime {
    // Invariant: the clock reads a time within `time`'s range, and truncating
    // it stays in range, so the epoch fallback is unreachable.
    from_micros(micros(OffsetDateTime::now_utc())).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Microseconds since the Unix epoch.
pub fn micros(at: OffsetDateTime) -> i64 {
    // Invariant: `time` spans years ±9999, about ±3.2e17 µs, within i64.
    i64::try_from(at.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
}

/// The instant `micros` microseconds after the Unix epoch, if representable.
pub fn from_micros(micros: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000).ok()
}

/// An instant that serializes as `2026-11-27T18:01:03.123456Z`, written
/// into a buffer on the stack. By hand because `time`'s formatter interprets
/// its format description on every call: about 5 % of the CPU of a page of
/// 50 products went there, and to the two `String`s per product it returned
/// (arena/findings.md, issue 12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rfc3339(pub OffsetDateTime);

impl Rfc3339 {
    /// Length of the text: `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
    const LEN: usize = 27;

    /// The text in `buffer`, or `None` for a year outside 0..=9999.
    fn write(self, buffer: &mut [u8; Self::LEN]) -> Option<&str> {
        let at = self.0.to_offset(UtcOffset::UTC);
        let year = u32::try_from(at.year()).ok().filter(|year| *year <= 9999)?;
        let fields = [
            (0, year, 4),
            (5, u32::from(u8::from(at.month())), 2),
            (8, u32::from(at.day()), 2),
            (11, u32::from(at.hour()), 2),
            (14, u32::from(at.minute()), 2),
            (17, u32::from(at.second()), 2),
            (20, at.microsecond(), 6),
        ];
        *buffer = *b"0000-00-00T00:00:00.000000Z";
        for (start, mut value, width) in fields {
            for digit in buffer[start..start + width].iter_mut().rev() {
                *digit = b'0' + (value % 10) as u8;
                value /= 10;
            }
        }
        std::str::from_utf8(buffer).ok()
    }
}

impl std::fmt::Display for Rfc3339 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.write(&mut [0; Self::LEN]) {
            Some(text) => f.write_str(text),
            // Years outside 0..=9999, which the service never stores.
            None => f.write_str(&self.0.to_offset(UtcOffset::UTC).format(RFC3339_MICROS).unwrap_or_default()),
        }
    }
}

impl Serialize for Rfc3339 {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.write(&mut [0; Self::LEN]) {
            Some(text) => serializer.serialize_str(text),
            None => serializer.collect_str(self),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_six_digits_and_z() {
        let at = from_micros(1_795_000_000_123_456).unwrap();
        assert_eq!(Rfc3339(at).to_string(), "2026-11-18T11:06:40.123456Z");
        assert_eq!(micros(at), 1_795_000_000_123_456);
    }

    #[test]
    fn the_fast_formatter_agrees_with_the_format_description() {
        let slow = |at: OffsetDateTime| at.to_offset(UtcOffset::UTC).format(RFC3339_MICROS).unwrap();
        let offset = UtcOffset::from_hms(5, 30, 0).unwrap();
        for micros in [0, 1, 999_999, 1_795_000_000_123_456, -1, -62_167_219_200_000_000, 253_402_300_799_999_999] {
            let at = from_micros(micros).unwrap();
            assert_eq!(Rfc3339(at).to_string(), slow(at), "{micros}");
            if let Some(shifted) = at.checked_to_offset(offset) {
                assert_eq!(Rfc3339(shifted).to_string(), slow(at), "{micros} at +05:30");
            }
            assert_eq!(serde_json::to_string(&Rfc3339(at)).unwrap(), format!("\"{}\"", slow(at)));
        }
        // Outside 0..=9999 the slow path answers, whatever it makes of it.
        let far = from_micros(-62_167_219_200_000_001).unwrap();
        assert_eq!(Rfc3339(far).to_string(), far.format(RFC3339_MICROS).unwrap_or_default());
    }
}
