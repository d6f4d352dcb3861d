//! 201 means durable: every order acknowledged before the process is killed
//! with SIGKILL (no drain, no shutdown hook) is there, with its lines, after
//! a restart — on SQLite (WAL with `synchronous = NORMAL`: a commit is in
//! the log, in the kernel's hands, before it is acknowledged, which survives
//! the process dying; only an OS crash or power cut could lose the last
//! commits, see docs/API.md) and on PostgreSQL.

use serde_json::{Value, json};
use testkit::postgres::TestDatabase;

use crate::support::Binary;
use tokio::task::JoinSet;

/// The binary, serving on free ports; its API base URL once it listens.
struct Process {
    binary: Binary,
    base: String,
}

impl Process {
    /// Starts `overkill serve` on `database_url`.
    fn start(database_url: &str) -> Self {
        let binary = Binary::start(&[("DATABASE_URL", database_url.to_owned())]);
        let base = format!("http://{}", binary.address);
        Self { binary, base }
    }

    /// SIGKILL, and wait for the process to be gone.
    fn kill(self) {
        drop(self.binary);
    }
}

#[tokio::test]
async fn acknowledged_orders_survive_sigkill_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    acknowledged_orders_survive_sigkill(&format!("sqlite://{}", dir.path().join("durable.db").display())).await;
}

#[tokio::test]
async fn acknowledged_orders_survive_sigkill_on_postgres() {
    let database = TestDatabase::create().await;
    acknowledged_orders_survive_sigkill(database.url()).await;
}

/// Fires 120 two-line orders at once, kills the service as soon as 40 are
/// acknowledged (others are still in flight: some are lost unanswered, as
/// they may be), restarts it, and finds every acknowledged order, its
/// lines, and stock that matches the orders stored.
async fn acknowledged_orders_survive_sigkill(database_url: &str) {
    const STOCK: i64 = 1_000;
    let process = Process::start(database_url);
    let client = reqwest::Client::new();
    let mut products = Vec::new();
    for n in 0..2 {
        let body = json!({"sku": format!("DUR-{n}"), "name": "Durable", "price_minor": 100, "currency": "EUR",
            "stock": STOCK});
        let created = client.post(format!("{}/v1/products", process.base)).json(&body).send().await.unwrap();
        assert_eq!(created.status(), 201);
        products.push(created.json::<Value>().await.unwrap()["id"].as_i64().unwrap());
    }
    let (acks, mut ack_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut burst = JoinSet::new();
    for n in 0..120_i64 {
        let (client, url, acks) = (client.clone(), format!("{}/v1/orders", process.base), acks.clone());
        let lines = json!({"lines": [{"product_id": products[0], "quantity": 1 + n % 3},
            {"product_id": products[1], "quantity": 1}]});
        burst.spawn(async move {
            if let Ok(response) = client.post(url).json(&lines).send().await {
                if response.status() == 201 {
                    if let Ok(order) = response.json::<Value>().await {
                        let _ = acks.send(order);
                    }
                }
            }
        });
    }
    drop(acks);
    let mut acknowledged = Vec::new();
    while acknowledged.len() < 40 {
        acknowledged.push(ack_rx.recv().await.expect("40 orders are acknowledged"));
    }
    process.kill();
    burst.shutdown().await;
    while let Ok(order) = ack_rx.try_recv() {
        acknowledged.push(order);
    }

    let restarted = Process::start(database_url);
    for order in &acknowledged {
        let id = order["id"].as_i64().unwrap();
        let stored = client.get(format!("{}/v1/orders/{id}", restarted.base)).send().await.unwrap();
        assert_eq!(stored.status(), 200, "acknowledged order {id} survived");
        assert_eq!(&stored.json::<Value>().await.unwrap(), order, "with its lines, as acknowledged");
    }
    // Stock matches the orders stored (acknowledged or not): no half order.
    let mut held = [0_i64; 2];
    let mut cursor = String::new();
    loop {
        let page: Value = client
            .get(format!("{}/v1/orders?limit=100{cursor}", restarted.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for order in page["items"].as_array().unwrap() {
            for line in order["lines"].as_array().unwrap() {
                let at = products.iter().position(|id| *id == line["product_id"].as_i64().unwrap()).unwrap();
                held[at] += line["quantity"].as_i64().unwrap();
            }
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    for (at, id) in products.iter().enumerate() {
        let product: Value =
            client.get(format!("{}/v1/products/{id}", restarted.base)).send().await.unwrap().json().await.unwrap();
        assert_eq!(product["stock"].as_i64().unwrap() + held[at], STOCK, "product {id}");
    }
    eprintln!("durability: {} orders acknowledged before SIGKILL, all found after the restart", acknowledged.len());
    restarted.kill();
}
