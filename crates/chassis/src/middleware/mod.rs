//! The middleware stack every route runs through, in one place.
//!
//! Order, outermost first, and why:
//! 1. [`request_id::assign`]: everything below, including log lines and
//!    problem bodies, needs the id.
//! 2. [`observe::observe`]: the access log line and the metrics must see
//!    the final status, after panics, timeouts and load shedding have been
//!    turned into responses; its span ties every log line of the request to
//!    the request id.
//! 3. [`problems::render`]: writes every error body as RFC 9457, including
//!    the ones produced by the layers below and by the router itself.
//! 4. [`problems::catch_panic`]: a panicking handler becomes a 500, not a
//!    dropped connection.
//! 5. [`limits::bound_request`]: framing (`Host`) and the declared body size
//!    are checked before any work, and the body is read whole under its size
//!    limit and read deadline (or, on streaming routes, bounded as it is
//!    read); outside the request permit, so a refused request or a slow
//!    upload holds no request slot.
//! 6. [`limits::timeout`]: bounds handler time; inside the panic guard so a
//!    timed-out future is simply dropped.
//! 7. [`limits::shed_load`]: innermost, so a permit is held only while the
//!    handler runs.
//!
//! The layers run after routing, so each knows the matched route: limits
//! can differ per route ([`RouteLimits`]), and metrics label by route
//! template, never by raw path.

mod limits;
mod observe;
mod problems;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::{from_fn, from_fn_with_state};
use tower::ServiceBuilder;

pub use self::limits::{Limits, RouteLimits, UnmatchedLimits};
use crate::request_id;
use crate::settings::HttpSettings;

/// Wraps every route of `router` (and its fallback) in the stack above,
/// with `settings`' limits on every route.
pub fn apply(router: Router, settings: &HttpSettings) -> Router {
    apply_with(router, settings, RouteLimits::default())
}

/// [`apply`], with the routes in `routes` under their own limits.
pub fn apply_with(router: Router, settings: &HttpSettings, routes: RouteLimits) -> Router {
    let stack = Arc::new(limits::Stack::new(settings, routes));
    router.layer(
        ServiceBuilder::new()
            .layer(from_fn(request_id::assign))
            .layer(from_fn(observe::observe))
            .layer(from_fn(problems::render))
            .layer(from_fn(problems::catch_panic))
            .layer(from_fn_with_state(stack.clone(), limits::bound_request))
            .layer(from_fn_with_state(stack.clone(), limits::timeout))
            .layer(from_fn_with_state(stack, limits::shed_load))
            // `bound_request` limits the body itself, per route.
            .layer(DefaultBodyLimit::disable()),
    )
}
