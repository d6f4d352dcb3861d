//! Timestamps as the API and the databases hold them: UTC, microsecond
//! precision, RFC 3339 with six fractional digits.

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

/// `2026-11-27T18:01:03.123456Z`.
pub fn format(at: OffsetDateTime) -> String {
    // Invariant: this description formats every UTC instant of years
    // 0..=9999, the only ones the service stores; the empty fallback is
    // unreachable.
    at.to_offset(UtcOffset::UTC).format(RFC3339_MICROS).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_six_digits_and_z() {
        let at = from_micros(1_795_000_000_123_456).unwrap();
        assert_eq!(format(at), "2026-11-18T11:06:40.123456Z");
        assert_eq!(micros(at), 1_795_000_000_123_456);
    }
}
