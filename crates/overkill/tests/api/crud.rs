//! Create, read, update, delete, and their conditional-request rules.

use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{TestApp, assert_problem, new_product};

on_both_backends!(
    create_returns_the_product_with_location_and_etag,
    get_returns_the_product_and_304_when_unchanged,
    unknown_and_malformed_ids_are_404,
    non_canonical_ids_are_404,
    duplicate_sku_is_409,
    patch_merges_and_bumps_version,
    patch_with_stale_if_match_is_412,
    concurrent_patches_with_one_etag_let_exactly_one_win,
    patch_reports_every_invalid_field,
    delete_is_204_then_404,
    delete_with_stale_if_match_is_412_and_keeps_the_product,
);

async fn create_returns_the_product_with_location_and_etag(app: TestApp) {
    let body = json!({"sku": crate::support::unique("MUG."), "name": "Mug ☕", "description": "blue",
        "price_minor": 1299, "currency": "EUR", "stock": 5});
    let response = app.create(&body).await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let product: Value = response.json().await.unwrap();
    let id = product["id"].as_i64().unwrap();
    assert!(id > 0);
    assert_eq!(location, format!("/v1/products/{id}"));
    assert_eq!(etag, format!("\"{id}-1\""));
    for field in ["sku", "name", "description", "price_minor", "currency", "stock"] {
        assert_eq!(product[field], body[field], "{field}");
    }
    assert_eq!(product["version"], 1);
    let created = product["created_at"].as_str().unwrap();
    assert_eq!(created.len(), "2026-11-27T18:01:03.123456Z".len(), "{created}");
    assert!(created.ends_with('Z'));
    assert_eq!(product["updated_at"], product["created_at"]);

    let fetched: Value = app.get(&location).await.json().await.unwrap();
    assert_eq!(fetched, product, "what was created is what is read back");
}

async fn get_returns_the_product_and_304_when_unchanged(app: TestApp) {
    let product = app.create_ok(&new_product("Lamp", 4500, 2)).await;
    let path = format!("/v1/products/{}", product["id"]);
    let response = app.get(&path).await;
    assert_eq!(response.status(), 200);
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();

    let cached = app.client.get(app.url(&path)).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(cached.status(), 304);
    assert_eq!(cached.headers()["etag"], etag.as_str());
    assert!(cached.bytes().await.unwrap().is_empty());

    let weak = app.client.get(app.url(&path)).header("if-none-match", format!("W/{etag}")).send().await.unwrap();
    assert_eq!(weak.status(), 304);
    let other = app.client.get(app.url(&path)).header("if-none-match", "\"0-0\"").send().await.unwrap();
    assert_eq!(other.status(), 200);
}

async fn unknown_and_malformed_ids_are_404(app: TestApp) {
    for path in
        ["/v1/products/999999999999", "/v1/products/abc", "/v1/products/-1", "/v1/products/0", "/v1/products/1.5"]
    {
        assert_problem(app.get(path).await, 404, "not-found").await;
    }
    let patch = app.patch(&json!(999999999999_i64), &json!({"stock": 1}), None).await;
    assert_problem(patch, 404, "not-found").await;
}

/// Only the canonical decimal form is an id: other spellings of an existing
/// product's id, and ids past 2^63 - 1, name no product, on every method.
async fn non_canonical_ids_are_404(app: TestApp) {
    let product = app.create_ok(&new_product("Canon", 1, 1)).await;
    let id = product["id"].as_i64().unwrap();
    let spellings = [
        format!("+{id}"),
        format!("%2B{id}"),
        format!("00{id}"),
        format!("{id}.0"),
        format!("{id}%00"),
        "%FF".to_owned(),
        "0".to_owned(),
        "-0".to_owned(),
        "9223372036854775808".to_owned(),
        "18446744073709551617".to_owned(),
    ];
    for spelling in spellings {
        let path = format!("/v1/products/{spelling}");
        assert_problem(app.get(&path).await, 404, "not-found").await;
        let patch = app
            .client
            .patch(app.url(&path))
            .header("content-type", "application/merge-patch+json")
            .body(r#"{"stock": 7}"#)
            .send()
            .await
            .unwrap();
        assert_problem(patch, 404, "not-found").await;
        let delete = app.client.delete(app.url(&path)).send().await.unwrap();
        assert_problem(delete, 404, "not-found").await;
    }
    let unchanged: Value = app.get(&format!("/v1/products/{id}")).await.json().await.unwrap();
    assert_eq!(unchanged, product, "no spelling reached the product");
}

async fn duplicate_sku_is_409(app: TestApp) {
    let body = new_product("Original", 100, 1);
    app.create_ok(&body).await;
    let mut again = body.clone();
    again["name"] = json!("Copy");
    let problem = assert_problem(app.create(&again).await, 409, "conflict").await;
    assert!(problem["detail"].as_str().unwrap().contains("sku"), "{problem}");
}

async fn patch_merges_and_bumps_version(app: TestApp) {
    let mut body = new_product("Kettle", 3000, 4);
    body["description"] = json!("steel");
    let product = app.create_ok(&body).await;
    let id = &product["id"];

    let response = app.patch(id, &json!({"price_minor": 2500, "description": null}), Some("\"0-0\", \"x\", *")).await;
    assert_eq!(response.status(), 200);
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let updated: Value = response.json().await.unwrap();
    assert_eq!(updated["price_minor"], 2500);
    assert_eq!(updated["description"], Value::Null);
    assert_eq!(updated["name"], "Kettle", "absent fields stay");
    assert_eq!(updated["version"], 2);
    assert_eq!(etag, format!("\"{id}-2\""));
    assert_eq!(updated["created_at"], product["created_at"]);

    // application/json is accepted too, and an empty patch still bumps the version.
    let plain = app
        .client
        .patch(app.url(&format!("/v1/products/{id}")))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 200);
    assert_eq!(plain.json::<Value>().await.unwrap()["version"], 3);
}

