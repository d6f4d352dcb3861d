//! Counts of the calls the simulated provider received.
//!
//! Counted when a call arrives, before any knob acts, so a call that is
//! black-holed, refused or abandoned by its client still counts exactly once.
//! Keys are a fixed set of routes: no client-chosen path becomes a key.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

/// A snapshot of the counters: the JSON of `GET /_stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Every call to a provider route (anything but `/_control` and `/_stats`).
    pub calls: u64,
    /// Calls refused with 429 because the quota was spent.
    pub over_quota: u64,
    /// Calls answered 500 or 503 by `error_rate`.
    pub errors: u64,
    /// Calls answered 503 by an outage.
    pub outages: u64,
    /// Calls held by the black hole.
    pub black_holed: u64,
    /// Calls by route: `/v2/rates`, `/v2/rate/{base}/{quote}`,
    /// `/v2/currencies` and `other` (every other path), always all four.
    pub by_path: BTreeMap<String, u64>,
}

/// The routes calls are counted under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    Rates,
    Rate,
    Currencies,
    Other,
}

/// The live counters.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    calls: AtomicU64,
    over_quota: AtomicU64,
    errors: AtomicU64,
    outages: AtomicU64,
    black_holed: AtomicU64,
    by_route: [AtomicU64; Route::ALL.len()],
}

/// A counter other than the per-call ones.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Outcome {
    OverQuota,
    Error,
    Outage,
    BlackHoled,
}

// === impl Route ===

impl Route {
    const ALL: [Route; 4] = [Route::Rates, Route::Rate, Route::Currencies, Route::Other];

    /// The route a request path belongs to.
    pub(crate) fn of(path: &str) -> Self {
        match path {
            "/v2/rates" => Route::Rates,
            "/v2/currencies" => Route::Currencies,
            _ if path.starts_with("/v2/rate/") => Route::Rate,
            _ => Route::Other,
        }
    }

    fn key(self) -> &'static str {
        match self {
            Route::Rates => "/v2/rates",
            Route::Rate => "/v2/rate/{base}/{quote}",
            Route::Currencies => "/v2/currencies",
            Route::Other => "other",
        }
    }
}

// === impl Counters ===

impl Counters {
    /// Counts a call and returns its number in this run (0-based), which
    /// seeds the call's random draws.
    pub(crate) fn call(&self, route: Route) -> u64 {
        self.by_route[route as usize].fetch_add(1, Ordering::Relaxed);
        self.calls.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn count(&self, outcome: Outcome) {
        let counter = match outcome {
            Outcome::OverQuota => &self.over_quota,
            Outcome::Error => &self.errors,
            Outcome::Outage => &self.outages,
            Outcome::BlackHoled => &self.black_holed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> Stats {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        Stats {
            calls: read(&self.calls),
            over_quota: read(&self.over_quota),
            errors: read(&self.errors),
            outages: read(&self.outages),
            black_holed: read(&self.black_holed),
            by_path: Route::ALL
                .into_iter()
                .map(|route| (route.key().to_owned(), read(&self.by_route[route as usize])))
                .collect(),
        }
    }

    /// Zeroes every counter; call numbers start again from 0, so a run
    /// after a reset draws the same faults as a fresh simulator.
    pub(crate) fn reset(&self) {
        for counter in [&self.calls, &self.over_quota, &self.errors, &self.outages, &self.black_holed]
            .into_iter()
            .chain(&self.by_route)
        {
            counter.store(0, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_a_fixed_set_of_keys() {
        assert_eq!(Route::of("/v2/rates"), Route::Rates);
        assert_eq!(Route::of("/v2/rate/USD/EUR"), Route::Rate);
        assert_eq!(Route::of("/v2/currencies"), Route::Currencies);
        for path in ["/", "/v2/rates/", "/v1/latest", "/v2/ratesX", "/%00"] {
            assert_eq!(Route::of(path), Route::Other, "{path}");
        }
        let counters = Counters::default();
        for n in 0..1_000 {
            counters.call(Route::of(&format!("/random/{n}")));
        }
        let stats = counters.snapshot();
        assert_eq!(stats.by_path.len(), 4);
        assert_eq!(stats.by_path.get("other"), Some(&1_000));
    }

    #[test]
    fn calls_are_numbered_from_zero_again_after_a_reset() {
        let counters = Counters::default();
        assert_eq!(counters.call(Route::Rates), 0);
        assert_eq!(counters.call(Route::Rate), 1);
        counters.count(Outcome::OverQuota);
        counters.reset();
        assert_eq!(counters.snapshot().calls, 0);
        assert_eq!(counters.snapshot().over_quota, 0);
        assert!(counters.snapshot().by_path.values().all(|n| *n == 0));
        assert_eq!(counters.call(Route::Rates), 0);
    }
}
