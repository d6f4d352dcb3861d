//! A bounded TTL cache in front of calls: concurrent misses for one key
//! make one call (the others wait for its answer), a fresh entry answers at
//! once, and when a call fails an entry past its TTL — but within the stale
//! limit — answers instead, marked stale.
//!
//! Written by hand: moka coalesces (`try_get_with`) but has no
//! stale-if-error with a bounded staleness, and its housekeeping can pin
//! workers under load (moka#498); the whole of this is a map and a table of
//! in-flight calls.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};
use metrics::Counter;
use tokio::time::Instant;

/// How fresh an answer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Fetched for this request (or one it waited on).
    Live,
    /// From the cache, within its TTL.
    Cached,
    /// From the cache past its TTL, because the call failed.
    Stale,
}

/// The cache.
pub struct Cache<K, V, E> {
    /// Names the provider in metrics: a fixed string, never input.
    name: &'static str,
    ttl: Duration,
    stale_limit: Duration,
    capacity: usize,
    inner: Mutex<Inner<K, V, E>>,
    /// `outbound_cache_lookups_total`, by [`RESULTS`].
    lookups: [OnceLock<Counter>; 3],
}

/// The `result` labels of the lookups counter.
const RESULTS: [&str; 3] = ["hit", "miss", "stale"];

struct Inner<K, V, E> {
    entries: HashMap<K, (V, Instant)>,
    in_flight: HashMap<K, Shared<BoxFuture<'static, Result<V, E>>>>,
}

// === impl Cache ===

