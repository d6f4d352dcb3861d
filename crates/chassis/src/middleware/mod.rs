//! The middleware stack every route runs through, in one place.
//!
//! Order, outermost first, and why:
//! 1. [`RequestId`]: everything below, including log lines and problem
//!    bodies, needs the id.
//! 2. [`observe`]: the access log line and the metrics must see the final
//!    status, after panics, timeouts and load shedding have been turned into
//!    responses; its span ties every log line of the request to the request
//!    id.
//! 3. [`problems::render`]: writes every error body as RFC 9457, including
//!    the ones produced by the stages below and by the router itself.
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
//! The stages run as one layer, [`serve`], which calls them in that order:
//! one layer costs one boxed future and one clone of the route per request,
//! where a layer per stage cost seven of each (arena/findings.md, issue 12).
//!
//! The stack runs after routing, so it knows the matched route: limits can
//! differ per route ([`RouteLimits`]), and metrics label by route template,
//! never by raw path.

mod limits;
mod observe;
mod problems;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::Response;
use tower::ServiceBuilder;
use tracing::Instrument;

use self::limits::Stack;
pub use self::limits::{Limits, RouteLimits, UnmatchedLimits};
use self::observe::Observation;
use crate::request_id::{self, RequestId};
use crate::settings::HttpSettings;

/// Wraps every route of `router` (and its fallback) in the stack above,
/// with `settings`' limits on every route.
pub fn apply(router: Router, settings: &HttpSettings) -> Router {
    apply_with(router, settings, RouteLimits::default())
}

/// [`apply`], with the routes in `routes` under their own limits.
pub fn apply_with(router: Router, settings: &HttpSettings, routes: RouteLimits) -> Router {
    let stack = Arc::new(Stack::new(settings, routes));
    router.layer(
        ServiceBuilder::new()
            .layer(from_fn_with_state(stack, serve))
            // `bound_request` limits the body itself, per route.
            .layer(DefaultBodyLimit::disable()),
    )
}

/// Runs one request through the stages 1–7, in order.
async fn serve(State(stack): State<Arc<Stack>>, mut request: Request, next: Next) -> Response {
    let id = RequestId::from_header(request.headers().get(request_id::HEADER));
    request.extensions_mut().insert(id.clone());
    let observation = Observation::start(&request, &id, &stack.metrics);
    let span = observation.span();
    let context = problems::Context::of(&request, &id);
    let response = async {
        let limits = stack.limits_for(&request);
        let response = problems::catch_panic(async {
            let request = match limits::bound_request(&stack, limits, request).await {
                Ok(request) => request,
                Err(refused) => return refused,
            };
            limits::timeout(limits, request, |request| limits::shed_load(&stack, request, next)).await
        })
        .await;
        problems::render(response, &context)
    }
    .instrument(span)
    .await;
    let mut response = observation.finish(response);
    response.headers_mut().insert(request_id::HEADER, id.0);
    response
}
