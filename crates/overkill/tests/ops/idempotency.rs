//! Idempotency keys in the database, on both engines: a claim, a duplicate
//! in flight, a reuse, a release, the take-over of a dead claim and of an
//! expired key, and the sweep. (Replays are in the API suite.)

use std::time::Duration;

use chassis::idempotency::{Fingerprint, IdempotencyKey};
use overkill::config::DatabaseUrl;
use overkill::db::Database;
use overkill::idempotency::{Claim, IdempotencyStore};
use testkit::postgres::TestDatabase;
use time::OffsetDateTime;

const TTL: Duration = Duration::from_secs(3600);
const STALE_AFTER: Duration = Duration::from_secs(60);

#[tokio::test]
async fn keys_are_claimed_released_taken_over_and_swept_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::connect(&DatabaseUrl::Sqlite(dir.path().join("keys.db")), 2, 0).await.unwrap();
    keys_are_claimed_released_taken_over_and_swept(db).await;
}

#[tokio::test]
async fn keys_are_claimed_released_taken_over_and_swept_on_postgres() {
    let database = TestDatabase::create().await;
    let db = Database::connect(&DatabaseUrl::Postgres(database.url().to_owned().into()), 2, 1).await.unwrap();
    keys_are_claimed_released_taken_over_and_swept(db).await;
}

fn kind(claim: &Claim) -> &'static str {
    match claim {
        Claim::Claimed(_) => "claimed",
        Claim::Replay(_) => "replay",
        Claim::Reused => "reused",
        Claim::InFlight => "in flight",
    }
}

async fn keys_are_claimed_released_taken_over_and_swept(db: Database) {
    db.migrate().await.unwrap();
    let store = IdempotencyStore::new(db, TTL, STALE_AFTER);
    let key = IdempotencyKey::parse(b"key-1").unwrap();
    let request = Fingerprint::of("POST", "/v1/orders", b"{}");
    let other = Fingerprint::of("POST", "/v1/orders", b"{ }");
    let start = OffsetDateTime::now_utc() - time::Duration::days(2);
    let at = |seconds: i64| start + time::Duration::seconds(seconds);

    let Claim::Claimed(first) = store.claim(&key, request, at(0)).await.unwrap() else {
        panic!("a new key is claimed")
    };
    assert_eq!(kind(&store.claim(&key, request, at(1)).await.unwrap()), "in flight");
    assert_eq!(kind(&store.claim(&key, other, at(1)).await.unwrap()), "reused");
    first.release().await;
    let Claim::Claimed(second) = store.claim(&key, request, at(2)).await.unwrap() else {
        panic!("released: claimed again")
    };
    second.done(); // as if its request died holding it: the claim stays
    assert_eq!(kind(&store.claim(&key, request, at(30)).await.unwrap()), "in flight");
    let Claim::Claimed(third) = store.claim(&key, other, at(63)).await.unwrap() else {
        panic!("a claim older than the stale limit is taken over")
    };
    third.done();
    let Claim::Claimed(fourth) = store.claim(&key, request, at(63 + 3601)).await.unwrap() else {
        panic!("an expired key is taken over")
    };
    fourth.done();

    // The sweep deletes what expired before now, and only that.
    let fresh = IdempotencyKey::parse(b"key-fresh").unwrap();
    let Claim::Claimed(kept) = store.claim(&fresh, request, OffsetDateTime::now_utc()).await.unwrap() else { panic!() };
    kept.done();
    assert_eq!(store.sweep(OffsetDateTime::now_utc()).await.unwrap(), 1);
    assert_eq!(store.sweep(OffsetDateTime::now_utc()).await.unwrap(), 0);
    assert_eq!(kind(&store.claim(&fresh, request, OffsetDateTime::now_utc()).await.unwrap()), "in flight");
}