async fn patch_with_stale_if_match_is_412(app: TestApp) {
    let product = app.create_ok(&new_product("Chair", 8000, 1)).await;
    let id = &product["id"];
    let first = app.patch(id, &json!({"stock": 2}), Some(&format!("\"{id}-1\""))).await;
    assert_eq!(first.status(), 200);
    let stale = app.patch(id, &json!({"stock": 3}), Some(&format!("\"{id}-1\""))).await;
    assert_problem(stale, 412, "precondition-failed").await;
    let weak = app.patch(id, &json!({"stock": 3}), Some(&format!("W/\"{id}-2\""))).await;
    assert_problem(weak, 412, "precondition-failed").await;
    let current: Value = app.get(&format!("/v1/products/{id}")).await.json().await.unwrap();
    assert_eq!(current["stock"], 2, "a rejected patch changes nothing");
}

async fn concurrent_patches_with_one_etag_let_exactly_one_win(app: TestApp) {
    for round in 0..5 {
        let product = app.create_ok(&new_product("Desk", 10_000, 1)).await;
        let id = &product["id"];
        let tag = format!("\"{id}-1\"");
        let (ten, twenty) = (json!({"stock": 10}), json!({"stock": 20}));
        let (a, b) = tokio::join!(app.patch(id, &ten, Some(&tag)), app.patch(id, &twenty, Some(&tag)));
        let mut statuses = [a.status().as_u16(), b.status().as_u16()];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 412], "round {round}");
        let current: Value = app.get(&format!("/v1/products/{id}")).await.json().await.unwrap();
        assert_eq!(current["version"], 2, "exactly one change was applied");
    }
}

async fn patch_reports_every_invalid_field(app: TestApp) {
    let product = app.create_ok(&new_product("Sofa", 50_000, 1)).await;
    let response = app
        .patch(&product["id"], &json!({"sku": "NEW", "name": null, "price_minor": "cheap", "currency": "eur"}), None)
        .await;
    let problem = assert_problem(response, 422, "validation-error").await;
    let mut fields: Vec<&str> =
        problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    fields.sort_unstable();
    assert_eq!(fields, ["currency", "name", "price_minor", "sku"]);
    let unknown = app.patch(&product["id"], &json!({"colour": "red"}), None).await;
    let problem = assert_problem(unknown, 400, "unknown-field").await;
    assert_eq!(problem["field"], "colour");
}

async fn delete_is_204_then_404(app: TestApp) {
    let product = app.create_ok(&new_product("Rug", 700, 1)).await;
    let path = format!("/v1/products/{}", product["id"]);
    let deleted = app.client.delete(app.url(&path)).send().await.unwrap();
    assert_eq!(deleted.status(), 204);
    assert!(deleted.bytes().await.unwrap().is_empty());
    assert_problem(app.get(&path).await, 404, "not-found").await;
    assert_problem(app.client.delete(app.url(&path)).send().await.unwrap(), 404, "not-found").await;
}

async fn delete_with_stale_if_match_is_412_and_keeps_the_product(app: TestApp) {
    let product = app.create_ok(&new_product("Vase", 900, 1)).await;
    let id = &product["id"];
    let path = format!("/v1/products/{id}");
    let stale = app.client.delete(app.url(&path)).header("if-match", format!("\"{id}-9\"")).send().await.unwrap();
    assert_problem(stale, 412, "precondition-failed").await;
    assert_eq!(app.get(&path).await.status(), 200);
    let current = app.client.delete(app.url(&path)).header("if-match", format!("\"{id}-1\"")).send().await.unwrap();
    assert_eq!(current.status(), 204);
}
