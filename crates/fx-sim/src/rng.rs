//! Deterministic pseudo-random draws for the fault knobs.
//!
//! Written by hand rather than taken from `rand`: the simulator needs a few
//! draws per call that are a pure function of (seed, call number, purpose),
//! so a run replays exactly from its seed and `POST /_stats/reset`, and
//! splitmix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number
//! generators", 2014) does that in a dozen lines with no dependency. It is
//! not cryptographic and does not need to be.

/// What a draw is for: each purpose gets its own stream, so adding a draw
/// for one knob never shifts the draws of another.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Purpose {
    /// Whether a call fails (`error_rate`).
    Error = 1,
    /// Which failure status it gets (500 or 503).
    ErrorStatus = 2,
    /// The jitter added to `latency_ms`.
    Jitter = 3,
}

/// The draw for call number `call` (0-based) of a run seeded with `seed`.
pub(crate) fn draw(seed: u64, call: u64, purpose: Purpose) -> u64 {
    splitmix64(splitmix64(seed ^ (purpose as u64).wrapping_mul(GOLDEN)) ^ call)
}

/// A draw mapped to `[0, 1)` with 53 bits of precision.
pub(crate) fn unit(value: u64) -> f64 {
    // The top 53 bits fill an f64 mantissa exactly: every result is a
    // multiple of 2^-53 below 1.
    (value >> 11) as f64 / (1u64 << 53) as f64
}

/// The 64-bit golden ratio, splitmix64's increment.
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// One step of splitmix64: a bijective mix of `state + GOLDEN`.
pub(crate) fn splitmix64(state: u64) -> u64 {
    let mut z = state.wrapping_add(GOLDEN);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_the_reference_sequence() {
        // The first outputs of the reference generator seeded with 0
        // (state advanced by GOLDEN before each mix).
        assert_eq!(splitmix64(0), 0xE220_A839_7B1D_CDAF);
        assert_eq!(splitmix64(GOLDEN), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn draws_are_a_function_of_seed_call_and_purpose() {
        assert_eq!(draw(7, 3, Purpose::Error), draw(7, 3, Purpose::Error));
        assert_ne!(draw(7, 3, Purpose::Error), draw(8, 3, Purpose::Error));
        assert_ne!(draw(7, 3, Purpose::Error), draw(7, 4, Purpose::Error));
        assert_ne!(draw(7, 3, Purpose::Error), draw(7, 3, Purpose::Jitter));
    }

    #[test]
    fn unit_draws_stay_in_the_half_open_interval_and_spread() {
        let draws: Vec<f64> = (0..10_000).map(|call| unit(draw(1, call, Purpose::Error))).collect();
        assert!(draws.iter().all(|u| (0.0..1.0).contains(u)));
        let below_half = draws.iter().filter(|u| **u < 0.5).count();
        assert!((4_700..5_300).contains(&below_half), "{below_half}");
        assert_eq!(unit(u64::MAX), 1.0 - 2f64.powi(-53));
    }
}
