//! Calling a third party the way a team that has been paged for it would:
//! the provider is slow, rate-limits you, fails and goes away, and the
//! caller still answers within its deadline, never exceeds the provider's
//! quota, and knows how fresh its answer is.
//!
//! A call goes through [`Policy::call`]: the bulkhead (calls in flight),
//! the [`breaker`], the [`quota`] (a token bucket shared by every caller in
//! the process, which a provider's `Retry-After` can close), then attempts,
//! each with its own timeout, retried only when idempotent, for retryable
//! causes, within the [`budget`] and the caller's deadline, with backoff
//! and full jitter or the provider's own [`wait`]. In front of it, a
//! [`cache`] coalesces concurrent misses and serves stale answers when the
//! provider fails. The transport is the caller's: an attempt is any future
//! that returns a value or an [`AttemptError`].

pub mod breaker;
pub mod budget;
pub mod cache;
mod jitter;
pub mod policy;
pub mod quota;
pub mod wait;

pub use policy::{AttemptError, CallError, Fault, Policy, Settings};
