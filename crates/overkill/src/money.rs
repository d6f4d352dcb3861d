//! Money: ISO 4217 currency codes. Amounts are integer minor units.

use std::fmt;

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

/// A current ISO 4217 currency: an index into `CODES`, so it is one word,
/// `Copy`, and cannot name a code that is not listed.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency(usize);

/// Active ISO 4217 codes (list amendments up to 2025) with their minor-unit
/// exponent (`price_minor` = amount × 10^exponent), sorted for binary search.
/// Excludes `XTS` (reserved for testing) and `XXX` (no currency), which
/// cannot price anything.
///
/// ISO gives no minor unit ("N.A.") for the precious metals (XAG, XAU, XPD,
/// XPT), the bond-market units (XBA–XBD), the SDR (XDR), the SUCRE (XSU) and
/// the ADB unit of account (XUA). We give them exponent 0: their amounts are
/// whole units (troy ounces, SDRs), which keeps every amount an integer and
/// every conversion defined; a product priced in XAU costs whole ounces.
#[rustfmt::skip] // a table: one row per line would take 180 lines
const CODES: &[(&str, u8)] = &[
    ("AED", 2), ("AFN", 2), ("ALL", 2), ("AMD", 2), ("AOA", 2), ("ARS", 2), ("AUD", 2), ("AWG", 2), ("AZN", 2),
    ("BAM", 2), ("BBD", 2), ("BDT", 2), ("BGN", 2), ("BHD", 3), ("BIF", 0), ("BMD", 2), ("BND", 2), ("BOB", 2),
    ("BOV", 2), ("BRL", 2), ("BSD", 2), ("BTN", 2), ("BWP", 2), ("BYN", 2), ("BZD", 2), ("CAD", 2), ("CDF", 2),
    ("CHE", 2), ("CHF", 2), ("CHW", 2), ("CLF", 4), ("CLP", 0), ("CNY", 2), ("COP", 2), ("COU", 2), ("CRC", 2),
    ("CUP", 2), ("CVE", 2), ("CZK", 2), ("DJF", 0), ("DKK", 2), ("DOP", 2), ("DZD", 2), ("EGP", 2), ("ERN", 2),
    ("ETB", 2), ("EUR", 2), ("FJD", 2), ("FKP", 2), ("GBP", 2), ("GEL", 2), ("GHS", 2), ("GIP", 2), ("GMD", 2),
    ("GNF", 0), ("GTQ", 2), ("GYD", 2), ("HKD", 2), ("HNL", 2), ("HTG", 2), ("HUF", 2), ("IDR", 2), ("ILS", 2),
    ("INR", 2), ("IQD", 3), ("IRR", 2), ("ISK", 0), ("JMD", 2), ("JOD", 3), ("JPY", 0), ("KES", 2), ("KGS", 2),
    ("KHR", 2), ("KMF", 0), ("KPW", 2), ("KRW", 0), ("KWD", 3), ("KYD", 2), ("KZT", 2), ("LAK", 2), ("LBP", 2),
    ("LKR", 2), ("LRD", 2), ("LSL", 2), ("LYD", 3), ("MAD", 2), ("MDL", 2), ("MGA", 2), ("MKD", 2), ("MMK", 2),
    ("MNT", 2), ("MOP", 2), ("MRU", 2), ("MUR", 2), ("MVR", 2), ("MWK", 2), ("MXN", 2), ("MXV", 2), ("MYR", 2),
    ("MZN", 2), ("NAD", 2), ("NGN", 2), ("NIO", 2), ("NOK", 2), ("NPR", 2), ("NZD", 2), ("OMR", 3), ("PAB", 2),
    ("PEN", 2), ("PGK", 2), ("PHP", 2), ("PKR", 2), ("PLN", 2), ("PYG", 0), ("QAR", 2), ("RON", 2), ("RSD", 2),
    ("RUB", 2), ("RWF", 0), ("SAR", 2), ("SBD", 2), ("SCR", 2), ("SDG", 2), ("SEK", 2), ("SGD", 2), ("SHP", 2),
    ("SLE", 2), ("SOS", 2), ("SRD", 2), ("SSP", 2), ("STN", 2), ("SVC", 2), ("SYP", 2), ("SZL", 2), ("THB", 2),
    ("TJS", 2), ("TMT", 2), ("TND", 3), ("TOP", 2), ("TRY", 2), ("TTD", 2), ("TWD", 2), ("TZS", 2), ("UAH", 2),
    ("UGX", 0), ("USD", 2), ("USN", 2), ("UYI", 0), ("UYU", 2), ("UYW", 4), ("UZS", 2), ("VED", 2), ("VES", 2),
    ("VND", 0), ("VUV", 0), ("WST", 2), ("XAF", 0), ("XAG", 0), ("XAU", 0), ("XBA", 0), ("XBB", 0), ("XBC", 0),
    ("XBD", 0), ("XCD", 2), ("XCG", 2), ("XDR", 0), ("XOF", 0), ("XPD", 0), ("XPF", 0), ("XPT", 0), ("XSU", 0),
    ("XUA", 0), ("YER", 2), ("ZAR", 2), ("ZMW", 2), ("ZWG", 2),
];

