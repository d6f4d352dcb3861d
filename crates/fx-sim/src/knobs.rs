//! The knobs: how the simulated provider misbehaves, set at start (flags,
//! [`crate::spawn`]) and at run time (`POST /_control`, [`crate::Simulator::set`]).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Every knob. The JSON of `GET /_control` and the defaults of the binary's
/// flags. The default is a healthy provider without a quota.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Knobs {
    /// The date every rate carries, `YYYY-MM-DD`; rates depend on it.
    pub date: String,
    /// Sustained calls a second the provider accepts; 0 means no quota.
    pub quota_per_second: u32,
    /// Calls the quota admits at once (token bucket capacity); 0 means
    /// `quota_per_second`.
    pub quota_burst: u32,
    /// Delay before every answer, in milliseconds.
    pub latency_ms: u64,
    /// Up to this many milliseconds more, drawn per call from the seed.
    pub jitter_ms: u64,
    /// Share of calls (0 to 1) answered 500, or 503 with `Retry-After: 1`,
    /// which calls and which status drawn from the seed.
    pub error_rate: f64,
    /// Accept calls and never answer them (until the simulator stops; the
    /// connection stays open). Calls arriving after it is switched off are
    /// answered.
    pub black_hole: bool,
    /// Answer every call 503 at once, without `Retry-After`.
    pub outage: bool,
    /// Periodic outages: every this many milliseconds since start, the first
    /// `outage_for_ms` are an outage; 0 means none.
    pub outage_every_ms: u64,
    /// Length of each periodic outage, in milliseconds.
    pub outage_for_ms: u64,
    /// How successful rate answers are spoiled.
    pub malformed: Malformed,
    /// Seed for every random draw (errors, their status, jitter).
    pub seed: u64,
}

/// A change to some knobs: the body of `POST /_control`. Absent fields keep
/// their value; each field is the knob of the same name in [`Knobs`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KnobsPatch {
    pub date: Option<String>,
    pub quota_per_second: Option<u32>,
    pub quota_burst: Option<u32>,
    pub latency_ms: Option<u64>,
    pub jitter_ms: Option<u64>,
    pub error_rate: Option<f64>,
    pub black_hole: Option<bool>,
    pub outage: Option<bool>,
    pub outage_every_ms: Option<u64>,
    pub outage_for_ms: Option<u64>,
    pub malformed: Option<Malformed>,
    pub seed: Option<u64>,
}

/// How a successful answer from `/v2/rates` or `/v2/rate` is spoiled (and,
/// for `bad_json` and `truncated`, one from `/v2/currencies`). Status and
/// `Content-Type` stay those of a success: a client must judge the body.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Malformed {
    /// Answers are well-formed.
    #[default]
    None,
    /// The body is an HTML error page.
    BadJson,
    /// Every rate is negated.
    NegativeRate,
    /// Every rate is the bare token `NaN` (not JSON, as some encoders write it).
    NanRate,
    /// Every row names the pair the other way round (quote as base), with
    /// that pair's rate; a same-currency row names another quote.
    WrongPair,
    /// Every date is written `DD/MM/YYYY`.
    BadDate,
    /// `Content-Length` announces the whole body, half of it is sent, then
    /// the connection is cut.
    Truncated,
}

/// A knob value out of its range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{knob}: {reason}")]
pub struct KnobError {
    /// The knob's name, as in JSON.
    pub knob: &'static str,
    /// What is wrong with its value.
    pub reason: &'static str,
}

/// The longest delay a knob may ask for (10 minutes): long enough for any
/// test, short enough that a typo does not hold calls for days.
pub const MAX_DELAY_MS: u64 = 600_000;

// === impl Knobs ===

impl Default for Knobs {
    fn default() -> Self {
        Self {
            date: "2026-11-27".to_owned(),
            quota_per_second: 0,
            quota_burst: 0,
            latency_ms: 0,
            jitter_ms: 0,
            error_rate: 0.0,
            black_hole: false,
            outage: false,
            outage_every_ms: 0,
            outage_for_ms: 0,
            malformed: Malformed::None,
            seed: 1,
        }
    }
}

impl Knobs {
    /// These knobs with `patch` applied, if the result is valid.
    pub fn merged(&self, patch: KnobsPatch) -> Result<Self, KnobError> {
        let mut next = self.clone();
        let KnobsPatch {
            date,
            quota_per_second,
            quota_burst,
            latency_ms,
            jitter_ms,
            error_rate,
            black_hole,
            outage,
            outage_every_ms,
            outage_for_ms,
            malformed,
            seed,
        } = patch;
        set(&mut next.date, date);
        set(&mut next.quota_per_second, quota_per_second);
        set(&mut next.quota_burst, quota_burst);
        set(&mut next.latency_ms, latency_ms);
        set(&mut next.jitter_ms, jitter_ms);
        set(&mut next.error_rate, error_rate);
        set(&mut next.black_hole, black_hole);
        set(&mut next.outage, outage);
        set(&mut next.outage_every_ms, outage_every_ms);
        set(&mut next.outage_for_ms, outage_for_ms);
        set(&mut next.malformed, malformed);
        set(&mut next.seed, seed);
        next.validate()?;
        Ok(next)
    }

