//! HTTP handlers for `/v1/orders`: extract, claim the idempotency key, call
//! the store, answer. The rules live in `reserve` and the stores.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use chassis::Problem;
use chassis::conditional::Preconditions;
use chassis::extract::{BodyBytes, JsonObjectBytes};
use chassis::idempotency::{IdempotencyKey, StoredResponse};
use chassis::query::QueryParams;
use chassis::request_id::RequestId;
use http::{StatusCode, Uri, header};
use serde::Serialize;
use utoipa::ToSchema;

use super::input::{self, CreateOrder};
use super::listing::{ListParams, ListQuery};
use super::model::{Order, OrderView};
use super::store::{Answer, OrderStore, not_found};
use crate::idempotency::IdempotencyStore;
use crate::path_id::PathId;
use crate::timestamp;

/// A page of orders.
#[derive(Serialize, ToSchema)]
pub struct OrderPage<'a> {
    /// The orders of this page, in the requested order.
    items: Vec<OrderView<'a>>,
    /// Pass as `cursor` for the next page; null on the last page.
    next_cursor: Option<String>,
}

/// Place an order.
#[utoipa::path(
    post, path = "/v1/orders", tag = "orders", operation_id = "place_order",
    params(("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255,
        pattern = "^[\\x20-\\x7e]+$", description = "Places the order at most once per key; a retry gets the first answer")),
    request_body(content = CreateOrder, content_type = "application/json"),
    responses(
        (status = 201, description = "Placed", body = OrderView,
            headers(("Location" = String, description = "URL of the order"), ("ETag" = String))),
        (status = 400, description = "Malformed JSON, an unknown field or an invalid Idempotency-Key", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Insufficient stock (`short_lines` lists every short line), or the key's first request still runs", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, unknown products, mixed currencies, or the key was used for another request", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    State(orders): State<OrderStore>,
    State(keys): State<IdempotencyStore>,
    uri: Uri,
    request_id: Option<axum::Extension<RequestId>>,
    key: Option<IdempotencyKey>,
    body: JsonObjectBytes,
) -> Result<Response, Problem> {
    let new = input::parse_new(&body.object)?;
    let now = timestamp::now();
    let answer = answer(StatusCode::CREATED, uri.path(), request_id);
    let request = ("POST", uri.path(), &body.bytes[..]);
    keys.at_most_once(key, request, now, |completion| orders.place(new, now, completion, answer)).await
}

/// Get one order.
#[utoipa::path(
    get, path = "/v1/orders/{id}", tag = "orders", operation_id = "get_order",
    params(("id" = i64, Path, minimum = 1, description = "Order id"),
        ("If-None-Match" = Option<String>, Header, nullable = false,
            description = "304 when it lists the current ETag, or is `*`")),
    responses(
        (status = 200, description = "The order", body = OrderView, headers(("ETag" = String))),
        (status = 304, description = "Not modified", headers(("ETag" = String))),
        (status = 404, description = "No such order", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_one(
    State(orders): State<OrderStore>,
    id: PathId,
    preconditions: Preconditions,
) -> Result<Response, Problem> {
    let order = match id.id() {
        Some(number) => orders.get(number).await?,
        None => None,
    };
    let order = order.ok_or_else(|| not_found(id.text()))?;
    if preconditions.if_none_match_hits(&order.etag()) {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, order.etag())]).into_response());
    }
    Ok(([(header::ETAG, order.etag())], Json(order.view())).into_response())
}

/// Cancel an order, returning its stock.
#[utoipa::path(
    post, path = "/v1/orders/{id}/cancel", tag = "orders", operation_id = "cancel_order",
    params(("id" = i64, Path, minimum = 1, description = "Order id"),
        ("If-Match" = Option<String>, Header, nullable = false,
            description = "Cancel only if this is the current ETag, or `*` for any"),
        ("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255,
            pattern = "^[\\x20-\\x7e]+$", description = "A retry with the key gets the first answer")),
    responses(
        (status = 200, description = "Cancelled (now, or before)", body = OrderView, headers(("ETag" = String))),
        (status = 400, description = "An invalid Idempotency-Key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A product's stock would pass its limit, or the key's first request still runs", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match does not match", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The key was used for another request", body = Problem, content_type = "application/problem+json"),
    )
)]
#[allow(clippy::too_many_arguments)] // one extractor each; a struct would only rename them
pub async fn cancel(
    State(orders): State<OrderStore>,
    State(keys): State<IdempotencyStore>,
    id: PathId,
    preconditions: Preconditions,
    uri: Uri,
    request_id: Option<axum::Extension<RequestId>>,
    key: Option<IdempotencyKey>,
    BodyBytes(body): BodyBytes,
) -> Result<Response, Problem> {
    let number = id.id().ok_or_else(|| not_found(id.text()))?;
    let now = timestamp::now();
    let answer = answer(StatusCode::OK, uri.path(), request_id);
    let request = ("POST", uri.path(), &body[..]);
    keys.at_most_once(key, request, now, |completion| orders.cancel(number, preconditions, now, completion, answer))
        .await
}

/// List orders, a page at a time.
#[utoipa::path(
    get, path = "/v1/orders", tag = "orders", operation_id = "list_orders",
    params(ListParams),
    responses(
        (status = 200, description = "A page of orders", body = OrderPage),
        (status = 400, description = "Invalid parameter, all listed", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(State(orders): State<OrderStore>, QueryParams(params): QueryParams) -> Result<Response, Problem> {
    let query = ListQuery::parse(&params)?;
    let mut page = orders.list(&query).await?;
    let next_cursor = crate::page::cut(&mut page, query.limit).map(|last| query.cursor_after(last));
    let items = page.iter().map(Order::view).collect();
    Ok(Json(OrderPage { items, next_cursor }).into_response())
}

/// The answer to placing (`success` 201, with `Location`) or cancelling
/// (200): the order, or the problem rendered for this request.
fn answer(success: StatusCode, path: &str, request_id: Option<axum::Extension<RequestId>>) -> Answer {
    let path = path.to_owned();
    let request_id = request_id.map(|id| id.0.as_str().to_owned());
    Arc::new(move |outcome| match outcome {
        Ok(order) => {
            // Invariant: a view is strings and numbers, which always serialise.
            let mut answer = StoredResponse::json(success, serde_json::to_vec(&order.view()).unwrap_or_default());
            answer.etag = Some(order.etag());
            if success == StatusCode::CREATED {
                answer.location = Some(order.location());
            }
            answer
        }
        Err(problem) => StoredResponse::problem(problem.clone(), &path, request_id.as_deref()),
    })
}