// === impl Currency ===

impl Currency {
    /// How many currencies there are.
    pub const COUNT: usize = CODES.len();

    /// The currency for `code`, which must be exactly a listed code
    /// (three uppercase letters; `eur` is not accepted).
    pub fn parse(code: &str) -> Option<Self> {
        // Compared as numbers, not strings: every row read from storage is
        // parsed here, and a string comparison per step of the search was
        // about 4 % of the CPU of a page of 50 products.
        let wanted = Self::key(code)?;
        CODES.binary_search_by(|(listed, _)| Self::key(listed).unwrap_or_default().cmp(&wanted)).ok().map(Self)
    }

    /// Three bytes as one number that sorts as the text does.
    fn key(code: &str) -> Option<u32> {
        let &[a, b, c] = code.as_bytes() else { return None };
        Some(u32::from_be_bytes([0, a, b, c]))
    }

    /// The three-letter code.
    pub fn code(self) -> &'static str {
        CODES[self.0].0
    }

    /// The ISO 4217 minor-unit exponent: 2 for EUR (cents), 0 for JPY, 3 for
    /// KWD; 0 for the codes ISO gives none (see `CODES`). An amount of
    /// `minor` minor units is `minor / 10^exponent` units.
    pub fn exponent(self) -> u8 {
        CODES[self.0].1
    }
}

/// In the OpenAPI document: a string enum of exactly the codes
/// [`Currency::parse`] accepts, so a generated client knows the real list.
impl utoipa::PartialSchema for Currency {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some("A current ISO 4217 currency code, uppercase."))
            .enum_values(Some(CODES.iter().map(|(code, _)| *code)))
            .examples(["EUR"])
            .into()
    }
}

impl utoipa::ToSchema for Currency {}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Currency({})", self.code())
    }
}

/// An exchange rate as an exact decimal, `mantissa × 10^-scale`, positive:
/// parsed from the provider's text, never through a double, so a rate is
/// exactly what the provider said. (For issue 9's conversions; the FX
/// feature that uses it is not served yet.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    mantissa: u64,
    scale: i32,
}

/// Most significant digits a rate may carry: providers give six to ten;
/// eighteen keep every product with an amount inside `u128`.
const MAX_RATE_DIGITS: usize = 18;

/// Largest exponent magnitude a rate may carry: far past any real rate.
const MAX_RATE_EXPONENT: i32 = 40;

