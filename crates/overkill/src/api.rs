//! The public API: every feature's routes, merged, documented and wrapped
//! in the chassis middleware stack.

use std::sync::Arc;

use axum::extract::FromRef;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chassis::HttpSettings;
use chassis::proxy::Proxy;
use utoipa::OpenApi;
use utoipa::openapi::OpenApi as OpenApiDoc;
use utoipa_axum::router::OpenApiRouter;

use crate::fx::{self, Fx};
use crate::idempotency::IdempotencyStore;
use crate::orders::{self, OrderStore};
use crate::products::{self, ProductStore};

/// What handlers can extract with `State<…>`.
#[derive(Clone)]
pub struct AppState {
    /// The product repository.
    pub products: ProductStore,
    /// The order repository.
    pub orders: OrderStore,
    /// Idempotency keys.
    pub keys: IdempotencyStore,
    /// Exchange rates.
    pub fx: Fx,
}

impl FromRef<AppState> for Fx {
    fn from_ref(state: &AppState) -> Self {
        state.fx.clone()
    }
}

impl FromRef<AppState> for ProductStore {
    fn from_ref(state: &AppState) -> Self {
        state.products.clone()
    }
}

impl FromRef<AppState> for OrderStore {
    fn from_ref(state: &AppState) -> Self {
        state.orders.clone()
    }
}

impl FromRef<AppState> for IdempotencyStore {
    fn from_ref(state: &AppState) -> Self {
        state.keys.clone()
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "overkill", description = "A products catalogue (create, read, change, list and delete products) and orders that take stock atomically, placed at most once per Idempotency-Key; prices in any currency through an exchange-rate provider."),
    paths(serve_doc),
    components(schemas(chassis::Problem, chassis::FieldError)),
    tags((name = "products", description = "The product catalogue"), (name = "orders", description = "Orders and their stock"),
        (name = "fx", description = "Exchange rates, from a Frankfurter provider"))
)]
struct ApiDoc;

/// The API router and its OpenAPI document, generated from the handlers;
/// requests for none of its routes go to `proxy`'s routes.
pub fn router(state: AppState, proxy: Proxy, settings: &HttpSettings) -> (Router, Arc<OpenApiDoc>) {
    let (router, mut doc) = routes().split_for_parts();
    complete(&mut doc);
    let doc = Arc::new(doc);
    let served = doc.clone();
    let limits = crate::proxy::limits(&proxy);
    let fallback = Router::new().fallback(crate::proxy::forward).with_state(proxy);
    let router = router
        .route("/openapi.json", get(move || serve_doc(served.clone())))
        .with_state(state)
        .fallback_service(fallback);
    (chassis::middleware::apply_with(router, settings, limits), doc)
}

/// The OpenAPI document alone, as `/openapi.json` serves it; for
/// `overkill openapi` and the tests, which need no database.
pub fn document() -> OpenApiDoc {
    let mut doc = routes::<AppState>().into_openapi();
    complete(&mut doc);
    doc
}

/// Adds to the generated document what the handlers' annotations cannot say.
fn complete(doc: &mut OpenApiDoc) {
    chassis::openapi::document_middleware_responses(doc);
    fx::document_distinct_quotes(doc);
}

/// Every feature's routes, documented.
fn routes<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    ProductStore: FromRef<S>,
    OrderStore: FromRef<S>,
    IdempotencyStore: FromRef<S>,
    Fx: FromRef<S>,
{
    OpenApiRouter::with_openapi(ApiDoc::openapi()).merge(products::router()).merge(orders::router()).merge(fx::router())
}

/// This document (OpenAPI 3.1).
#[utoipa::path(get, path = "/openapi.json", tag = "meta", operation_id = "openapi",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json")))]
async fn serve_doc(doc: Arc<OpenApiDoc>) -> Response {
    Json(doc.as_ref()).into_response()
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::document;

    const API_MD: &str = include_str!("../../../docs/API.md");

    /// docs/API.md states the limits the document states (which the
    /// features' own tests tie to the code): every bounded body field and
    /// query parameter has a row whose rule names its bounds.
    #[test]
    fn api_md_states_the_documents_limits() {
        let doc = serde_json::to_value(document()).unwrap();
        let mut checked = 0;
        for (name, schema) in documented_inputs(&doc) {
            let Some(rule) = rule_for(&name) else { continue };
            for expected in stated_bounds(&schema) {
                assert!(rule.contains(&expected), "docs/API.md, `{name}`: {rule:?} does not say {expected:?}");
                checked += 1;
            }
        }
        assert!(checked >= 20, "only {checked} bounds found in docs/API.md");
    }

    /// (name, schema) of every body property and query parameter.
    fn documented_inputs(doc: &Value) -> Vec<(String, Value)> {
        let mut inputs = Vec::new();
        for schema in doc["components"]["schemas"].as_object().unwrap().values() {
            if let Some(properties) = schema["properties"].as_object() {
                inputs.extend(properties.iter().map(|(name, schema)| (name.clone(), schema.clone())));
            }
        }
        for item in doc["paths"].as_object().unwrap().values() {
            for operation in item.as_object().unwrap().values() {
                for param in operation["parameters"].as_array().into_iter().flatten() {
                    if param["in"] == "query" {
                        inputs.push((param["name"].as_str().unwrap().to_owned(), param["schema"].clone()));
                    }
                }
            }
        }
        inputs
    }

    /// The rule cell of the table row for `name`, with the spaces that group
    /// digits removed ("1 000" → "1000").
    fn rule_for(name: &str) -> Option<String> {
        let row = API_MD.lines().find(|line| {
            line.split('|').nth(1).is_some_and(|first| {
                first
                    .split(',')
                    .map(str::trim)
                    .any(|cell| cell == format!("`{name}`") || cell.ends_with(&format!(".{name}`")))
            })
        })?;
        let rule = row.split('|').nth(2)?;
        let chars: Vec<char> = rule.chars().collect();
        let kept = chars.iter().enumerate().filter(|&(i, c)| {
            !(*c == ' ' && i > 0 && chars[i - 1].is_ascii_digit() && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        });
        Some(kept.map(|(_, c)| *c).collect())
    }

    /// How docs/API.md writes each bound of `schema`.
    fn stated_bounds(schema: &Value) -> Vec<String> {
        let mut bounds = Vec::new();
        if let (Value::Number(min), Value::Number(max)) = (&schema["minimum"], &schema["maximum"]) {
            bounds.push(format!("{min}..={max}"));
        }
        if let (Value::Number(min), Value::Number(max)) = (&schema["minItems"], &schema["maxItems"]) {
            bounds.push(format!("{min}–{max}"));
        }
        match (&schema["minLength"], &schema["maxLength"]) {
            (Value::Number(min), Value::Number(max)) => bounds.push(format!("{min}–{max}")),
            (Value::Null, Value::Number(max)) => bounds.push(format!("≤ {max}")),
            _ => {}
        }
        if let Some(values) = schema["enum"].as_array().filter(|values| values.len() <= 10) {
            bounds.extend(values.iter().map(|value| format!("`{}`", value.as_str().unwrap())));
        }
        bounds
    }
}
