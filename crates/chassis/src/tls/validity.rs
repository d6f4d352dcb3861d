//! A certificate's validity period, read from its DER.
//!
//! Written by hand because neither rustls nor webpki exposes `notBefore`
//! and `notAfter`, and the crates that parse X.509 whole (x509-parser,
//! x509-cert) bring a parser framework into the graph for two timestamps.
//! It walks only the fields before `validity`, and every length is checked
//! against what remains, so any input (a truncated or hostile file) ends in
//! an error, never a panic.

/// The period a certificate is valid in, in Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    /// `notBefore`.
    pub not_before: i64,
    /// `notAfter`.
    pub not_after: i64,
}

/// Why the validity could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed certificate: cannot read its validity ({0})")]
pub struct Malformed(&'static str);

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const VERSION: u8 = 0xA0;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;

/// Reads the validity of a DER certificate: `Certificate ::= SEQUENCE {
/// tbsCertificate SEQUENCE { [0] version OPTIONAL, serialNumber INTEGER,
/// signature SEQUENCE, issuer SEQUENCE, validity SEQUENCE { notBefore Time,
/// notAfter Time }, … }, … }`.
pub fn read(der: &[u8]) -> Result<Validity, Malformed> {
    let (certificate, _) = element(der, SEQUENCE, "certificate")?;
    let (tbs, _) = element(certificate, SEQUENCE, "tbsCertificate")?;
    let mut rest = tbs;
    if rest.first() == Some(&VERSION) {
        rest = element(rest, VERSION, "version")?.1;
    }
    rest = element(rest, INTEGER, "serialNumber")?.1;
    rest = element(rest, SEQUENCE, "signature")?.1;
    rest = element(rest, SEQUENCE, "issuer")?.1;
    let (validity, _) = element(rest, SEQUENCE, "validity")?;
    let (not_before, rest) = time(validity)?;
    let (not_after, _) = time(rest)?;
    Ok(Validity { not_before, not_after })
}

/// The contents of the element at the start of `input`, which must have
/// tag `tag`, and what follows it.
fn element<'a>(input: &'a [u8], tag: u8, what: &'static str) -> Result<(&'a [u8], &'a [u8]), Malformed> {
    let (&first, rest) = input.split_first().ok_or(Malformed(what))?;
    if first != tag {
        return Err(Malformed(what));
    }
    let (&length_byte, rest) = rest.split_first().ok_or(Malformed(what))?;
    let (length, rest) = if length_byte < 0x80 {
        (usize::from(length_byte), rest)
    } else {
        // Long form: the low bits count the length's bytes; certificates
        // never need more than four.
        let count = usize::from(length_byte & 0x7F);
        if count == 0 || count > 4 || rest.len() < count {
            return Err(Malformed(what));
        }
        let (bytes, rest) = rest.split_at(count);
        (bytes.iter().fold(0usize, |length, &b| (length << 8) | usize::from(b)), rest)
    };
    if rest.len() < length {
        return Err(Malformed(what));
    }
    Ok(rest.split_at(length))
}

/// A `Time` (UTCTime `YYMMDDHHMMSSZ` or GeneralizedTime
/// `YYYYMMDDHHMMSSZ`, as RFC 5280 requires them) in Unix seconds.
fn time(input: &[u8]) -> Result<(i64, &[u8]), Malformed> {
    let tag = *input.first().ok_or(Malformed("time"))?;
    let (text, rest) = element(input, tag, "time")?;
    let (year, text) = match tag {
        UTC_TIME if text.len() == 13 => {
            // RFC 5280: YY below 50 is 20YY, otherwise 19YY.
            let yy = digits(&text[..2])?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, &text[2..])
        }
        GENERALIZED_TIME if text.len() == 15 => (digits(&text[..4])?, &text[4..]),
        _ => return Err(Malformed("time")),
    };
    if text[10] != b'Z' {
        return Err(Malformed("time"));
    }
    let (month, day) = (digits(&text[0..2])?, digits(&text[2..4])?);
    let (hour, minute, second) = (digits(&text[4..6])?, digits(&text[6..8])?, digits(&text[8..10])?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return Err(Malformed("time"));
    }
    let days = days_from_civil(year, month, day);
    Ok((days * 86_400 + hour * 3600 + minute * 60 + second, rest))
}

fn digits(text: &[u8]) -> Result<i64, Malformed> {
    text.iter().try_fold(0i64, |value, &b| {
        if b.is_ascii_digit() { Ok(value * 10 + i64::from(b - b'0')) } else { Err(Malformed("time")) }
    })
}

/// Days from 1970-01-01 to the given proleptic Gregorian date (the civil
/// calendar algorithm: years counted from March, so the leap day is last).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A certificate skeleton around a validity of two times.
    fn certificate(not_before: &[u8], not_after: &[u8], with_version: bool) -> Vec<u8> {
        fn wrap(tag: u8, content: &[u8]) -> Vec<u8> {
            let mut out = vec![tag];
            if content.len() < 0x80 {
                out.push(u8::try_from(content.len()).unwrap());
            } else {
                out.extend([0x82, (content.len() >> 8) as u8, content.len() as u8]);
            }
            out.extend_from_slice(content);
            out
        }
        let mut tbs = Vec::new();
        if with_version {
            tbs.extend(wrap(VERSION, &wrap(INTEGER, &[2])));
        }
        tbs.extend(wrap(INTEGER, &[1, 2, 3]));
        tbs.extend(wrap(SEQUENCE, &[6, 1, 0]));
        tbs.extend(wrap(SEQUENCE, &[0x31; 200])); // a long issuer: long-form length
        let mut validity = Vec::new();
        validity.extend(wrap(if not_before.len() == 13 { UTC_TIME } else { GENERALIZED_TIME }, not_before));
        validity.extend(wrap(if not_after.len() == 13 { UTC_TIME } else { GENERALIZED_TIME }, not_after));
        tbs.extend(wrap(SEQUENCE, &validity));
        tbs.extend(wrap(SEQUENCE, &[])); // subject
        wrap(SEQUENCE, &[wrap(SEQUENCE, &tbs), wrap(SEQUENCE, &[])].concat())
    }

    #[test]
    fn reads_utc_and_generalized_times() {
        let der = certificate(b"250101000000Z", b"20500301120000Z", true);
        let validity = read(&der).unwrap();
        assert_eq!(validity.not_before, 1_735_689_600); // 2025-01-01T00:00:00Z
        assert_eq!(validity.not_after, 2_529_748_800); // 2050-03-01T12:00:00Z
        // UTCTime 50..99 is the 20th century; no version field is v1.
        let validity = read(&certificate(b"991231235959Z", b"000229000000Z", false)).unwrap();
        assert_eq!(validity.not_before, 946_684_799);
        assert_eq!(validity.not_after, 951_782_400); // 2000-02-29, a leap day
    }

    #[test]
    fn every_truncation_and_corruption_is_an_error_not_a_panic() {
        let der = certificate(b"250101000000Z", b"20500301120000Z", true);
        for len in 0..der.len() {
            let _ = read(&der[..len]);
        }
        for i in 0..der.len() {
            for byte in [0x00, 0x7F, 0x80, 0x84, 0xFF] {
                let mut bad = der.clone();
                bad[i] = byte;
                let _ = read(&bad);
            }
        }
        assert!(read(&certificate(b"25010100000+Z", b"20500301120000Z", true)).is_err());
        assert!(read(&certificate(b"251301000000Z", b"20500301120000Z", true)).is_err());
        assert!(read(&certificate(b"2501010000000", b"20500301120000Z", true)).is_err());
        assert!(read(b"").is_err());
    }
}
