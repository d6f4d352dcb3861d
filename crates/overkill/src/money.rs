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
    /// The currency for `code`, which must be exactly a listed code
    /// (three uppercase letters; `eur` is not accepted).
    pub fn parse(code: &str) -> Option<Self> {
        CODES.binary_search_by(|(listed, _)| listed.cmp(&code)).ok().map(Self)
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

    #[test]
    fn accepts_real_codes_only() {
        assert_eq!(Currency::parse("EUR").map(Currency::code), Some("EUR"));
        assert_eq!(Currency::parse("JPY").map(Currency::code), Some("JPY"));
        for bad in ["eur", "ABC", "EURO", "", "XXX", "XTS"] {
            assert_eq!(Currency::parse(bad), None, "{bad}");
        }
    }
}
