//! One call to a provider under every rule at once: bulkhead → breaker →
//! quota → attempts (each with a timeout) → retries (idempotent requests
//! and retryable faults only, within the budget, after full-jitter backoff
//! or the provider's own wait) — and never past the caller's deadline.

use std::future::Future;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::breaker::{Breaker, BreakerSettings, BreakerState};
use crate::budget::RetryBudget;
use crate::jitter;
use crate::quota::Quota;

/// The rules for one provider.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Names the provider in metrics and logs: a fixed string, never input.
    pub name: &'static str,
    pub attempt_timeout: Duration,
    pub max_attempts: u32,
    pub retry_budget_ratio: f64,
    /// The first retry waits up to this long, each next one twice as long …
    pub backoff_base: Duration,
    /// … up to this.
    pub backoff_max: Duration,
    pub quota_per_second: f64,
    pub quota_burst: u32,
    pub max_in_flight: usize,
    pub breaker: BreakerSettings,
}

/// Why an attempt failed: the provider's fault or the way to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// No connection (refused, reset, unreachable).
    Connect,
    /// No whole answer within the attempt's timeout.
    Timeout,
    /// An error status (429, 5xx).
    Status(u16),
    /// An answer that does not parse or makes no sense: never retried, and
    /// never a value.
    Malformed,
}

/// A failed attempt, and how long the provider asked to wait, if it did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptError {
    pub fault: Fault,
    pub wait: Option<Duration>,
}

/// Why a call gave no value. Each says when trying again makes sense.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// Not sent: too many calls in flight until the deadline.
    Bulkhead,
    /// Not sent: the breaker is open until then.
    BreakerOpen { until: Instant },
    /// Not sent: the quota has no token (or the provider said wait) until then.
    Quota { until: Instant },
    /// Sent, and the last attempt failed so; `retry_at` when known.
    Failed { fault: Fault, retry_at: Option<Instant> },
}

/// The policy for one provider, shared by every caller.
#[derive(Debug)]
pub struct Policy {
    settings: Settings,
    in_flight: Semaphore,
    breaker: Breaker,
    quota: Quota,
    budget: RetryBudget,
}

// === impl Fault ===

impl Fault {
    /// Whether another attempt may help: connects, timeouts, 429, 502–504.
    pub fn retryable(self) -> bool {
        match self {
            Self::Connect | Self::Timeout => true,
            Self::Status(code) => matches!(code, 429 | 502 | 503 | 504),
            Self::Malformed => false,
        }
    }

    /// The metric label.
    fn label(self) -> &'static str {
        match self {
            Self::Connect => "error_connect",
            Self::Timeout => "error_timeout",
            Self::Status(429) => "error_rate_limited",
            Self::Status(_) => "error_status",
            Self::Malformed => "error_malformed",
        }
    }
}

// === impl CallError ===

impl CallError {
    /// When the caller may try again, at the earliest.
    pub fn retry_at(&self) -> Option<Instant> {
        match self {
            Self::Bulkhead => None,
            Self::BreakerOpen { until } | Self::Quota { until } => Some(*until),
            Self::Failed { retry_at, .. } => *retry_at,
        }
    }
}

// === impl Policy ===

impl Policy {
    pub fn new(settings: Settings) -> Self {
        Self {
            in_flight: Semaphore::new(settings.max_in_flight.max(1)),
            breaker: Breaker::new(settings.breaker),
            quota: Quota::new(settings.quota_per_second, settings.quota_burst),
            budget: RetryBudget::new(settings.retry_budget_ratio),
            settings,
        }
    }

    /// The breaker's state, for readiness and metrics.
    pub fn breaker_state(&self) -> BreakerState {
        self.breaker.state()
    }

