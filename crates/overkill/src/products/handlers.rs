//! HTTP handlers for `/v1/products`: extract, call the store, map to a response.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use chassis::Deadline;
use chassis::Problem;
use chassis::conditional::Preconditions;
use chassis::extract::{JsonObject, MergePatch};
use chassis::query::QueryParams;
use http::{StatusCode, header};
use serde::Serialize;
use utoipa::ToSchema;

use super::id::ProductId;
use super::input::{self, CreateProduct, ProductPatch};
use super::listing::{ListParams, ListQuery};
use super::model::{Product, ProductView};
use super::store::{ProductStore, on_constraint};
use crate::fx::{self, Fx};
use crate::json;
use crate::money::Currency;
use crate::timestamp;

/// How often a PATCH without `If-Match` retries when a concurrent change
/// wins the race; with `If-Match` the client asked to fail instead.
const PATCH_ATTEMPTS: usize = 3;

/// Room for one product in a response body: most are 200–300 bytes, and a
/// longer one only grows the buffer.
const PRODUCT_BYTES: usize = 320;

/// A page of products.
#[derive(Serialize, ToSchema)]
pub struct ProductPage<'a> {
    /// The products of this page, in the requested order.
    items: Vec<ProductView<'a>>,
    /// Pass as `cursor` for the next page; null on the last page.
    next_cursor: Option<String>,
}

/// Create a product.
#[utoipa::path(
    post, path = "/v1/products", tag = "products", operation_id = "create_product",
    request_body(content = CreateProduct, content_type = "application/json"),
    responses(
        (status = 201, description = "Created", body = ProductView,
            headers(("Location" = String, description = "URL of the product"), ("ETag" = String))),
        (status = 400, description = "Malformed JSON or unknown field", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Duplicate sku", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, all listed", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(State(store): State<ProductStore>, JsonObject(body): JsonObject) -> Result<Response, Problem> {
    let new = input::parse_new(&body)?;
    let product = store.create(new, timestamp::now()).await.map_err(on_constraint)?;
    let location = format!("/v1/products/{}", product.id);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], with_etag(&product, product.etag())).into_response())
}

/// Get one product.
#[utoipa::path(
    get, path = "/v1/products/{id}", tag = "products", operation_id = "get_product",
    params(("id" = i64, Path, minimum = 1, description = "Product id"),
        ("currency" = Option<Currency>, Query, nullable = false,
            description = "Convert the price into this currency (adds `converted`; the answer then has no ETag)"),
        ("If-None-Match" = Option<String>, Header, nullable = false,
            description = "304 when it lists the current ETag, or is `*`; not evaluated with `currency`")),
    responses(
        (status = 200, description = "The product", body = ProductView, headers(("ETag" = String))),
        (status = 304, description = "Not modified", headers(("ETag" = String))),
        (status = 400, description = "Invalid `currency`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such product", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A currency the provider does not quote, conversion disabled, or out of range",
            body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Exchange rates unavailable (nothing usable cached)",
            body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds until the provider may be asked again"))),
    )
)]
pub async fn get_one(
    State(store): State<ProductStore>,
    State(fx): State<Fx>,
    id: ProductId,
    preconditions: Preconditions,
    deadline: Deadline,
    QueryParams(params): QueryParams,
) -> Result<Response, Problem> {
    let target = fx::target_currency(&params).map_err(|error| Problem::invalid_parameters(vec![error]))?;
    if target.is_some() {
        fx.ensure_enabled()?;
    }
    let product = find(&store, &id).await?;
    let Some(target) = target else {
        let etag = product.etag();
        if preconditions.if_none_match_hits(&etag) {
            return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
        }
        return Ok(with_etag(&product, etag));
    };
    // The converted view changes with the rate, so it carries no ETag.
    let fields = &product.fields;
    let converted = fx.convert(fields.price_minor, fields.currency, target, deadline.at()).await?;
    let mut view = product.view();
    view.converted = Some(converted);
    Ok(json::response(&view, PRODUCT_BYTES))
}