impl<K, V, E> Cache<K, V, E>
where
    K: Hash + Eq + Clone,
    V: Clone + Send + Sync + 'static,
    E: Clone + Send + Sync + 'static,
{
    /// Entries fresh for `ttl`, served stale up to `stale_limit` past it, at
    /// most `capacity` of them (the oldest go first). Lookups are counted
    /// as `outbound_cache_lookups_total{provider = name, result}`, result
    /// `hit`, `miss` (a call was needed) or `stale` (it failed; a stale
    /// entry answered).
    pub fn new(name: &'static str, ttl: Duration, stale_limit: Duration, capacity: usize) -> Self {
        let inner = Inner { entries: HashMap::new(), in_flight: HashMap::new() };
        let lookups = Default::default();
        Self { name, ttl, stale_limit, capacity: capacity.max(1), inner: Mutex::new(inner), lookups }
    }

    /// The value for `key`: fresh from the cache, or from `fetch` (one call
    /// however many ask at once), or stale when that fails.
    pub async fn get<F, Fut>(&self, key: &K, fetch: F) -> Result<(V, Freshness), E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>> + Send + 'static,
    {
        let call = {
            let mut inner = self.lock();
            if let Some((value, at)) = inner.entries.get(key) {
                if at.elapsed() < self.ttl {
                    self.count("hit");
                    return Ok((value.clone(), Freshness::Cached));
                }
            }
            match inner.in_flight.get(key) {
                Some(call) => call.clone(),
                None => {
                    let call = fetch().boxed().shared();
                    inner.in_flight.insert(key.clone(), call.clone());
                    call
                }
            }
        };
        let result = call.clone().await;
        let mut inner = self.lock();
        if inner.in_flight.get(key).is_some_and(|current| current.ptr_eq(&call)) {
            inner.in_flight.remove(key);
            if let Ok(value) = &result {
                self.store(&mut inner, key, value.clone());
            }
        }
        let answer = match result {
            Ok(value) => Ok((value, Freshness::Live)),
            Err(error) => match inner.entries.get(key) {
                Some((value, at)) if at.elapsed() < self.ttl + self.stale_limit => {
                    Ok((value.clone(), Freshness::Stale))
                }
                _ => Err(error),
            },
        };
        drop(inner);
        self.count(if matches!(answer, Ok((_, Freshness::Stale))) { "stale" } else { "miss" });
        answer
    }

    fn count(&self, result: &'static str) {
        let at = RESULTS.iter().position(|known| *known == result).unwrap_or_default();
        // Registered once per result, not looked up by its labels per lookup.
        let counter = self.lookups[at].get_or_init(
            || metrics::counter!("outbound_cache_lookups_total", "provider" => self.name, "result" => result),
        );
        counter.increment(1);
    }

    /// The value for `key` if the cache holds it within its TTL: what
    /// [`Cache::get`] answers first, for a caller that wants to skip the
    /// set-up of a call (a timer, say) when there is a hit.
    pub fn fresh(&self, key: &K) -> Option<(V, Freshness)> {
        let inner = self.lock();
        let (value, at) = inner.entries.get(key)?;
        if at.elapsed() >= self.ttl {
            return None;
        }
        let value = value.clone();
        drop(inner);
        self.count("hit");
        Some((value, Freshness::Cached))
    }

    /// What the cache holds for `key` without calling anyone: fresh
    /// (`Cached`), or within the stale limit (`Stale`). For a caller that
    /// cannot wait for a call in flight any longer.
    pub fn peek(&self, key: &K) -> Option<(V, Freshness)> {
        let (value, age) = {
            let inner = self.lock();
            let (value, at) = inner.entries.get(key)?;
            (value.clone(), at.elapsed())
        };
        let freshness = if age < self.ttl {
            Freshness::Cached
        } else if age < self.ttl + self.stale_limit {
            Freshness::Stale
        } else {
            return None;
        };
        self.count(if freshness == Freshness::Cached { "hit" } else { "stale" });
        Some((value, freshness))
    }

    /// Entries held now.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn store(&self, inner: &mut Inner<K, V, E>, key: &K, value: V) {
        if inner.entries.len() >= self.capacity && !inner.entries.contains_key(key) {
            let oldest = inner.entries.iter().min_by_key(|(_, (_, at))| *at).map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                inner.entries.remove(&oldest);
            }
        }
        inner.entries.insert(key.clone(), (value, Instant::now()));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<K, V, E>> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    type TestCache = Cache<&'static str, u32, &'static str>;

    fn counted(
        calls: &Arc<AtomicUsize>,
        answer: Result<u32, &'static str>,
    ) -> impl Future<Output = Result<u32, &'static str>> + Send + 'static {
        let calls = calls.clone();
        async move {
            calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(50)).await;
            answer
        }
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_misses_make_one_call() {
        let cache = Arc::new(TestCache::new("test", Duration::from_secs(60), Duration::from_secs(600), 10));
        let calls = Arc::new(AtomicUsize::new(0));
        let mut waiting = tokio::task::JoinSet::new();
        for _ in 0..100 {
            let (cache, calls) = (cache.clone(), calls.clone());
            waiting.spawn(async move { cache.get(&"USD/EUR", || counted(&calls, Ok(7))).await });
        }
        while let Some(result) = waiting.join_next().await {
            assert_eq!(result.unwrap(), Ok((7, Freshness::Live)));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(cache.get(&"USD/EUR", || counted(&calls, Ok(8))).await, Ok((7, Freshness::Cached)));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_call_serves_stale_within_the_limit_only() {
        let cache = TestCache::new("test", Duration::from_secs(60), Duration::from_secs(600), 10);
        let calls = Arc::new(AtomicUsize::new(0));
        cache.get(&"k", || counted(&calls, Ok(1))).await.unwrap();
        tokio::time::advance(Duration::from_secs(61)).await;
        assert_eq!(cache.get(&"k", || counted(&calls, Err("down"))).await, Ok((1, Freshness::Stale)));
        tokio::time::advance(Duration::from_secs(600)).await;
        assert_eq!(cache.get(&"k", || counted(&calls, Err("down"))).await, Err("down"));
        assert_eq!(cache.get(&"k", || counted(&calls, Ok(2))).await, Ok((2, Freshness::Live)));
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn a_peek_never_calls_and_sees_only_usable_entries() {
        let cache = TestCache::new("test", Duration::from_secs(60), Duration::from_secs(600), 10);
        let calls = Arc::new(AtomicUsize::new(0));
        assert_eq!(cache.peek(&"k"), None);
        cache.get(&"k", || counted(&calls, Ok(1))).await.unwrap();
        assert_eq!(cache.peek(&"k"), Some((1, Freshness::Cached)));
        tokio::time::advance(Duration::from_secs(61)).await;
        assert_eq!(cache.peek(&"k"), Some((1, Freshness::Stale)));
        tokio::time::advance(Duration::from_secs(600)).await;
        assert_eq!(cache.peek(&"k"), None);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn entries_are_bounded_and_the_oldest_go_first() {
        let cache = TestCache::new("test", Duration::from_secs(60), Duration::ZERO, 2);
        let calls = Arc::new(AtomicUsize::new(0));
        for key in ["a", "b", "c"] {
            cache.get(&key, || counted(&calls, Ok(1))).await.unwrap();
        }
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get(&"a", || counted(&calls, Ok(2))).await, Ok((2, Freshness::Live)), "a was evicted");
        assert_eq!(cache.get(&"c", || counted(&calls, Ok(3))).await, Ok((1, Freshness::Cached)));
    }
}