    /// Runs `attempt` (given each attempt's own deadline) under the rules,
    /// all before `deadline`. Only `idempotent` calls are retried.
    pub async fn call<T, F, Fut>(&self, deadline: Instant, idempotent: bool, mut attempt: F) -> Result<T, CallError>
    where
        F: FnMut(Instant) -> Fut,
        Fut: Future<Output = Result<T, AttemptError>>,
    {
        let name = self.settings.name;
        let Ok(Ok(_permit)) = tokio::time::timeout_at(deadline, self.in_flight.acquire()).await else {
            return Err(self.rejected(CallError::Bulkhead, "rejected_bulkhead"));
        };
        let mut attempts = 0;
        loop {
            let admission = match self.breaker.admit() {
                Ok(admission) => admission,
                Err(until) => return Err(self.rejected(CallError::BreakerOpen { until }, "rejected_breaker")),
            };
            match self.quota.acquire(deadline).await {
                Ok(false) => {}
                Ok(true) => metrics::counter!("outbound_quota_waits_total", "provider" => name).increment(1),
                Err(until) => {
                    // The breaker let this call out; it never went, so it says nothing.
                    self.breaker.abandon(admission);
                    return Err(self.rejected(CallError::Quota { until }, "rejected_quota"));
                }
            }
            if attempts == 0 {
                self.budget.deposit();
            } else {
                metrics::counter!("outbound_retries_total", "provider" => name).increment(1);
            }
            attempts += 1;
            let started = Instant::now();
            let attempt_deadline = deadline.min(started + self.settings.attempt_timeout);
            let result = match tokio::time::timeout_at(attempt_deadline, attempt(attempt_deadline)).await {
                Ok(result) => result,
                Err(_) => Err(AttemptError { fault: Fault::Timeout, wait: None }),
            };
            metrics::histogram!("outbound_call_duration_seconds", "provider" => name)
                .record(started.elapsed().as_secs_f64());
            let error = match result {
                Ok(value) => {
                    self.breaker.record(admission, true);
                    self.report_breaker();
                    metrics::counter!("outbound_calls_total", "provider" => name, "outcome" => "ok").increment(1);
                    return Ok(value);
                }
                Err(error) => error,
            };
            // A timeout the caller's own deadline cut short says nothing
            // about the provider: it did not have its whole attempt time.
            let cut_short = error.fault == Fault::Timeout && attempt_deadline < started + self.settings.attempt_timeout;
            if cut_short {
                self.breaker.abandon(admission);
            } else {
                self.breaker.record(admission, false);
            }
            self.report_breaker();
            metrics::counter!("outbound_calls_total", "provider" => name, "outcome" => error.fault.label())
                .increment(1);
            let asked = error.wait.map(|wait| Instant::now() + wait);
            if let Some(until) = asked.filter(|_| matches!(error.fault, Fault::Status(429 | 503))) {
                self.quota.close_until(until);
            }
            let backoff = jitter::below(
                self.settings.backoff_base.saturating_mul(1 << attempts.min(16)).min(self.settings.backoff_max),
            );
            let retry_at = asked.unwrap_or(Instant::now()).max(Instant::now() + backoff);
            let give_up = !idempotent
                || !error.fault.retryable()
                || attempts >= self.settings.max_attempts
                || retry_at >= deadline
                || !self.budget.withdraw();
            if give_up {
                tracing::warn!(provider = name, fault = ?error.fault, attempts, "outbound call failed");
                return Err(CallError::Failed { fault: error.fault, retry_at: asked });
            }
            tokio::time::sleep_until(retry_at).await;
        }
    }

    fn rejected(&self, error: CallError, outcome: &'static str) -> CallError {
        metrics::counter!("outbound_calls_total", "provider" => self.settings.name, "outcome" => outcome).increment(1);
        error
    }