impl Rate {
    /// The rate a JSON number's text spells (`0.9234`, `161.45`, `1.2e-5`,
    /// `1E3`), if it is positive, finite and within bounds: at most 18
    /// significant digits, an exponent within ±40. Anything else (a sign,
    /// zero, `NaN`, a string) is no rate.
    pub fn parse(text: &str) -> Option<Self> {
        let (number, exponent) = match text.find(['e', 'E']) {
            Some(at) => (&text[..at], text[at + 1..].strip_prefix('+').unwrap_or(&text[at + 1..]).parse::<i32>().ok()?),
            None => (text, 0),
        };
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        let all_digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty()
            || !all_digits(whole)
            || !all_digits(fraction)
            || (number.contains('.') && fraction.is_empty())
        {
            return None;
        }
        let digits = format!("{whole}{fraction}");
        let significant = digits.trim_start_matches('0').trim_end_matches('0');
        if significant.is_empty()
            || significant.len() > MAX_RATE_DIGITS
            || !(-MAX_RATE_EXPONENT..=MAX_RATE_EXPONENT).contains(&exponent)
        {
            return None;
        }
        let trailing_zeros = digits.len() - digits.trim_end_matches('0').len();
        let mantissa = significant.parse::<u64>().ok()?;
        let scale = fraction.len() as i32 - exponent - trailing_zeros as i32;
        Some(Self { mantissa, scale })
    }

    /// The rate 1.
    pub fn one() -> Self {
        Self { mantissa: 1, scale: 0 }
    }

    /// Converts `amount_minor` minor units of `from` into `to` at this rate
    /// (1 `from` = rate `to`), rounded half-even to `to`'s minor units.
    /// `None` when the result does not fit an `i64`.
    pub fn convert(self, amount_minor: i64, from: Currency, to: Currency) -> Option<i64> {
        // amount × mantissa × 10^(e_to − e_from − scale), in integers.
        let shift = i32::from(to.exponent()) - i32::from(from.exponent()) - self.scale;
        let product = u128::from(amount_minor.unsigned_abs()) * u128::from(self.mantissa);
        let magnitude = if shift >= 0 {
            product.checked_mul(10_u128.checked_pow(shift as u32)?)?
        } else {
            divide_half_even(product, -shift)
        };
        let magnitude = i64::try_from(magnitude).ok()?;
        Some(if amount_minor < 0 { -magnitude } else { magnitude })
    }
}

/// `n / 10^power`, rounded half to even.
fn divide_half_even(n: u128, power: i32) -> u128 {
    let Some(divisor) = 10_u128.checked_pow(power as u32) else {
        return 0; // n < 10^38 < half of any larger divisor
    };
    let (quotient, remainder) = (n / divisor, n % divisor);
    match (remainder * 2).cmp(&divisor) {
        std::cmp::Ordering::Greater => quotient + 1,
        std::cmp::Ordering::Equal => quotient + (quotient & 1),
        std::cmp::Ordering::Less => quotient,
    }
}

