//! Orders: stock taken atomically, snapshots, cancels, idempotency keys,
//! and the stock invariant under a race — docs/API.md "Orders".

use std::collections::HashMap;

use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::on_both_backends;
use overkill::config::DatabaseUrl;

use crate::support::{Backend, TestApp, assert_problem, is_external, spawn_app, spawn_app_on, unique};

on_both_backends!(
    an_order_takes_stock_snapshots_products_and_cancels_once,
    order_bodies_are_validated_line_by_line,
    short_stock_is_409_listing_every_short_line_and_changes_nothing,
    orders_list_newest_first_with_filters_and_cursors,
    an_idempotency_key_replays_the_first_answer,
    fifty_requests_with_one_key_make_one_order,
    concurrent_orders_and_cancels_never_oversell,
);

/// A product with `stock` units at `price` in `currency`; its id.
async fn product(app: &TestApp, price: i64, currency: &str, stock: i64) -> i64 {
    let body = json!({"sku": unique("ORD-"), "name": unique("Item "), "price_minor": price, "currency": currency,
        "stock": stock});
    app.create_ok(&body).await["id"].as_i64().unwrap()
}

async fn stock(app: &TestApp, id: i64) -> i64 {
    app.get(&format!("/v1/products/{id}")).await.json::<Value>().await.unwrap()["stock"].as_i64().unwrap()
}

/// POSTs an order body (raw text, sent as given) with an optional key.
async fn place(app: &TestApp, body: &str, key: Option<&str>) -> reqwest::Response {
    let mut request =
        app.client.post(app.url("/v1/orders")).header("content-type", "application/json").body(body.to_owned());
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    request.send().await.unwrap()
}

fn lines(lines: &[(i64, i64)]) -> String {
    let lines: Vec<Value> = lines.iter().map(|(id, q)| json!({"product_id": id, "quantity": q})).collect();
    json!({ "lines": lines }).to_string()
}

async fn cancel(app: &TestApp, id: i64, if_match: Option<&str>, key: Option<&str>) -> reqwest::Response {
    let mut request = app.client.post(app.url(&format!("/v1/orders/{id}/cancel")));
    if let Some(tag) = if_match {
        request = request.header("if-match", tag);
    }
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    request.send().await.unwrap()
}

