//! Prices in any currency: exchange rates from a Frankfurter v2 provider,
//! called through the resilient outbound policy and cached per base
//! currency (docs/design/fx.md is the contract).
//!
//! `handlers` (`/v1/fx/rates`, and the `currency=` conversions products
//! ask for) → [`Fx`] (deadline, cache with coalescing and stale-if-error,
//! the policy: bulkhead, breaker, quota, retries) → `provider` (one HTTP
//! attempt, read strictly).

mod handlers;
mod provider;

use std::sync::Arc;
use std::time::Duration;

use chassis::Problem;
use http::StatusCode;
use outbound::breaker::{BreakerSettings, BreakerState};
use outbound::cache::{Cache, Freshness};
use outbound::{CallError, Policy};
use serde::Serialize;
use tokio::time::Instant;
use utoipa::ToSchema;

pub use handlers::{document_distinct_quotes, documented, router, target_currency};
use provider::{Lookup, Provider, Quote};

use crate::money::{Currency, Rate};

/// The provider's name in metrics and logs.
const PROVIDER: &str = "frankfurter";

/// Time kept back from the request's own deadline, so a late provider
/// becomes `fx-unavailable` rather than the generic `timeout`.
const DEADLINE_MARGIN: Duration = Duration::from_millis(20);

/// The `[fx]` settings (see `crate::config::settings` for their bounds).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FxSettings {
    /// The provider's base URL; `None`: conversion is off.
    pub url: Option<String>,
    pub connect_timeout: Duration,
    pub attempt_timeout: Duration,
    /// All attempts and waits of one lookup.
    pub deadline: Duration,
    pub quota_per_second: f64,
    pub quota_burst: u32,
    pub max_in_flight: usize,
    pub max_attempts: u32,
    pub retry_budget_ratio: f64,
    pub breaker_failure_rate: f64,
    pub breaker_min_calls: u32,
    pub breaker_window: Duration,
    pub breaker_open: Duration,
    pub cache_ttl: Duration,
    pub stale_limit: Duration,
}

/// Exchange rates for the handlers: cheap to clone, shared by all.
#[derive(Clone)]
pub struct Fx(Option<Arc<Client>>);

struct Client {
    provider: Provider,
    policy: Arc<Policy>,
    cache: Cache<Currency, Arc<Lookup>, CallError>,
    deadline: Duration,
}

/// Why a rate could not be given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FxError {
    /// Conversion is off.
    Disabled,
    /// The provider does not quote this currency.
    Unsupported(Currency),
    /// The converted amount does not fit an `i64`.
    OutOfRange,
    /// The provider cannot answer now, and nothing usable is cached; try
    /// again after this long.
    Unavailable(Duration),
}

/// A rate from one currency to another, and how fresh it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateQuote {
    pub rate: Rate,
    pub date: time::Date,
    pub source: Freshness,
}

/// A price converted into the currency the client asked for.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Converted {
    /// The currency asked for.
    #[schema(value_type = Currency)]
    pub currency: &'static str,
    /// The price in minor units of `currency`, rounded half to even.
    pub amount_minor: i64,
    /// 1 unit of the product's currency in `currency`: an exact decimal,
    /// as a string.
    #[schema(example = "0.9234", pattern = "^[0-9]+(\\.[0-9]*[1-9])?$")]
    pub rate: String,
    /// The provider's date for the rate.
    #[schema(format = Date, example = "2026-11-27")]
    pub rate_date: String,
    /// `live`: fetched for this request; `cached`: within the cache's TTL;
    /// `stale`: past it, because the provider failed.
    #[schema(inline)]
    pub source: Source,
}

/// How fresh a rate is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Live,
    Cached,
    Stale,
}

// === impl Fx ===

impl Fx {
    /// The client `settings` describe, or conversion off when they name no URL.
    pub fn new(settings: &FxSettings) -> anyhow::Result<Self> {
        let Some(url) = &settings.url else { return Ok(Self(None)) };
        let policy = Policy::new(outbound::Settings {
            name: PROVIDER,
            attempt_timeout: settings.attempt_timeout,
            max_attempts: settings.max_attempts,
            retry_budget_ratio: settings.retry_budget_ratio,
            backoff_base: Duration::from_millis(50),
            backoff_max: Duration::from_secs(1),
            quota_per_second: settings.quota_per_second,
            quota_burst: settings.quota_burst,
            max_in_flight: settings.max_in_flight,
            breaker: BreakerSettings {
                failure_rate: settings.breaker_failure_rate,
                min_calls: settings.breaker_min_calls,
                window: settings.breaker_window,
                open_for: settings.breaker_open,
            },
        });
        let client = Client {
            provider: Provider::new(url, settings.connect_timeout, settings.max_in_flight)?,
            policy: Arc::new(policy),
            // One entry per base currency at most: the key is a `Currency`.
            cache: Cache::new(PROVIDER, settings.cache_ttl, settings.stale_limit, Currency::COUNT),
            deadline: settings.deadline,
        };
        Ok(Self(Some(Arc::new(client))))
    }

    /// Conversion off.
    pub fn disabled() -> Self {
        Self(None)
    }

