//! A circuit breaker: closed while the provider mostly answers; open (no
//! calls) for a while once the share of failures over a sliding window
//! passes a rate, with at least a minimum of calls in it; then half-open:
//! one probe call, whose outcome closes or reopens it.
//!
//! Written by hand (about a hundred lines): no well-kept crate does
//! failure-rate windows with half-open probes on tokio's clock.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// How the breaker decides.
#[derive(Debug, Clone, Copy)]
pub struct BreakerSettings {
    /// Opens at this share of failures (0..=1) …
    pub failure_rate: f64,
    /// … among at least this many calls …
    pub min_calls: u32,
    /// … over this window.
    pub window: Duration,
    /// Stays open this long before a probe.
    pub open_for: Duration,
}

/// Where the breaker is, as a metric shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

/// What the breaker allowed: a normal call, or the half-open probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Normal,
    Probe,
}

/// The breaker.
#[derive(Debug)]
pub struct Breaker {
    settings: BreakerSettings,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    phase: Phase,
    window: Window,
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    Closed,
    Open {
        until: Instant,
    },
    /// A probe is out since `since`; a probe that never reports (its
    /// caller was dropped) is replaced after `open_for`.
    HalfOpen {
        since: Instant,
    },
}

/// Outcomes in ten buckets spanning the window.
#[derive(Debug)]
struct Window {
    bucket: Duration,
    epoch: Instant,
    /// (bucket number, successes, failures)
    buckets: [(u64, u32, u32); BUCKETS],
}

const BUCKETS: usize = 10;

// === impl Breaker ===

impl Breaker {
    pub fn new(settings: BreakerSettings) -> Self {
        let window = Window::new(settings.window);
        Self { settings, inner: Mutex::new(Inner { phase: Phase::Closed, window }) }
    }

    /// May a call go out? `Err(until)`: open until then (or a probe is out).
    pub fn admit(&self) -> Result<Admission, Instant> {
        let now = Instant::now();
        let mut inner = self.lock();
        match inner.phase {
            Phase::Closed => Ok(Admission::Normal),
            Phase::Open { until } if now < until => Err(until),
            Phase::HalfOpen { since } if now < since + self.settings.open_for => Err(since + self.settings.open_for),
            Phase::Open { .. } | Phase::HalfOpen { .. } => {
                inner.phase = Phase::HalfOpen { since: now };
                Ok(Admission::Probe)
            }
        }
    }

    /// How the call that `admission` let out ended.
    pub fn record(&self, admission: Admission, success: bool) {
        let now = Instant::now();
        let mut inner = self.lock();
        match (admission, inner.phase) {
            (Admission::Probe, Phase::HalfOpen { .. }) => {
                inner.phase = if success {
                    inner.window = Window::new(self.settings.window);
                    Phase::Closed
                } else {
                    Phase::Open { until: now + self.settings.open_for }
                };
            }
            (Admission::Normal, Phase::Closed) => {
                inner.window.add(now, success);
                let (ok, failed) = inner.window.counts(now);
                let calls = ok + failed;
                if calls >= self.settings.min_calls
                    && f64::from(failed) >= self.settings.failure_rate * f64::from(calls)
                {
                    inner.phase = Phase::Open { until: now + self.settings.open_for };
                }
            }
            // A call let out before the breaker moved on says nothing now.
            _ => {}
        }
    }

    /// The call `admission` let out never went, or ended in a way that says
    /// nothing of the provider: a probe's turn goes to the next caller.
    pub fn abandon(&self, admission: Admission) {
        let mut inner = self.lock();
        if admission == Admission::Probe && matches!(inner.phase, Phase::HalfOpen { .. }) {
            inner.phase = Phase::Open { until: Instant::now() };
        }
    }

    /// Where it is now.
    pub fn state(&self) -> BreakerState {
        let now = Instant::now();
        match self.lock().phase {
            Phase::Closed => BreakerState::Closed,
            Phase::Open { until } if now < until => BreakerState::Open,
            Phase::Open { .. } | Phase::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

// === impl Window ===

impl Window {
    fn new(span: Duration) -> Self {
        let bucket = (span / BUCKETS as u32).max(Duration::from_millis(1));
        Self { bucket, epoch: Instant::now(), buckets: [(u64::MAX, 0, 0); BUCKETS] }
    }

    fn number(&self, now: Instant) -> u64 {
        (now.saturating_duration_since(self.epoch).as_nanos() / self.bucket.as_nanos()) as u64
    }

    fn add(&mut self, now: Instant, success: bool) {
        let number = self.number(now);
        let slot = &mut self.buckets[(number % BUCKETS as u64) as usize];
        if slot.0 != number {
            *slot = (number, 0, 0);
        }
        if success {
            slot.1 += 1;
        } else {
            slot.2 += 1;
        }
    }

    /// (successes, failures) in the buckets still inside the window.
    fn counts(&self, now: Instant) -> (u32, u32) {
        let current = self.number(now);
        self.buckets
            .iter()
            .filter(|(number, _, _)| *number <= current && current - number < BUCKETS as u64)
            .fold((0, 0), |(ok, failed), (_, s, f)| (ok + s, failed + f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> Breaker {
        Breaker::new(BreakerSettings {
            failure_rate: 0.5,
            min_calls: 4,
            window: Duration::from_secs(10),
            open_for: Duration::from_secs(5),
        })
    }

    #[tokio::test(start_paused = true)]
    async fn opens_on_the_failure_rate_then_probes_and_closes() {
        let breaker = breaker();
        for success in [true, false, true] {
            breaker.record(breaker.admit().unwrap(), success);
        }
        assert_eq!(breaker.state(), BreakerState::Closed, "too few calls to judge");
        breaker.record(breaker.admit().unwrap(), false);
        assert_eq!(breaker.state(), BreakerState::Open, "2 of 4 failed");
        let until = breaker.admit().unwrap_err();
        assert_eq!(until, Instant::now() + Duration::from_secs(5));

        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(breaker.admit(), Ok(Admission::Probe));
        assert!(breaker.admit().is_err(), "one probe at a time");
        breaker.record(Admission::Probe, false);
        assert_eq!(breaker.state(), BreakerState::Open, "a failed probe reopens it");

        tokio::time::advance(Duration::from_secs(5)).await;
        breaker.record(breaker.admit().unwrap(), true);
        assert_eq!(breaker.state(), BreakerState::Closed);
        breaker.record(breaker.admit().unwrap(), false);
        assert_eq!(breaker.state(), BreakerState::Closed, "the window started afresh");
    }

    #[tokio::test(start_paused = true)]
    async fn old_failures_leave_the_window_and_a_lost_probe_is_replaced() {
        let breaker = breaker();
        for _ in 0..3 {
            breaker.record(breaker.admit().unwrap(), false);
        }
        tokio::time::advance(Duration::from_secs(11)).await;
        for _ in 0..3 {
            breaker.record(breaker.admit().unwrap(), true);
        }
        breaker.record(breaker.admit().unwrap(), false);
        assert_eq!(breaker.state(), BreakerState::Closed, "1 of 4 in the window failed");
        for _ in 0..2 {
            breaker.record(breaker.admit().unwrap(), false);
        }
        assert_eq!(breaker.state(), BreakerState::Open, "3 of 6 failed");
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(breaker.admit(), Ok(Admission::Probe));
        // The probe's caller went away without reporting.
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(breaker.admit(), Ok(Admission::Probe));
    }
}