    fn report_breaker(&self) {
        let state = match self.breaker.state() {
            BreakerState::Closed => 0.0,
            BreakerState::HalfOpen => 1.0,
            BreakerState::Open => 2.0,
        };
        metrics::gauge!("outbound_breaker_state", "provider" => self.settings.name).set(state);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn settings() -> Settings {
        Settings {
            name: "test",
            attempt_timeout: Duration::from_millis(500),
            max_attempts: 3,
            retry_budget_ratio: 0.2,
            backoff_base: Duration::from_millis(50),
            backoff_max: Duration::from_secs(1),
            quota_per_second: 10.0,
            quota_burst: 2,
            max_in_flight: 4,
            breaker: BreakerSettings {
                failure_rate: 0.5,
                min_calls: 4,
                window: Duration::from_secs(10),
                open_for: Duration::from_secs(5),
            },
        }
    }

    fn fails(fault: Fault) -> Result<u32, AttemptError> {
        Err(AttemptError { fault, wait: None })
    }

    #[tokio::test(start_paused = true)]
    async fn retries_retryable_faults_of_idempotent_calls_only() {
        let policy = Policy::new(settings());
        let deadline = Instant::now() + Duration::from_secs(10);
        let tries = AtomicU32::new(0);
        let result = policy
            .call(deadline, true, |_| {
                let n = tries.fetch_add(1, Ordering::SeqCst);
                async move { if n < 2 { fails(Fault::Status(503)) } else { Ok(7) } }
            })
            .await;
        assert_eq!((result, tries.load(Ordering::SeqCst)), (Ok(7), 3));

        for (idempotent, fault) in [(false, Fault::Connect), (true, Fault::Malformed), (true, Fault::Status(500))] {
            let policy = Policy::new(settings());
            let tries = AtomicU32::new(0);
            let result = policy
                .call(deadline, idempotent, |_| {
                    tries.fetch_add(1, Ordering::SeqCst);
                    async move { fails(fault) }
                })
                .await;
            assert_eq!(result, Err(CallError::Failed { fault, retry_at: None }));
            assert_eq!(tries.load(Ordering::SeqCst), 1, "{fault:?} once");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_hung_attempt_times_out_and_the_call_ends_by_its_deadline() {
        let policy = Policy::new(settings());
        let start = Instant::now();
        let deadline = start + Duration::from_millis(1200);
        let result: Result<u32, _> = policy.call(deadline, true, |_| std::future::pending()).await;
        assert!(matches!(result, Err(CallError::Failed { fault: Fault::Timeout, .. })), "{result:?}");
        assert!(Instant::now() <= deadline, "ended {:?} after the start", start.elapsed());
    }

    #[tokio::test(start_paused = true)]
    async fn a_provider_that_says_wait_closes_the_quota_for_everyone() {
        let policy = Policy::new(settings());
        let deadline = Instant::now() + Duration::from_secs(5);
        let result = policy
            .call(deadline, true, |_| async {
                Err::<u32, _>(AttemptError { fault: Fault::Status(429), wait: Some(Duration::from_secs(30)) })
            })
            .await;
        let asked = Instant::now() + Duration::from_secs(30);
        assert_eq!(result, Err(CallError::Failed { fault: Fault::Status(429), retry_at: Some(asked) }));
        let other = policy.call(deadline, true, |_| async { Ok::<u32, AttemptError>(1) }).await;
        assert_eq!(other, Err(CallError::Quota { until: asked }), "nobody calls before the provider said");
    }

    #[tokio::test(start_paused = true)]
    async fn the_breaker_opens_and_calls_stop() {
        let policy = Policy::new(Settings { max_attempts: 1, ..settings() });
        let tries = AtomicU32::new(0);
        for _ in 0..4 {
            let deadline = Instant::now() + Duration::from_secs(1);
            let _ = policy
                .call(deadline, true, |_| {
                    tries.fetch_add(1, Ordering::SeqCst);
                    async { fails(Fault::Status(500)) }
                })
                .await;
        }
        assert_eq!(policy.breaker_state(), BreakerState::Open);
        let deadline = Instant::now() + Duration::from_secs(1);
        let result = policy.call(deadline, true, |_| async { Ok::<u32, AttemptError>(1) }).await;
        assert!(matches!(result, Err(CallError::BreakerOpen { .. })));
        assert_eq!(tries.load(Ordering::SeqCst), 4, "no call went out while open");
    }
}
