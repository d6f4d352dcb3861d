//! Random backoff: full jitter (a uniform draw below the exponential cap),
//! which spreads retries of many callers apart. A splitmix64 stream seeded
//! once from the clock, hand-written because a backoff needs no
//! cryptographic randomness and the `rand` crate would be a dependency for
//! six lines.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

static STATE: AtomicU64 = AtomicU64::new(0);

/// A uniform draw in `0..=cap`.
pub fn below(cap: Duration) -> Duration {
    let nanos = u64::try_from(cap.as_nanos()).unwrap_or(u64::MAX);
    if nanos == 0 {
        return Duration::ZERO;
    }
    Duration::from_nanos(next() % (nanos.saturating_add(1)).max(1))
}

fn next() -> u64 {
    if STATE.load(Ordering::Relaxed) == 0 {
        let seed = SystemTime::now().duration_since(UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64) | 1;
        let _ = STATE.compare_exchange(0, seed, Ordering::Relaxed, Ordering::Relaxed);
    }
    let mut z = STATE.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_stay_below_the_cap_and_spread() {
        let cap = Duration::from_millis(100);
        let draws: Vec<Duration> = (0..1000).map(|_| below(cap)).collect();
        assert!(draws.iter().all(|d| *d <= cap));
        let low = draws.iter().filter(|d| **d < cap / 2).count();
        assert!((300..700).contains(&low), "{low} of 1000 in the lower half");
        assert_eq!(below(Duration::ZERO), Duration::ZERO);
    }
}