    /// `Err(Disabled)` when conversion is off.
    pub fn ensure_enabled(&self) -> Result<(), FxError> {
        self.0.as_ref().map(|_| ()).ok_or(FxError::Disabled)
    }

    /// The rate from `from` to `to`, looked up before `deadline` (and
    /// before the FX deadline).
    pub async fn rate(&self, from: Currency, to: Currency, deadline: Instant) -> Result<RateQuote, FxError> {
        let client = self.0.as_ref().ok_or(FxError::Disabled)?;
        if from == to {
            let today = time::OffsetDateTime::now_utc().date();
            return Ok(RateQuote { rate: Rate::one(), date: today, source: Freshness::Live });
        }
        let (lookup, source) = client.lookup(from, deadline).await?;
        match lookup.as_ref() {
            Lookup::Unsupported => Err(FxError::Unsupported(from)),
            Lookup::Quoted(table) => match table.get(&to) {
                Some(&Quote { rate, date }) => Ok(RateQuote { rate, date, source }),
                None => Err(FxError::Unsupported(to)),
            },
        }
    }

    /// `amount_minor` of `from` in `to`.
    pub async fn convert(
        &self,
        amount_minor: i64,
        from: Currency,
        to: Currency,
        deadline: Instant,
    ) -> Result<Converted, FxError> {
        self.rate(from, to, deadline).await?.apply(amount_minor, from, to)
    }

    /// For `/readyz`: whether conversion is on, and the breaker's state.
    pub fn details(&self) -> serde_json::Value {
        match &self.0 {
            None => serde_json::json!({"enabled": false}),
            Some(client) => {
                let breaker = match client.policy.breaker_state() {
                    BreakerState::Closed => "closed",
                    BreakerState::HalfOpen => "half_open",
                    BreakerState::Open => "open",
                };
                serde_json::json!({"enabled": true, "breaker": breaker})
            }
        }
    }
}

// === impl Client ===

impl Client {
    /// `base`'s table: cached, or fetched under the policy (one call for
    /// every concurrent miss), or stale if that fails.
    async fn lookup(&self, base: Currency, deadline: Instant) -> Result<(Arc<Lookup>, Freshness), FxError> {
        // A hit needs no deadline timer.
        if let Some(found) = self.cache.fresh(&base) {
            return Ok(found);
        }
        let deadline = deadline.checked_sub(DEADLINE_MARGIN).unwrap_or(deadline).min(Instant::now() + self.deadline);
        let fetch = || {
            let (provider, policy) = (self.provider.clone(), self.policy.clone());
            async move { policy.call(deadline, true, |_| provider.rates(base)).await.map(Arc::new) }
        };
        // A caller that joined another's fetch still leaves by its own
        // deadline, with whatever usable rate the cache holds.
        match tokio::time::timeout_at(deadline, self.cache.get(&base, fetch)).await {
            Ok(Ok(found)) => Ok(found),
            Ok(Err(error)) => Err(FxError::Unavailable(wait_until(error.retry_at()))),
            Err(_) => self.cache.peek(&base).ok_or(FxError::Unavailable(Duration::from_secs(1))),
        }
    }
}

/// How long until `at`; 1 s when nobody said.
fn wait_until(at: Option<Instant>) -> Duration {
    at.map_or(Duration::from_secs(1), |at| at.saturating_duration_since(Instant::now()))
}

// === impl RateQuote ===

impl RateQuote {
    /// `amount_minor` of `from` converted at this rate into `to`.
    pub fn apply(self, amount_minor: i64, from: Currency, to: Currency) -> Result<Converted, FxError> {
        let amount_minor = self.rate.convert(amount_minor, from, to).ok_or(FxError::OutOfRange)?;
        Ok(Converted {
            currency: to.code(),
            amount_minor,
            rate: self.rate.to_string(),
            rate_date: self.date.to_string(),
            source: Source::from(self.source),
        })
    }
}

// === impl Source ===

impl From<Freshness> for Source {
    fn from(freshness: Freshness) -> Self {
        match freshness {
            Freshness::Live => Self::Live,
            Freshness::Cached => Self::Cached,
            Freshness::Stale => Self::Stale,
        }
    }
}

// === impl FxError ===

impl From<FxError> for Problem {
    fn from(error: FxError) -> Self {
        let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
        match error {
            FxError::Disabled => Problem::new(
                unprocessable,
                "fx-disabled",
                "Currency conversion is disabled",
                "this service converts no prices: its fx.url setting is off",
            ),
            FxError::Unsupported(currency) => Problem::new(
                unprocessable,
                "fx-unsupported-currency",
                "Currency not supported",
                format!("the exchange-rate provider does not quote {currency}"),
            ),
            FxError::OutOfRange => Problem::new(
                unprocessable,
                "fx-out-of-range",
                "Converted amount out of range",
                "the converted amount does not fit a signed 64-bit integer of minor units",
            ),
            FxError::Unavailable(wait) => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "fx-unavailable",
                "Exchange rates unavailable",
                "the exchange-rate provider cannot answer now and no usable rate is cached; retry later",
            )
            .with_retry_after(wait)
            .with_cause("fx provider unavailable"),
        }
    }
}
