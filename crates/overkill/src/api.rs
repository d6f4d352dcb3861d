//! The public API: every feature's routes, merged, documented and wrapped
//! in the chassis middleware stack.

use std::sync::Arc;

use axum::extract::FromRef;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chassis::HttpSettings;
use utoipa::OpenApi;
use utoipa::openapi::OpenApi as OpenApiDoc;
use utoipa_axum::router::OpenApiRouter;

use crate::products::{self, ProductStore};

/// What handlers can extract with `State<…>`.
#[derive(Clone)]
pub struct AppState {
    /// The product repository.
    pub products: ProductStore,
}

impl FromRef<AppState> for ProductStore {
    fn from_ref(state: &AppState) -> Self {
        state.products.clone()
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "overkill", description = "A products catalogue: create, read, change, list and delete products."),
    paths(serve_doc),
    components(schemas(chassis::Problem, chassis::FieldError)),
    tags((name = "products", description = "The product catalogue"))
)]
struct ApiDoc;

/// The API router and its OpenAPI document, generated from the handlers.
pub fn router(state: AppState, settings: &HttpSettings) -> (Router, Arc<OpenApiDoc>) {
    let (router, doc) = routes().split_for_parts();
    let doc = Arc::new(doc);
    let served = doc.clone();
    let router = router.route("/openapi.json", get(move || serve_doc(served.clone()))).with_state(state);
    (chassis::middleware::apply(router, settings), doc)
}

/// The OpenAPI document alone, as `/openapi.json` serves it; for
/// `overkill openapi` and the tests, which need no database.
pub fn document() -> OpenApiDoc {
    routes::<AppState>().into_openapi()
}

/// Every feature's routes, documented.
fn routes<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    ProductStore: FromRef<S>,
{
    OpenApiRouter::with_openapi(ApiDoc::openapi()).merge(products::router())
}

/// This document (OpenAPI 3.1).
#[utoipa::path(get, path = "/openapi.json", tag = "meta",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json")))]
async fn serve_doc(doc: Arc<OpenApiDoc>) -> Response {
    Json(doc.as_ref()).into_response()
}