async fn an_order_takes_stock_snapshots_products_and_cancels_once(app: TestApp) {
    let mug = product(&app, 250, "EUR", 5).await;
    let pen = product(&app, 99, "EUR", 3).await;
    let before = app.get(&format!("/v1/products/{mug}")).await.headers()["etag"].to_str().unwrap().to_owned();
    let customer = unique("cust-");
    let body = json!({"lines": [{"product_id": mug, "quantity": 2}, {"product_id": pen, "quantity": 3}],
        "customer_ref": customer});
    let response = place(&app, &body.to_string(), None).await;
    assert_eq!(response.status(), 201);
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let order: Value = response.json().await.unwrap();
    let id = order["id"].as_i64().unwrap();
    assert_eq!(location, format!("/v1/orders/{id}"));
    assert_eq!(etag, format!("\"{id}-1\""));
    assert_eq!((order["status"].as_str(), order["customer_ref"].as_str()), (Some("placed"), Some(customer.as_str())));
    assert_eq!((order["total_minor"].as_i64(), order["currency"].as_str()), (Some(797), Some("EUR")));
    assert_eq!(order["lines"][0]["product_id"], mug);
    assert_eq!(order["lines"][1]["line_total_minor"], 297);
    assert_eq!(order["created_at"], order["updated_at"]);
    assert_eq!((stock(&app, mug).await, stock(&app, pen).await), (3, 0));
    // A PATCH made against the stock before the order must not overwrite
    // the decrement: the order moved the product's ETag on.
    let stale = app.patch(&json!(mug), &json!({"stock": 5}), Some(&before)).await;
    assert_problem(stale, 412, "precondition-failed").await;
    assert_eq!(stock(&app, mug).await, 3);

    // Snapshots: a later price or name change, or a deletion, leaves the order as it was.
    let current = app.get(&format!("/v1/products/{mug}")).await;
    let tag = current.headers()["etag"].to_str().unwrap().to_owned();
    let patched = app.patch(&json!(mug), &json!({"price_minor": 999, "name": "Renamed"}), Some(&tag)).await;
    assert_eq!(patched.status(), 200, "the order's decrement bumped the product's ETag, which GET shows");
    let deleted = app.client.delete(app.url(&format!("/v1/products/{pen}"))).send().await.unwrap();
    assert_eq!(deleted.status(), 204, "a product with orders can still be deleted");
    let fetched = app.get(&location).await;
    assert_eq!(fetched.headers()["etag"].to_str().unwrap(), etag);
    assert_eq!(fetched.json::<Value>().await.unwrap(), order);
    let not_modified = app.client.get(app.url(&location)).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(
        (not_modified.status().as_u16(), not_modified.headers()["etag"].to_str().unwrap()),
        (304, etag.as_str())
    );

    assert_problem(cancel(&app, id, Some("\"0-0\""), None).await, 412, "precondition-failed").await;
    let cancelled = cancel(&app, id, Some(&etag), None).await;
    assert_eq!(cancelled.status(), 200);
    let cancelled_tag = cancelled.headers()["etag"].to_str().unwrap().to_owned();
    let cancelled: Value = cancelled.json().await.unwrap();
    assert_eq!((cancelled["status"].as_str(), cancelled_tag), (Some("cancelled"), format!("\"{id}-2\"")));
    assert_eq!(cancelled["lines"], order["lines"]);
    assert_eq!(stock(&app, mug).await, 5, "the stock came back; the deleted product was skipped");
    let again = cancel(&app, id, None, None).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.json::<Value>().await.unwrap(), cancelled, "the same body");
    assert_eq!(stock(&app, mug).await, 5, "nothing restored twice");

    for missing in ["/v1/orders/999999999999", "/v1/orders/0", "/v1/orders/01", "/v1/orders/x"] {
        assert_problem(app.get(missing).await, 404, "not-found").await;
    }
    assert_problem(cancel(&app, 999_999_999_999, None, None).await, 404, "not-found").await;
}

