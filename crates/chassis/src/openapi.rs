//! What the chassis adds to an OpenAPI document: the answers its server and
//! middleware may give on any route, whatever the handler does.

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, Response, ResponseBuilder};

use crate::problem::CONTENT_TYPE;

/// Documents on every operation the problems the middleware answers itself
/// (see [`crate::middleware`]): `503` with `Retry-After` (overloaded, the
/// request timeout, or a store that is unreachable or busy), and a
/// `default` for the rest (a missing `Host`, a body too slow or too large,
/// a bug). An operation that documents one of these keeps its own. The
/// document must hold the `Problem` schema (`components(schemas(Problem))`).
pub fn document_middleware_responses(doc: &mut OpenApi) {
    for item in doc.paths.paths.values_mut() {
        for operation in operations(item) {
            let responses = &mut operation.responses.responses;
            responses.entry("503".to_owned()).or_insert_with(unavailable);
            responses.entry("default".to_owned()).or_insert_with(any_other);
        }
    }
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .flatten()
}

fn problem(description: &str) -> ResponseBuilder {
    let content = ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build();
    ResponseBuilder::new().description(description).content(CONTENT_TYPE, content)
}

fn unavailable() -> RefOr<Response> {
    let seconds = ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0));
    let retry_after = HeaderBuilder::new().schema(seconds).description(Some("Seconds to wait before retrying")).build();
    problem("Overloaded, timed out, or the database is unavailable").header("Retry-After", retry_after).build().into()
}

fn any_other() -> RefOr<Response> {
    problem("Any other error: a missing Host header, a body too slow or too large, or a bug").build().into()
}

#[cfg(test)]
mod tests {
    use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem, PathsBuilder};
    use utoipa::openapi::{OpenApiBuilder, ResponsesBuilder};

    use super::*;

    #[test]
    fn every_operation_gains_503_and_default_and_keeps_its_own() {
        let own_503 = ResponseBuilder::new().description("the handler's own").build();
        let get = OperationBuilder::new().responses(ResponsesBuilder::new().response("503", own_503)).build();
        let post =
            OperationBuilder::new().responses(ResponsesBuilder::new().response("201", Response::new("ok"))).build();
        let mut item = PathItem::new(HttpMethod::Get, get);
        item.post = Some(post);
        let mut doc = OpenApiBuilder::new().paths(PathsBuilder::new().path("/x", item)).build();
        document_middleware_responses(&mut doc);
        let doc = serde_json::to_value(&doc).unwrap();
        let responses = |method: &str| doc["paths"]["/x"][method]["responses"].clone();
        assert_eq!(responses("get")["503"]["description"], "the handler's own");
        assert!(responses("post")["503"]["headers"]["Retry-After"].is_object());
        for method in ["get", "post"] {
            assert_eq!(
                responses(method)["default"]["content"][CONTENT_TYPE]["schema"]["$ref"],
                "#/components/schemas/Problem"
            );
        }
        assert!(responses("post")["201"].is_object());
    }
}
