//! Body extractors that check the media type, the size and the JSON shape,
//! and reject with problems.

use axum::extract::{FromRequest, Request};
use http::{HeaderMap, StatusCode, header};
use serde_json::{Map, Value};

use crate::body;
use crate::problem::Problem;

/// A JSON object body sent as `application/json`.
#[derive(Debug)]
pub struct JsonObject(pub Map<String, Value>);

/// A JSON object body sent as `application/json`, with the bytes it was
/// read from (an idempotency key's fingerprint hashes them).
#[derive(Debug)]
pub struct JsonObjectBytes {
    pub object: Map<String, Value>,
    pub bytes: bytes::Bytes,
}

/// A body of any type, as bytes: for operations that take none but must
/// still tell requests apart (an idempotency key's fingerprint).
#[derive(Debug)]
pub struct BodyBytes(pub bytes::Bytes);

/// A JSON merge patch (RFC 7396) body: `application/merge-patch+json` or
/// `application/json`.
#[derive(Debug)]
pub struct MergePatch(pub Map<String, Value>);

const JSON: &str = "application/json";
const MERGE_PATCH: &str = "application/merge-patch+json";

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = Problem;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Problem> {
        require_media_type(request.headers(), &[JSON])?;
        read_object(request).await.map(Self)
    }
}

impl<S: Send + Sync> FromRequest<S> for BodyBytes {
    type Rejection = Problem;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Problem> {
        body::read_all(request.into_body()).await.map(Self)
    }
}

impl<S: Send + Sync> FromRequest<S> for JsonObjectBytes {
    type Rejection = Problem;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Problem> {
        require_media_type(request.headers(), &[JSON])?;
        let bytes = body::read_all(request.into_body()).await?;
        parse_object(&bytes).map(|object| Self { object, bytes })
    }
}

impl<S: Send + Sync> FromRequest<S> for MergePatch {
    type Rejection = Problem;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Problem> {
        require_media_type(request.headers(), &[MERGE_PATCH, JSON])?;
        read_object(request).await.map(Self)
    }
}

fn require_media_type(headers: &HeaderMap, accepted: &[&str]) -> Result<(), Problem> {
    let essence = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(|value| value.split(';').next().unwrap_or_default().trim());
    match essence {
        Some(essence) if accepted.iter().any(|a| a.eq_ignore_ascii_case(essence)) => Ok(()),
        _ => Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            format!("send the body as {}", accepted.join(" or ")),
        )),
    }
}

async fn read_object(request: Request) -> Result<Map<String, Value>, Problem> {
    parse_object(&body::read_all(request.into_body()).await?)
}

fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, Problem> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(Problem::malformed_json("the body must be a JSON object")),
        Err(error) => Err(Problem::malformed_json(format!("the body is not valid JSON: {error}"))),
    }
}