async fn order_bodies_are_validated_line_by_line(app: TestApp) {
    let eur = product(&app, 100, "EUR", 10).await;
    let usd = product(&app, 100, "USD", 10).await;
    let fields = |problem: &Value| -> Vec<String> {
        problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap().to_owned()).collect()
    };
    let shape = json!({"lines": [{"product_id": 0, "quantity": 1001}, {"product_id": eur, "quantity": 1},
        {"product_id": eur, "quantity": 2}, {"quantity": 1}], "customer_ref": "has space"});
    let problem = assert_problem(place(&app, &shape.to_string(), None).await, 422, "validation-error").await;
    assert_eq!(
        fields(&problem),
        ["customer_ref", "lines[0].product_id", "lines[0].quantity", "lines[2].product_id", "lines[3].product_id"]
    );
    for body in [
        json!({}),
        json!({"lines": []}),
        json!({"lines": {}}),
        json!({"lines": vec![json!({"product_id": eur, "quantity": 1}); 51]}),
    ] {
        let problem = assert_problem(place(&app, &body.to_string(), None).await, 422, "validation-error").await;
        assert_eq!(fields(&problem), ["lines"], "{body}");
    }
    let nested = json!({"lines": [{"product_id": eur, "quantity": 1, "colour": "red"}]}).to_string();
    let problem = assert_problem(place(&app, &nested, None).await, 400, "unknown-field").await;
    assert_eq!(problem["field"], "lines[0].colour");
    assert_problem(place(&app, r#"{"lines": [], "note": 1}"#, None).await, 400, "unknown-field").await;
    assert_problem(place(&app, "[1]", None).await, 400, "malformed-json").await;
    let text = app.client.post(app.url("/v1/orders")).header("content-type", "text/plain").body(lines(&[(eur, 1)]));
    assert_problem(text.send().await.unwrap(), 415, "unsupported-media-type").await;

    // Decided against the products, in one transaction: nothing changes.
    let unknown =
        assert_problem(place(&app, &lines(&[(eur, 1), (999_999_999_999, 1)]), None).await, 422, "validation-error")
            .await;
    assert_eq!(fields(&unknown), ["lines[1].product_id"]);
    let mixed = assert_problem(place(&app, &lines(&[(eur, 1), (usd, 1)]), None).await, 422, "validation-error").await;
    assert_eq!(fields(&mixed), ["lines[1].product_id"]);
    assert_eq!((stock(&app, eur).await, stock(&app, usd).await), (10, 10));

    // Integers in any JSON spelling, as for products; the total's bound.
    let spelled = format!(r#"{{"lines": [{{"product_id": {eur}.0, "quantity": 2e0}}]}}"#);
    assert_eq!(place(&app, &spelled, None).await.status(), 201);
    // From 2^53 on a double skips integers: only plain digits name such an id.
    let rounded = r#"{"lines": [{"product_id": 9007199254740993.0, "quantity": 1}]}"#;
    let problem = assert_problem(place(&app, rounded, None).await, 422, "validation-error").await;
    assert_eq!(fields(&problem), ["lines[0].product_id"]);
    let rich: Vec<i64> = {
        let mut ids = Vec::new();
        for _ in 0..10 {
            ids.push(product(&app, 1_000_000_000_000, "JPY", 1000).await);
        }
        ids
    };
    let too_much: Vec<(i64, i64)> = rich.iter().map(|id| (*id, 1000)).collect();
    let problem = assert_problem(place(&app, &lines(&too_much), None).await, 422, "validation-error").await;
    assert_eq!(fields(&problem), ["lines"]);
    assert_eq!(place(&app, &lines(&too_much[..9]), None).await.status(), 201, "9 × 10^15 fits under 2^53");
}

async fn short_stock_is_409_listing_every_short_line_and_changes_nothing(app: TestApp) {
    let a = product(&app, 100, "EUR", 2).await;
    let b = product(&app, 100, "EUR", 5).await;
    let c = product(&app, 100, "EUR", 0).await;
    let problem =
        assert_problem(place(&app, &lines(&[(a, 3), (b, 5), (c, 1)]), None).await, 409, "insufficient-stock").await;
    assert_eq!(
        problem["short_lines"],
        json!([{"product_id": a, "requested": 3, "available": 2}, {"product_id": c, "requested": 1, "available": 0}])
    );
    assert_eq!((stock(&app, a).await, stock(&app, b).await, stock(&app, c).await), (2, 5, 0));
    assert_eq!(place(&app, &lines(&[(a, 2), (b, 5)]), None).await.status(), 201, "exactly all of it is fine");
    assert_eq!((stock(&app, a).await, stock(&app, b).await), (0, 0));
}

async fn orders_list_newest_first_with_filters_and_cursors(app: TestApp) {
    let item = product(&app, 10, "EUR", 100).await;
    let customer = unique("list-");
    let mut ids = Vec::new();
    for _ in 0..5 {
        let body = json!({"lines": [{"product_id": item, "quantity": 1}], "customer_ref": customer}).to_string();
        ids.push(place(&app, &body, None).await.json::<Value>().await.unwrap()["id"].as_i64().unwrap());
    }
    assert_eq!(cancel(&app, ids[1], None, None).await.status(), 200);
    let (first, cursor) = page(&app, &customer, "limit=2").await;
    assert_eq!(first, [ids[4], ids[3]], "newest first");
    let (second, cursor) = page(&app, &customer, &format!("limit=2&cursor={}", cursor.unwrap())).await;
    assert_eq!(second, [ids[2], ids[1]]);
    let (third, cursor) = page(&app, &customer, &format!("limit=2&cursor={}", cursor.unwrap())).await;
    assert_eq!((third, cursor), (vec![ids[0]], None));
    let (oldest, _) = page(&app, &customer, "sort=created_at&limit=1").await;
    assert_eq!(oldest, [ids[0]]);
    let (cancelled, _) = page(&app, &customer, "status=cancelled").await;
    assert_eq!(cancelled, [ids[1]]);
    let (_, cursor) = page(&app, &customer, "limit=1&status=placed").await;
    let foreign = app.get(&format!("/v1/orders?customer_ref={customer}&limit=1&cursor={}", cursor.unwrap())).await;
    assert_problem(foreign, 400, "invalid-parameter").await;
    let bad = app.get("/v1/orders?limit=0&sort=id&status=open&customer_ref=a%20b").await;
    let problem = assert_problem(bad, 400, "invalid-parameter").await;
    assert_eq!(problem["errors"].as_array().unwrap().len(), 4);
}

/// The ids of a page of `customer`'s orders, and its next cursor.
async fn page(app: &TestApp, customer: &str, query: &str) -> (Vec<i64>, Option<String>) {
    let response = app.get(&format!("/v1/orders?customer_ref={customer}&{query}")).await;
    assert_eq!(response.status(), 200, "{query}");
    let body: Value = response.json().await.unwrap();
    let ids: Vec<i64> = body["items"].as_array().unwrap().iter().map(|o| o["id"].as_i64().unwrap()).collect();
    (ids, body["next_cursor"].as_str().map(str::to_owned))
}

async fn an_idempotency_key_replays_the_first_answer(app: TestApp) {
    let item = product(&app, 500, "EUR", 3).await;
    let key = unique("key-");
    let body = lines(&[(item, 2)]);
    let first = place(&app, &body, Some(&key)).await;
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let (location, etag) = (first.headers()["location"].clone(), first.headers()["etag"].clone());
    let first_body = first.bytes().await.unwrap();
    let replay = place(&app, &body, Some(&key)).await;
    assert_eq!(replay.status(), 201);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!((&replay.headers()["location"], &replay.headers()["etag"]), (&location, &etag));
    assert_eq!(replay.bytes().await.unwrap(), first_body, "byte for byte");
    assert_eq!(stock(&app, item).await, 1, "placed once");
    // The Structured Field string form names the same key.
    let quoted = place(&app, &body, Some(&format!("\"{key}\""))).await;
    assert_eq!((quoted.status().as_u16(), quoted.headers()["idempotent-replayed"].to_str().unwrap()), (201, "true"));

    let reused = place(&app, &lines(&[(item, 1)]), Some(&key)).await;
    assert_problem(reused, 422, "idempotency-key-reused").await;

    // A refusal decided in the transaction is an answer too: replayed as
    // it was, even once the stock is there.
    let short_key = unique("short-");
    let short = place(&app, &lines(&[(item, 3)]), Some(&short_key)).await;
    let short = assert_problem(short, 409, "insufficient-stock").await;
    let order_id = json!(first_body.iter().map(|b| *b as char).collect::<String>().parse::<Value>().unwrap()["id"]);
    assert_eq!(cancel(&app, order_id.as_i64().unwrap(), None, None).await.status(), 200);
    assert_eq!(stock(&app, item).await, 3);
    let replayed = place(&app, &lines(&[(item, 3)]), Some(&short_key)).await;
    assert_eq!(replayed.headers()["idempotent-replayed"], "true");
    assert_eq!(replayed.status(), 409);
    assert_eq!(replayed.json::<Value>().await.unwrap(), short, "the first problem, its request_id included");
    assert_eq!(stock(&app, item).await, 3);

    // Cancels take keys too.
    let cancel_key = unique("cancel-");
    let placed = place(&app, &lines(&[(item, 1)]), None).await.json::<Value>().await.unwrap();
    let id = placed["id"].as_i64().unwrap();
    let first = cancel(&app, id, None, Some(&cancel_key)).await;
    assert_eq!(first.status(), 200);
    let first = first.bytes().await.unwrap();
    let again = cancel(&app, id, None, Some(&cancel_key)).await;
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.bytes().await.unwrap(), first);
    assert_problem(cancel(&app, id + 1, None, Some(&cancel_key)).await, 422, "idempotency-key-reused").await;

    // Shape errors are answered before the key is looked at, and not kept.
    let fresh = unique("fresh-");
    assert_problem(place(&app, r#"{"lines": []}"#, Some(&fresh)).await, 422, "validation-error").await;
    assert_eq!(place(&app, &lines(&[(item, 1)]), Some(&fresh)).await.status(), 201);

    for bad in ["k".repeat(256), "tab\there".to_owned(), String::new()] {
        let response = app
            .client
            .post(app.url("/v1/orders"))
            .header("content-type", "application/json")
            .header("idempotency-key", reqwest::header::HeaderValue::from_bytes(bad.as_bytes()).unwrap())
            .body(lines(&[(item, 1)]))
            .send()
            .await
            .unwrap();
        assert_problem(response, 400, "invalid-idempotency-key").await;
    }
    let non_ascii = app
        .client
        .post(app.url("/v1/orders"))
        .header("content-type", "application/json")
        .header("idempotency-key", reqwest::header::HeaderValue::from_bytes(b"cl\xc3\xa9").unwrap())
        .body(lines(&[(item, 1)]))
        .send()
        .await
        .unwrap();
    assert_problem(non_ascii, 400, "invalid-idempotency-key").await;
}

async fn fifty_requests_with_one_key_make_one_order(app: TestApp) {
    let item = product(&app, 100, "EUR", 1000).await;
    let key = unique("burst-");
    let body = lines(&[(item, 7)]);
    let mut requests = JoinSet::new();
    for _ in 0..50 {
        let (client, url, body, key) = (app.client.clone(), app.url("/v1/orders"), body.clone(), key.clone());
        requests.spawn(async move {
            let response = client
                .post(url)
                .header("content-type", "application/json")
                .header("idempotency-key", key)
                .body(body)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
            (status, retry_after, response.json::<Value>().await.unwrap())
        });
    }
    let mut ids = Vec::new();
    while let Some(result) = requests.join_next().await {
        let (status, retry_after, body) = result.unwrap();
        match status {
            201 => ids.push(body["id"].as_i64().unwrap()),
            409 => {
                assert_eq!(body["type"], "/problems/idempotency-key-in-flight", "{body}");
                assert_eq!(retry_after.as_deref(), Some("1"));
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert!(!ids.is_empty(), "at least the first request placed the order");
    assert!(ids.iter().all(|id| *id == ids[0]), "one order: {ids:?}");
    assert_eq!(stock(&app, item).await, 993, "its stock taken once");
}

/// The race of docs/API.md's invariant on one service (see [`race`]).
async fn concurrent_orders_and_cancels_never_oversell(app: TestApp) {
    race(&[&app]).await;
}

/// The same race against three instances of the service sharing one
/// PostgreSQL database, as it is scaled out: each request goes to the next
/// instance in turn. (In-process only: the twin runs as one instance.)
#[tokio::test]
async fn three_instances_on_one_postgres_never_oversell() {
    if is_external() {
        eprintln!("three instances: in-process only");
        return;
    }
    let first = spawn_app(Backend::Postgres).await;
    let url = first.database.as_ref().unwrap().url().to_owned();
    let second = spawn_app_on(DatabaseUrl::Postgres(url.clone().into()), |_| {}).await;
    let third = spawn_app_on(DatabaseUrl::Postgres(url.into()), |_| {}).await;
    race(&[&first, &second, &third]).await;
}

/// The race behind docs/API.md's invariant: 240 concurrent orders of 2–5 lines
/// over 6 products whose stock is far below the demand, with cancels of
/// placed orders and If-Match stock edits interleaved. Afterwards, for
/// every product: initial stock + edits = current stock + units in placed
/// orders; every 201 is a stored order, and nothing else answered but 201,
/// 409 insufficient-stock, 200 cancels and 200/412 edits.
/// Its requests are spread over `apps`: one service, or several instances
/// of it on one database.
async fn race(apps: &[&TestApp]) {
    const INITIAL: i64 = 60;
    let app = apps[0];
    let bases: Vec<String> = apps.iter().map(|app| app.base.clone()).collect();
    let mut products = Vec::new();
    for _ in 0..6 {
        products.push(product(app, 100, "EUR", INITIAL).await);
    }
    let mut tasks = JoinSet::new();
    for n in 0..240_usize {
        let (client, base, products) = (app.client.clone(), bases[n % bases.len()].clone(), products.clone());
        tasks.spawn(async move {
            // 2–5 distinct products, in a shuffled order, 1–4 units each.
            let count = 2 + n % 4;
            let picked: Vec<(i64, i64)> =
                (0..count).map(|i| (products[(n * 7 + i * 5) % 6], 1 + ((n + i) % 4) as i64)).collect();
            let mut distinct = picked.clone();
            distinct.sort_unstable();
            distinct.dedup_by_key(|(id, _)| *id);
            let response = client
                .post(format!("{base}/v1/orders"))
                .header("content-type", "application/json")
                .body(lines(&distinct))
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap();
            match status {
                201 => {}
                409 => assert_eq!(body["type"], "/problems/insufficient-stock", "{body}"),
                other => panic!("order {n}: {other} {body}"),
            }
            // Every third placed order is cancelled at once.
            if status == 201 && n % 3 == 0 {
                let id = body["id"].as_i64().unwrap();
                let cancelled = client.post(format!("{base}/v1/orders/{id}/cancel")).send().await.unwrap();
                assert_eq!(cancelled.status(), 200);
            }
            // Every tenth task edits a stock: +10 at the version it read.
            let edit = if n % 10 == 0 {
                let id = products[n % 6];
                let current = client.get(format!("{base}/v1/products/{id}")).send().await.unwrap();
                let tag = current.headers()["etag"].to_str().unwrap().to_owned();
                let before = current.json::<Value>().await.unwrap()["stock"].as_i64().unwrap();
                let patched = client
                    .patch(format!("{base}/v1/products/{id}"))
                    .header("content-type", "application/merge-patch+json")
                    .header("if-match", tag)
                    .body(json!({"stock": before + 10}).to_string())
                    .send()
                    .await
                    .unwrap();
                match patched.status().as_u16() {
                    200 => Some((id, 10)),
                    412 => None,
                    other => panic!("edit: {other}"),
                }
            } else {
                None
            };
            (status, body["id"].as_i64(), edit)
        });
    }
    let (mut placed_ids, mut refused) = (Vec::new(), 0);
    let mut edits: HashMap<i64, i64> = HashMap::new();
    while let Some(result) = tasks.join_next().await {
        let (status, id, edit) = result.unwrap();
        match (status, id) {
            (201, Some(id)) => placed_ids.push(id),
            _ => refused += 1,
        }
        if let Some((product, delta)) = edit {
            *edits.entry(product).or_default() += delta;
        }
    }
    assert!(refused > 0 && !placed_ids.is_empty(), "the race must both place and refuse: {refused} refused");

    // Every 201 is a stored order; count the units of those still placed.
    let mut held: HashMap<i64, i64> = HashMap::new();
    let mut cancelled = 0;
    for id in &placed_ids {
        let order: Value = app.get(&format!("/v1/orders/{id}")).await.json().await.unwrap();
        assert_eq!(order["id"], *id);
        if order["status"] == "cancelled" {
            cancelled += 1;
            continue;
        }
        for line in order["lines"].as_array().unwrap() {
            *held.entry(line["product_id"].as_i64().unwrap()).or_default() += line["quantity"].as_i64().unwrap();
        }
    }
    for id in &products {
        let current = stock(app, *id).await;
        assert!(current >= 0);
        assert_eq!(
            INITIAL + edits.get(id).copied().unwrap_or(0),
            current + held.get(id).copied().unwrap_or(0),
            "product {id}: initial + edits = stock + units in placed orders"
        );
    }
    eprintln!(
        "race on {} instance(s): {} placed ({cancelled} of them cancelled), {refused} refused for stock, {} stock edits",
        apps.len(),
        placed_ids.len(),
        edits.values().sum::<i64>() / 10
    );
}