/// Change a product with a JSON merge patch.
#[utoipa::path(
    patch, path = "/v1/products/{id}", tag = "products", operation_id = "patch_product",
    params(("id" = i64, Path, minimum = 1, description = "Product id"),
        ("If-Match" = Option<String>, Header, nullable = false,
            description = "Change only if this is the current ETag, or `*` for any")),
    request_body(content(
        (ProductPatch = "application/merge-patch+json"),
        (ProductPatch = "application/json"),
    )),
    responses(
        (status = 200, description = "Updated", body = ProductView, headers(("ETag" = String))),
        (status = 400, description = "Malformed JSON or unknown field", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such product", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match does not match", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Wrong media type", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, all listed", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn patch(
    State(store): State<ProductStore>,
    id: ProductId,
    preconditions: Preconditions,
    MergePatch(changes): MergePatch,
) -> Result<Response, Problem> {
    let mut current = find(&store, &id).await?;
    for _ in 0..PATCH_ATTEMPTS {
        if !preconditions.if_match_allows(&current.etag()) {
            return Err(stale(&current));
        }
        let fields = input::apply_patch(&current.fields, &changes)?;
        if let Some(updated) =
            store.update(current.id, current.version, fields, timestamp::now()).await.map_err(on_constraint)?
        {
            return Ok(with_etag(&updated, updated.etag()));
        }
        // Lost a race: someone changed or deleted it since we read it.
        current = find(&store, &id).await?;
        if preconditions.has_if_match() {
            return Err(stale(&current));
        }
    }
    Err(Problem::conflict("the product is changing too often to apply the patch; retry"))
}

/// Delete a product.
#[utoipa::path(
    delete, path = "/v1/products/{id}", tag = "products", operation_id = "delete_product",
    params(("id" = i64, Path, minimum = 1, description = "Product id"),
        ("If-Match" = Option<String>, Header, nullable = false,
            description = "Delete only if this is the current ETag, or `*` for any")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such product", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match does not match", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete(
    State(store): State<ProductStore>,
    id: ProductId,
    preconditions: Preconditions,
) -> Result<Response, Problem> {
    let version = if preconditions.has_if_match() {
        let current = find(&store, &id).await?;
        if !preconditions.if_match_allows(&current.etag()) {
            return Err(stale(&current));
        }
        Some(current.version)
    } else {
        None
    };
    let id_number = id.get()?;
    if store.delete(id_number, version).await? {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    // Nothing deleted: either it is gone, or (with If-Match) it changed.
    match store.get(id_number).await? {
        Some(current) => Err(stale(&current)),
        None => Err(id.not_found()),
    }
}

/// List products, a page at a time.
#[utoipa::path(
    get, path = "/v1/products", tag = "products", operation_id = "list_products",
    params(ListParams),
    responses(
        (status = 200, description = "A page of products", body = ProductPage),
        (status = 400, description = "Invalid parameter, all listed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A currency the provider does not quote, conversion disabled, or out of range",
            body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Exchange rates unavailable (nothing usable cached)",
            body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds until the provider may be asked again"))),
    )
)]
pub async fn list(
    State(store): State<ProductStore>,
    State(fx): State<Fx>,
    deadline: Deadline,
    QueryParams(params): QueryParams,
) -> Result<Response, Problem> {
    let query = ListQuery::parse(&params)?;
    if query.currency.is_some() {
        fx.ensure_enabled()?;
    }
    let mut products = store.list(&query).await?;
    let next_cursor = crate::page::cut(&mut products, query.limit).map(|last| query.cursor_after(last));
    let mut items: Vec<ProductView<'_>> = products.iter().map(Product::view).collect();
    if let Some(target) = query.currency {
        convert_all(&fx, &products, &mut items, target, deadline).await?;
    }
    let capacity = (items.len() + 1) * PRODUCT_BYTES;
    Ok(json::response(&ProductPage { items, next_cursor }, capacity))
}

/// Converts every item's price into `target`: one rate lookup per distinct
/// source currency, all at once; any failure fails the page.
async fn convert_all(
    fx: &Fx,
    products: &[Product],
    items: &mut [ProductView<'_>],
    target: Currency,
    deadline: Deadline,
) -> Result<(), Problem> {
    let mut sources: Vec<Currency> = Vec::new();
    for product in products {
        if !sources.contains(&product.fields.currency) {
            sources.push(product.fields.currency);
        }
    }
    let lookups = sources.iter().map(|&source| fx.rate(source, target, deadline.at()));
    let rates = futures_util::future::try_join_all(lookups).await?;
    for (product, item) in products.iter().zip(items) {
        let fields = &product.fields;
        let at = sources.iter().position(|&source| source == fields.currency).unwrap_or_default();
        item.converted = Some(rates[at].apply(fields.price_minor, fields.currency, target)?);
    }
    Ok(())
}

async fn find(store: &ProductStore, id: &ProductId) -> Result<Product, Problem> {
    store.get(id.get()?).await?.ok_or_else(|| id.not_found())
}

fn stale(current: &Product) -> Problem {
    Problem::precondition_failed(format!("the product is at ETag {}; fetch it and retry", current.etag()))
}

fn with_etag(product: &Product, etag: String) -> Response {
    ([(header::ETAG, etag)], json::response(&product.view(), PRODUCT_BYTES)).into_response()
}
