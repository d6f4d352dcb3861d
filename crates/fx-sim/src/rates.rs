//! The currencies the simulator quotes and its deterministic rates.
//!
//! Every rate is a function of the pair and the date only (never of the
//! seed or of time), so a test can compute what the provider will say, and
//! cross rates agree: `rate(A, C) ≈ rate(A, B) × rate(B, C)` up to rounding.

use crate::rng::splitmix64;

/// A currency the simulator quotes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Currency {
    /// ISO 4217 alphabetic code.
    pub code: &'static str,
    /// ISO 4217 numeric code, as text with its leading zeros.
    pub numeric: &'static str,
    /// English name.
    pub name: &'static str,
    /// Units of this currency per euro on the reference table (before the
    /// per-date drift). Invented, plausible values; not market data.
    pub per_eur: f64,
}

/// The significant digits every rate is rounded to.
pub const SIGNIFICANT_DIGITS: usize = 6;

/// The first date of the simulated history (`start_date` in `/v2/currencies`).
pub const HISTORY_START: &str = "1999-01-04";

/// Every currency the simulator quotes, sorted by code. KWD and BHD (three
/// minor digits) and JPY, KRW, ISK and IDR (large values) are here so a
/// client's rounding meets them.
pub const CURRENCIES: &[Currency] = &[
    cur("AUD", "036", "Australian Dollar", 1.6530),
    cur("BGN", "975", "Bulgarian Lev", 1.9558),
    cur("BHD", "048", "Bahraini Dinar", 0.4090),
    cur("BRL", "986", "Brazilian Real", 6.1240),
    cur("CAD", "124", "Canadian Dollar", 1.4870),
    cur("CHF", "756", "Swiss Franc", 0.9410),
    cur("CNY", "156", "Chinese Renminbi Yuan", 7.8250),
    cur("CZK", "203", "Czech Koruna", 25.140),
    cur("DKK", "208", "Danish Krone", 7.4590),
    cur("EUR", "978", "Euro", 1.0),
    cur("GBP", "826", "British Pound", 0.8420),
    cur("HKD", "344", "Hong Kong Dollar", 8.4520),
    cur("HUF", "348", "Hungarian Forint", 395.80),
    cur("IDR", "360", "Indonesian Rupiah", 17_512.0),
    cur("ILS", "376", "Israeli New Shekel", 4.0130),
    cur("INR", "356", "Indian Rupee", 91.240),
    cur("ISK", "352", "Icelandic Króna", 150.30),
    cur("JPY", "392", "Japanese Yen", 162.40),
    cur("KRW", "410", "South Korean Won", 1_498.3),
    cur("KWD", "414", "Kuwaiti Dinar", 0.3335),
    cur("MXN", "484", "Mexican Peso", 19.870),
    cur("MYR", "458", "Malaysian Ringgit", 4.8870),
    cur("NOK", "578", "Norwegian Krone", 11.735),
    cur("NZD", "554", "New Zealand Dollar", 1.8120),
    cur("PHP", "608", "Philippine Peso", 63.180),
    cur("PLN", "985", "Polish Złoty", 4.3120),
    cur("RON", "946", "Romanian Leu", 4.9750),
    cur("SEK", "752", "Swedish Krona", 11.482),
    cur("SGD", "702", "Singapore Dollar", 1.4590),
    cur("THB", "764", "Thai Baht", 37.950),
    cur("TRY", "949", "Turkish Lira", 37.420),
    cur("USD", "840", "United States Dollar", 1.0850),
    cur("ZAR", "710", "South African Rand", 19.640),
];

const fn cur(code: &'static str, numeric: &'static str, name: &'static str, per_eur: f64) -> Currency {
    Currency { code, numeric, name, per_eur }
}

/// The quoted currency with this code (upper case), if any.
pub fn find(code: &str) -> Option<&'static Currency> {
    CURRENCIES.binary_search_by(|currency| currency.code.cmp(code)).ok().map(|index| &CURRENCIES[index])
}

/// Units of `quote` for one unit of `base` on `date`, rounded to
/// [`SIGNIFICANT_DIGITS`]. The same arguments always give the same rate.
pub fn rate(base: &Currency, quote: &Currency, date: &str) -> f64 {
    if base.code == quote.code {
        return 1.0;
    }
    round_significant(per_eur(quote, date) / per_eur(base, date))
}

