//! Every error is an RFC 9457 problem, whatever produced it.

use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{TestApp, assert_problem, new_product, unique};

on_both_backends!(
    unknown_field_is_400_naming_it,
    malformed_json_is_400,
    missing_or_wrong_content_type_is_415,
    body_over_the_limit_is_413,
    validation_lists_every_invalid_field,
    integers_are_whole_numbers_however_spelled,
    unknown_route_is_404_and_wrong_method_is_405_with_allow,
    request_ids_are_echoed_or_generated,
    nul_in_text_is_rejected_naming_the_field,
);

async fn unknown_field_is_400_naming_it(app: TestApp) {
    let mut body = new_product("Pen", 150, 10);
    body["colour"] = json!("red");
    let problem = assert_problem(app.create(&body).await, 400, "unknown-field").await;
    assert_eq!(problem["field"], "colour");
    assert!(problem["detail"].as_str().unwrap().contains("colour"));
    let mut with_id = new_product("Pen", 150, 10);
    with_id["id"] = json!(5);
    assert_problem(app.create(&with_id).await, 400, "unknown-field").await;
}

async fn malformed_json_is_400(app: TestApp) {
    for body in ["{\"sku\": ", "[1, 2]", "null", "\"text\"", ""] {
        let response = app
            .client
            .post(app.url("/v1/products"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_problem(response, 400, "malformed-json").await;
    }
}

async fn missing_or_wrong_content_type_is_415(app: TestApp) {
    let body = new_product("Cup", 300, 1).to_string();
    let none = app.client.post(app.url("/v1/products")).body(body.clone()).send().await.unwrap();
    assert_problem(none, 415, "unsupported-media-type").await;
    let text = app.client.post(app.url("/v1/products")).header("content-type", "text/plain").body(body.clone()).send();
    assert_problem(text.await.unwrap(), 415, "unsupported-media-type").await;
    let with_charset =
        app.client.post(app.url("/v1/products")).header("content-type", "application/json; charset=utf-8").body(body);
    assert_eq!(with_charset.send().await.unwrap().status(), 201);

    let product = app.create_ok(&new_product("Cup", 300, 1)).await;
    let patch = app
        .client
        .patch(app.url(&format!("/v1/products/{}", product["id"])))
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_problem(patch, 415, "unsupported-media-type").await;
}

async fn body_over_the_limit_is_413(app: TestApp) {
    let mut body = new_product("Big", 1, 1);
    body["description"] = json!("x".repeat(1024 * 1024 + 1));
    assert_problem(app.create(&body).await, 413, "payload-too-large").await;
    // The service stays healthy afterwards.
    app.create_ok(&new_product("Small", 1, 1)).await;
}

async fn validation_lists_every_invalid_field(app: TestApp) {
    let body = json!({"sku": "has space", "name": " ", "description": "d".repeat(2001),
        "price_minor": 1_000_000_000_001_i64, "currency": "ABC", "stock": -1});
    let problem = assert_problem(app.create(&body).await, 422, "validation-error").await;
    let mut fields: Vec<&str> =
        problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    fields.sort_unstable();
    assert_eq!(fields, ["currency", "description", "name", "price_minor", "sku", "stock"]);
    assert!(problem["errors"].as_array().unwrap().iter().all(|e| e["message"].as_str().is_some_and(|m| !m.is_empty())));

    let missing = assert_problem(app.create(&json!({"sku": unique("S")})).await, 422, "validation-error").await;
    assert_eq!(missing["errors"].as_array().unwrap().len(), 4, "name, price_minor, currency, stock are required");

    let wrong_types = json!({"sku": 5, "name": ["x"], "price_minor": 1.5, "currency": "EUR", "stock": "1"});
    let problem = assert_problem(app.create(&wrong_types).await, 422, "validation-error").await;
    assert_eq!(problem["errors"].as_array().unwrap().len(), 4);

    let sku = format!("{:a<64}", unique("E"));
    let edge = json!({"sku": sku, "name": "n".repeat(200), "price_minor": 1_000_000_000_000_i64,
        "currency": "JPY", "stock": 1_000_000_000});
    app.create_ok(&edge).await;
}

/// JSON Schema's `integer` is any number with no fractional part, and a
/// generated client (or JavaScript) may write 150 as `150.0`: both twins
/// accept every spelling of a whole number and refuse fractions.
async fn integers_are_whole_numbers_however_spelled(app: TestApp) {
    let post = |body: String| {
        app.client.post(app.url("/v1/products")).header("content-type", "application/json").body(body).send()
    };
    let sku = unique("INT-");
    let body = format!(r#"{{"sku":"{sku}","name":"Float","price_minor":150.0,"currency":"EUR","stock":1E1}}"#);
    let response = post(body).await.unwrap();
    assert_eq!(response.status(), 201);
    let product: Value = response.json().await.unwrap();
    assert_eq!((product["price_minor"].as_i64(), product["stock"].as_i64()), (Some(150), Some(10)));
    assert!(product["price_minor"].is_i64(), "answered as an integer: {product}");

    for (spelling, stock) in [("-0", 0), ("2.000", 2), ("1e9", 1_000_000_000), ("25e-1", -1)] {
        let patch = app
            .client
            .patch(app.url(&format!("/v1/products/{}", product["id"])))
            .header("content-type", "application/merge-patch+json")
            .body(format!(r#"{{"stock":{spelling}}}"#))
            .send()
            .await
            .unwrap();
        if stock < 0 {
            let problem = assert_problem(patch, 422, "validation-error").await;
            assert_eq!(problem["errors"][0]["field"], "stock", "{spelling}");
        } else {
            assert_eq!(patch.status(), 200, "{spelling}");
            assert_eq!(patch.json::<Value>().await.unwrap()["stock"], stock, "{spelling}");
        }
    }
    // Fractions and whole numbers out of range are refused, in any spelling.
    for price in ["1.5", "1000000000001.0", "1e300", "-1.0"] {
        let body =
            format!(r#"{{"sku":"{}","name":"F","price_minor":{price},"currency":"EUR","stock":1}}"#, unique("F"));
        let problem = assert_problem(post(body).await.unwrap(), 422, "validation-error").await;
        assert_eq!(problem["errors"][0]["field"], "price_minor", "{price}");
    }
}

async fn unknown_route_is_404_and_wrong_method_is_405_with_allow(app: TestApp) {
    assert_problem(app.get("/v2/nothing").await, 404, "not-found").await;
    let put = app.client.put(app.url("/v1/products/1")).send().await.unwrap();
    let allow = put.headers().get("allow").map(|v| v.to_str().unwrap().to_ascii_uppercase()).unwrap_or_default();
    for method in ["GET", "PATCH", "DELETE"] {
        assert!(allow.contains(method), "Allow: {allow}");
    }
    assert_problem(put, 405, "method-not-allowed").await;
    let delete_all = app.client.delete(app.url("/v1/products")).send().await.unwrap();
    assert_problem(delete_all, 405, "method-not-allowed").await;
}

async fn request_ids_are_echoed_or_generated(app: TestApp) {
    let echoed =
        app.client.get(app.url("/v1/products/abc")).header("x-request-id", "trace-42.a_b:c").send().await.unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "trace-42.a_b:c");
    let body: Value = echoed.json().await.unwrap();
    assert_eq!(body["request_id"], "trace-42.a_b:c");

    let replaced = app.client.get(app.url("/v1/products")).header("x-request-id", "bad id!").send().await.unwrap();
    let id = replaced.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(id != "bad id!" && !id.is_empty());
    let generated = app.get("/v1/products").await;
    let other = generated.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_ne!(id, other, "each request gets its own id");
}

/// NUL cannot be stored by PostgreSQL and cuts strings in SQLite: one rule
/// for every text input, on both engines — a 422 naming a body field, a 400
/// naming a query parameter — and nothing is stored.
async fn nul_in_text_is_rejected_naming_the_field(app: TestApp) {
    let token = unique("nul");
    let mut named = new_product(&format!("{token} a\u{0}b"), 1, 1);
    let problem = assert_problem(app.create(&named).await, 422, "validation-error").await;
    assert_eq!(problem["errors"][0]["field"], "name", "{problem}");
    named["name"] = json!(token);
    named["description"] = json!("x\u{0}");
    let problem = assert_problem(app.create(&named).await, 422, "validation-error").await;
    assert_eq!(problem["errors"][0]["field"], "description", "{problem}");

    let product = app.create_ok(&new_product(&token, 1, 1)).await;
    for (field, value) in [("description", "x\u{0}"), ("name", "\u{0}")] {
        let patch = app.patch(&product["id"], &json!({ field: value }), None).await;
        let problem = assert_problem(patch, 422, "validation-error").await;
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }
    let current: Value = app.get(&format!("/v1/products/{}", product["id"])).await.json().await.unwrap();
    assert_eq!((current["version"].as_i64(), current["description"].is_null()), (Some(1), true));

    for query in ["q=%00", "q=a%00b", "q=%FF", "cursor=%00"] {
        let problem = assert_problem(app.get(&format!("/v1/products?{query}")).await, 400, "invalid-parameter").await;
        let field = query.split('=').next().unwrap();
        assert_eq!(problem["errors"][0]["field"], field, "{query}: {problem}");
    }
    let listed: Value = app.get(&format!("/v1/products?q={token}")).await.json().await.unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "only the valid product was stored");
}