impl fmt::Display for Rate {
    /// Plain decimal notation, no exponent: `0.9234`, `161.45`, `1000`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.mantissa.to_string();
        if self.scale <= 0 {
            return write!(f, "{digits}{}", "0".repeat(self.scale.unsigned_abs() as usize));
        }
        let scale = self.scale as usize;
        if digits.len() > scale {
            let (whole, fraction) = digits.split_at(digits.len() - scale);
            write!(f, "{whole}.{fraction}")
        } else {
            write!(f, "0.{}{digits}", "0".repeat(scale - digits.len()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_is_sorted_and_unique() {
        assert!(CODES.windows(2).all(|pair| pair[0].0 < pair[1].0));
    }

    #[test]
    fn exponents_follow_iso_4217() {
        let exponent = |code| Currency::parse(code).map(Currency::exponent);
        let zero = ["BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV"];
        let zero_cfa = ["XAF", "XOF", "XPF"];
        let three = ["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];
        let four = ["CLF", "UYW"];
        let no_minor_unit = ["XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XDR", "XPD", "XPT", "XSU", "XUA"];
        let mut special = 0;
        for (codes, expected) in [(&zero[..], 0), (&zero_cfa, 0), (&three, 3), (&four, 4), (&no_minor_unit, 0)] {
            for code in codes {
                assert_eq!(exponent(code), Some(expected), "{code}");
                special += 1;
            }
        }
        for code in ["EUR", "USD", "GBP", "CHF", "CNY", "INR", "BRL", "MRU", "VES", "ZWG", "XCG", "HUF", "IDR"] {
            assert_eq!(exponent(code), Some(2), "{code}");
        }
        let twos = CODES.iter().filter(|(_, e)| *e == 2).count();
        assert_eq!(twos + special, CODES.len(), "every other listed currency has 2");
    }

    #[test]
    fn the_document_lists_exactly_the_accepted_codes() {
        let schema = serde_json::to_value(<Currency as utoipa::PartialSchema>::schema()).unwrap();
        let listed: Vec<&str> = schema["enum"].as_array().unwrap().iter().map(|code| code.as_str().unwrap()).collect();
        assert_eq!(listed, CODES.iter().map(|(code, _)| *code).collect::<Vec<_>>());
        assert!(listed.iter().all(|code| Currency::parse(code).is_some()));
    }

    fn code(text: &str) -> Currency {
        Currency::parse(text).unwrap()
    }

    #[test]
    fn rates_parse_exactly_and_print_plainly() {
        for (text, printed) in [
            ("0.9234", "0.9234"),
            ("161.45", "161.45"),
            ("1.2e-5", "0.000012"),
            ("1E3", "1000"),
            ("1e+2", "100"),
            ("0.0000194094", "0.0000194094"),
            ("2.50", "2.5"),
            ("007.1", "7.1"),
        ] {
            assert_eq!(Rate::parse(text).map(|rate| rate.to_string()).as_deref(), Some(printed), "{text}");
        }
        for bad in [
            "",
            "0",
            "0.000",
            "-1.2",
            "+1",
            "1.",
            ".5",
            "NaN",
            "inf",
            "1e",
            "1e99",
            "1.2.3",
            "0x10",
            "1234567890123456789",
        ] {
            assert_eq!(Rate::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn conversions_round_half_even_to_the_targets_minor_units() {
        let at = |text| Rate::parse(text).unwrap();
        // 19.99 EUR × 1.0842 = 21.673158 USD
        assert_eq!(at("1.0842").convert(1999, code("EUR"), code("USD")), Some(2167));
        // 19.99 EUR × 161.45 = 3227.3855 JPY (no minor units)
        assert_eq!(at("161.45").convert(1999, code("EUR"), code("JPY")), Some(3227));
        // 19.99 EUR × 0.33312 = 6.6590688 KWD (three decimals)
        assert_eq!(at("0.33312").convert(1999, code("EUR"), code("KWD")), Some(6659));
        // 500 JPY × 0.0062 = 3.1 EUR
        assert_eq!(at("0.0062").convert(500, code("JPY"), code("EUR")), Some(310));
        // Exact halves go to the even neighbour.
        for (amount, expected) in [(5, 0), (15, 2), (25, 2), (35, 4), (-25, -2)] {
            assert_eq!(at("0.1").convert(amount, code("EUR"), code("USD")), Some(expected), "{amount} × 0.1");
        }
        assert_eq!(Rate::one().convert(1999, code("EUR"), code("EUR")), Some(1999));
        // The largest price at a large rate still fits; past i64 is None.
        assert_eq!(at("161.45").convert(1_000_000_000_000, code("EUR"), code("JPY")), Some(1_614_500_000_000));
        assert_eq!(at("1e9").convert(i64::MAX, code("EUR"), code("USD")), None);
        assert_eq!(at("1e-40").convert(i64::MAX, code("EUR"), code("USD")), Some(0));
    }

    #[test]
    fn accepts_real_codes_only() {
        assert_eq!(Currency::parse("EUR").map(Currency::code), Some("EUR"));
        assert_eq!(Currency::parse("JPY").map(Currency::code), Some("JPY"));
        for bad in ["eur", "ABC", "EURO", "", "XXX", "XTS", "EU", "\0EUR", "€U"] {
            assert_eq!(Currency::parse(bad), None, "{bad}");
        }
        for (at, (code, _)) in CODES.iter().enumerate() {
            assert_eq!(Currency::parse(code), Some(Currency(at)), "{code}");
        }
    }
}
