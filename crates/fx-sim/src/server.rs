//! The HTTP server: the provider routes behind the gate that applies the
//! knobs, and the control routes beside them.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::frankfurter::{self, message};
use crate::knobs::{KnobError, Knobs, KnobsPatch};
use crate::quota::{self, Decision, TokenBucket};
use crate::rng::{self, Purpose};
use crate::stats::{Counters, Outcome, Route, Stats};

/// Largest `POST /_control` body, in bytes.
const MAX_CONTROL_BYTES: usize = 16 * 1024;

/// State shared by the server, its handle and every call.
#[derive(Debug)]
pub(crate) struct Shared {
    live: Mutex<Live>,
    counters: Counters,
    /// Periodic outages are counted from here.
    started: Instant,
    /// Turns true when the simulator stops; releases black-holed calls.
    stopping: watch::Receiver<bool>,
}

/// The knobs and the bucket they configure, changed together.
#[derive(Debug)]
struct Live {
    knobs: Arc<Knobs>,
    bucket: TokenBucket,
}

/// The whole router: provider routes (gated) and control routes (not).
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    // `layer` wraps only what is already in the router, the provider routes
    // and their fallback; the control routes merged afterwards are never
    // counted, limited, delayed or black-holed.
    let provider = frankfurter::router().layer(middleware::from_fn_with_state(shared.clone(), gate));
    let control = Router::new()
        .route("/_control", get(get_control).post(post_control))
        .route("/_stats", get(get_stats))
        .route("/_stats/reset", post(reset_stats))
        .layer(DefaultBodyLimit::max(MAX_CONTROL_BYTES))
        .with_state(shared);
    provider.merge(control)
}

/// Applies the knobs to one provider call, in the order a real provider
/// would meet them: counted on arrival; an outage answers at once; the black
/// hole holds the call; the quota is spent on arrival; then the latency;
/// then an error or the real answer, with the quota's headers.
async fn gate(State(shared): State<Arc<Shared>>, mut request: Request, next: Next) -> Response {
    let call = shared.counters.call(Route::of(request.uri().path()));
    let arrived = Instant::now();
    let knobs = shared.knobs();
    if knobs.in_outage(arrived.duration_since(shared.started).as_millis()) {
        shared.counters.count(Outcome::Outage);
        return message(StatusCode::SERVICE_UNAVAILABLE, "service unavailable");
    }
    if knobs.black_hole {
        shared.counters.count(Outcome::BlackHoled);
        let mut stopping = shared.stopping.clone();
        // Err means the simulator is gone: either way, stop holding.
        let _ = stopping.wait_for(|stopping| *stopping).await;
        return message(StatusCode::SERVICE_UNAVAILABLE, "shutting down");
    }
    let (decision, policy) = shared.take_token(arrived);
    if let Decision::Refused { .. } = decision {
        // Counted now, like the call: a client that leaves during the
        // latency below still spent a call over quota.
        shared.counters.count(Outcome::OverQuota);
    }
    let delay = knobs.latency_ms + jitter_ms(&knobs, call);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let mut response = if let Decision::Refused { retry_after_secs } = decision {
        let mut response = message(StatusCode::TOO_MANY_REQUESTS, "too many requests");
        set_header(&mut response, header::RETRY_AFTER, &retry_after_secs.to_string());
        response
    } else if let Some(response) = injected_error(&knobs, call) {
        shared.counters.count(Outcome::Error);
        response
    } else {
        request.extensions_mut().insert(knobs);
        next.run(request).await
    };
    if let Some(policy) = policy {
        set_header(&mut response, HeaderName::from_static("ratelimit-policy"), &policy);
    }
    if let Some(limit) = quota::service_limit(decision) {
        set_header(&mut response, HeaderName::from_static("ratelimit"), &limit);
    }
    response
}

/// Up to `jitter_ms` more, drawn for this call.
fn jitter_ms(knobs: &Knobs, call: u64) -> u64 {
    if knobs.jitter_ms == 0 {
        return 0;
    }
    rng::draw(knobs.seed, call, Purpose::Jitter) % (knobs.jitter_ms + 1)
}

/// The failure `error_rate` draws for this call, if any: 500, or 503 with
/// `Retry-After: 1`, half and half.
fn injected_error(knobs: &Knobs, call: u64) -> Option<Response> {
    if rng::unit(rng::draw(knobs.seed, call, Purpose::Error)) >= knobs.error_rate {
        return None;
    }
    if rng::draw(knobs.seed, call, Purpose::ErrorStatus) % 2 == 0 {
        return Some(message(StatusCode::INTERNAL_SERVER_ERROR, "internal server error"));
    }
    let mut response = message(StatusCode::SERVICE_UNAVAILABLE, "temporarily unavailable");
    set_header(&mut response, header::RETRY_AFTER, "1");
    Some(response)
}

fn set_header(response: &mut Response, name: HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, value);
    }
}

async fn get_control(State(shared): State<Arc<Shared>>) -> Response {
    axum::Json((*shared.knobs()).clone()).into_response()
}

async fn post_control(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let patch = match serde_json::from_slice::<KnobsPatch>(&body) {
        Ok(patch) => patch,
        Err(error) => {
            let text = format!("invalid knobs: {error}");
            return message(StatusCode::UNPROCESSABLE_ENTITY, &text);
        }
    };
    match shared.set(patch) {
        Ok(knobs) => axum::Json(knobs).into_response(),
        Err(error) => message(StatusCode::UNPROCESSABLE_ENTITY, &error.to_string()),
    }
}

async fn get_stats(State(shared): State<Arc<Shared>>) -> Response {
    axum::Json(shared.stats()).into_response()
}

async fn reset_stats(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.reset_stats();
    StatusCode::NO_CONTENT
}

// === impl Shared ===

impl Shared {
    /// Shared state for valid `knobs`; `stopping` turns true at shutdown.
    pub(crate) fn new(knobs: Knobs, stopping: watch::Receiver<bool>) -> Self {
        let now = Instant::now();
        Self {
            live: Mutex::new(Live {
                bucket: TokenBucket::new(knobs.quota_per_second, knobs.quota_burst, now),
                knobs: Arc::new(knobs),
            }),
            counters: Counters::default(),
            started: now,
            stopping,
        }
    }

    pub(crate) fn knobs(&self) -> Arc<Knobs> {
        self.live().knobs.clone()
    }

    /// Applies `patch`; a changed quota starts again from a full bucket.
    pub(crate) fn set(&self, patch: KnobsPatch) -> Result<Knobs, KnobError> {
        let mut live = self.live();
        let next = live.knobs.merged(patch)?;
        if (next.quota_per_second, next.quota_burst) != (live.knobs.quota_per_second, live.knobs.quota_burst) {
            live.bucket = TokenBucket::new(next.quota_per_second, next.quota_burst, Instant::now());
        }
        live.knobs = Arc::new(next.clone());
        Ok(next)
    }

    pub(crate) fn stats(&self) -> Stats {
        self.counters.snapshot()
    }

    pub(crate) fn reset_stats(&self) {
        self.counters.reset();
    }

    fn take_token(&self, now: Instant) -> (Decision, Option<String>) {
        let mut live = self.live();
        (live.bucket.take(now), live.bucket.policy())
    }

    fn live(&self) -> MutexGuard<'_, Live> {
        // Nothing panics while holding the lock; if something ever did, the
        // knobs and bucket are still whole values, so carry on with them.
        self.live.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