    /// Checks every knob's range.
    pub fn validate(&self) -> Result<(), KnobError> {
        let fail = |knob, reason| Err(KnobError { knob, reason });
        if !is_date(&self.date) {
            return fail("date", "must be YYYY-MM-DD");
        }
        if !(0.0..=1.0).contains(&self.error_rate) {
            return fail("error_rate", "must be between 0 and 1");
        }
        for (knob, value) in [
            ("latency_ms", self.latency_ms),
            ("jitter_ms", self.jitter_ms),
            ("outage_every_ms", self.outage_every_ms),
            ("outage_for_ms", self.outage_for_ms),
        ] {
            if value > MAX_DELAY_MS {
                return fail(knob, "must be at most 600000 (10 minutes)");
            }
        }
        if self.outage_every_ms > 0 && self.outage_for_ms > self.outage_every_ms {
            return fail("outage_for_ms", "must not exceed outage_every_ms");
        }
        Ok(())
    }

    /// Whether `elapsed_ms` after start falls in an outage.
    pub(crate) fn in_outage(&self, elapsed_ms: u128) -> bool {
        self.outage
            || (self.outage_every_ms > 0
                && elapsed_ms % u128::from(self.outage_every_ms) < u128::from(self.outage_for_ms))
    }
}

fn set<T>(slot: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *slot = value;
    }
}

/// `YYYY-MM-DD` with a month 01–12 and a day 01–31 (not checked against
/// the month's length: the date is only a label here).
fn is_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| bytes[range].iter().all(u8::is_ascii_digit);
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return false;
    }
    if !(digits(0..4) && digits(5..7) && digits(8..10)) {
        return false;
    }
    let month = (bytes[5] - b'0') * 10 + (bytes[6] - b'0');
    let day = (bytes[8] - b'0') * 10 + (bytes[9] - b'0');
    (1..=12).contains(&month) && (1..=31).contains(&day)
}

// === impl Malformed ===

impl Malformed {
    /// Every mode, for help texts.
    pub const ALL: [Malformed; 7] = [
        Malformed::None,
        Malformed::BadJson,
        Malformed::NegativeRate,
        Malformed::NanRate,
        Malformed::WrongPair,
        Malformed::BadDate,
        Malformed::Truncated,
    ];

    /// The mode's name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Malformed::None => "none",
            Malformed::BadJson => "bad_json",
            Malformed::NegativeRate => "negative_rate",
            Malformed::NanRate => "nan_rate",
            Malformed::WrongPair => "wrong_pair",
            Malformed::BadDate => "bad_date",
            Malformed::Truncated => "truncated",
        }
    }
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Malformed {
    type Err = KnobError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|mode| mode.as_str() == text).ok_or(KnobError {
            knob: "malformed",
            reason: "must be one of none, bad_json, negative_rate, nan_rate, wrong_pair, bad_date, truncated",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patch_changes_only_what_it_names() {
        let knobs = Knobs::default();
        let patch: KnobsPatch =
            serde_json::from_str(r#"{"error_rate": 0.5, "malformed": "nan_rate"}"#).unwrap_or_else(|e| panic!("{e}"));
        let next = knobs.merged(patch).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(next.error_rate, 0.5);
        assert_eq!(next.malformed, Malformed::NanRate);
        assert_eq!(Knobs { error_rate: 0.0, malformed: Malformed::None, ..next }, knobs);
    }

    #[test]
    fn invalid_values_are_refused_with_the_knob_named() {
        let knobs = Knobs::default();
        let refused = |patch: KnobsPatch| knobs.merged(patch).err().map(|e| e.knob);
        let error_rate = KnobsPatch { error_rate: Some(1.5), ..KnobsPatch::default() };
        assert_eq!(refused(error_rate), Some("error_rate"));
        let nan = KnobsPatch { error_rate: Some(f64::NAN), ..KnobsPatch::default() };
        assert_eq!(refused(nan), Some("error_rate"));
        for date in ["2026-13-01", "2026-1-01", "27/11/2026", "2026-11-27x", "２026-11-27"] {
            let patch = KnobsPatch { date: Some(date.to_owned()), ..KnobsPatch::default() };
            assert_eq!(refused(patch), Some("date"), "{date}");
        }
        let latency = KnobsPatch { latency_ms: Some(MAX_DELAY_MS + 1), ..KnobsPatch::default() };
        assert_eq!(refused(latency), Some("latency_ms"));
        let window = KnobsPatch { outage_every_ms: Some(100), outage_for_ms: Some(200), ..KnobsPatch::default() };
        assert_eq!(refused(window), Some("outage_for_ms"));
    }

    #[test]
    fn unknown_knobs_and_modes_are_refused() {
        assert!(serde_json::from_str::<KnobsPatch>(r#"{"eror_rate": 1}"#).is_err());
        assert!(serde_json::from_str::<KnobsPatch>(r#"{"malformed": "garbage"}"#).is_err());
        assert_eq!("wrong_pair".parse(), Ok(Malformed::WrongPair));
        assert!("WRONG_PAIR".parse::<Malformed>().is_err());
        for mode in Malformed::ALL {
            let json = serde_json::to_string(&mode).unwrap_or_default();
            assert_eq!(json, format!("\"{mode}\""));
        }
    }

    #[test]
    fn periodic_outages_cover_the_start_of_each_period() {
        let knobs = Knobs { outage_every_ms: 1_000, outage_for_ms: 200, ..Knobs::default() };
        assert!(knobs.in_outage(0));
        assert!(knobs.in_outage(199));
        assert!(!knobs.in_outage(200));
        assert!(knobs.in_outage(5_100));
        assert!(!Knobs::default().in_outage(0));
    }
}