/// The currency's value per euro on `date`: the table's value moved by a
/// drift within ±1 % drawn from the date and the code, so another date gives
/// other (still consistent) rates. The euro is the anchor and never drifts.
fn per_eur(currency: &Currency, date: &str) -> f64 {
    if currency.code == "EUR" {
        return 1.0;
    }
    let drift = splitmix64(fnv1a(date.as_bytes()) ^ fnv1a(currency.code.as_bytes())) % 2_001;
    currency.per_eur * (1.0 + (drift as f64 - 1_000.0) / 100_000.0)
}

/// Rounds to [`SIGNIFICANT_DIGITS`] through the decimal text, so the result
/// is the double nearest to a short decimal and prints as that decimal.
fn round_significant(value: f64) -> f64 {
    let text = format!("{value:.*e}", SIGNIFICANT_DIGITS - 1);
    text.parse().unwrap_or(value)
}

/// FNV-1a (64-bit): a stable hash of a short string, unlike std's hasher,
/// whose output may change between Rust releases.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xCBF2_9CE4_8422_2325, |hash, byte| (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01B3))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATE: &str = "2026-11-27";

    fn get(code: &str) -> &'static Currency {
        find(code).unwrap_or_else(|| panic!("{code} is quoted"))
    }

    #[test]
    fn the_table_is_sorted_unique_and_plausible() {
        assert!(CURRENCIES.len() >= 30);
        assert!(CURRENCIES.windows(2).all(|pair| pair[0].code < pair[1].code));
        for currency in CURRENCIES {
            assert_eq!(currency.code.len(), 3);
            assert!(currency.code.bytes().all(|b| b.is_ascii_uppercase()));
            assert_eq!(currency.numeric.len(), 3);
            assert!(currency.per_eur > 0.0 && currency.per_eur.is_finite());
            assert_eq!(find(currency.code), Some(currency));
        }
        assert_eq!(find("XXX"), None);
        assert_eq!(find("eur"), None, "lookups take upper case; callers normalise");
    }

    #[test]
    fn rates_are_deterministic_and_depend_on_the_date() {
        let (usd, eur) = (get("USD"), get("EUR"));
        assert_eq!(rate(usd, eur, DATE), rate(usd, eur, DATE));
        assert_ne!(rate(usd, eur, DATE), rate(usd, eur, "2026-11-26"));
        assert_eq!(rate(usd, usd, DATE), 1.0);
        // Within the ±1 % drift of the table's 1 / 1.085.
        let usd_eur = rate(usd, eur, DATE);
        assert!((usd_eur - 1.0 / 1.085).abs() < 0.0093, "{usd_eur}");
    }

    #[test]
    fn rates_have_at_most_six_significant_digits() {
        for base in CURRENCIES {
            for quote in CURRENCIES {
                let value = rate(base, quote, DATE);
                assert!(value > 0.0 && value.is_finite());
                assert_eq!(round_significant(value), value);
                let text = serde_json::to_string(&value).unwrap_or_default();
                let mantissa = text.split('e').next().unwrap_or_default().replace('.', "");
                let digits = mantissa.trim_start_matches('0').trim_end_matches('0');
                assert!(digits.len() <= SIGNIFICANT_DIGITS, "{text}");
            }
        }
    }

    #[test]
    fn cross_rates_are_consistent() {
        // Each rate is within half a unit in the sixth digit of the exact
        // quotient, so a product of two carries at most ~1e-5 relative error.
        for a in CURRENCIES {
            for b in CURRENCIES {
                let inverse = rate(a, b, DATE) * rate(b, a, DATE);
                assert!((inverse - 1.0).abs() < 1.1e-5, "{} {}: {inverse}", a.code, b.code);
                for c in CURRENCIES {
                    let direct = rate(a, c, DATE);
                    let via = rate(a, b, DATE) * rate(b, c, DATE);
                    let error = (via / direct - 1.0).abs();
                    assert!(error < 1.6e-5, "{} {} {}: {error}", a.code, b.code, c.code);
                }
            }
        }
    }
}
