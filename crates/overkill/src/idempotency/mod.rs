//! Idempotency keys in the database (the header, fingerprint and replay are
//! `chassis::idempotency`). A key's row is claimed in its own short
//! transaction, so a concurrent request with the same key sees it in flight
//! at once; the work it guards completes it — stores the answer — in the
//! work's own transaction, so an order exists exactly when its key is done.
//! A request that fails without an answer to keep (a 5xx, a timeout, a
//! dropped connection) releases its claim, and a retry runs again.

mod postgres;
mod sqlite;

use std::future::Future;
use std::time::Duration;

use axum::response::Response;
use chassis::Problem;
use chassis::idempotency::{self, Fingerprint, IdempotencyKey, StoredResponse};
use time::OffsetDateTime;

use crate::db::{Database, StoreError};

pub(crate) use self::postgres::complete as complete_postgres;
pub(crate) use self::sqlite::complete as complete_sqlite;

/// Expired keys one sweep deletes at most.
pub const SWEEP_BATCH: i64 = 1000;

/// How often the sweep runs.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(60);

/// Where keys are kept, and for how long.
#[derive(Clone)]
pub struct IdempotencyStore {
    db: Database,
    /// How long an answered key is kept.
    ttl: Duration,
    /// How old a claim must be before another request may take it over:
    /// older than any request can run, so its owner is gone.
    stale_after: Duration,
}

/// What a claim found.
pub enum Claim {
    /// This request holds the key: run, then complete or release it.
    Claimed(Ticket),
    /// The key was answered for this very request: here is the answer.
    Replay(StoredResponse),
    /// The key was used for another request.
    Reused,
    /// The key's first request is still running.
    InFlight,
}

/// The key's row as a claim that lost found it.
pub(crate) struct KeyRow {
    pub fingerprint: Vec<u8>,
    pub answer: Option<StoredResponse>,
}

/// A held claim. Completing it is the guarded work's job, inside its
/// transaction ([`Ticket::completion`]); on an error the handler releases
/// it ([`Ticket::release`]); dropped without either (the request future
/// dropped by a timeout or a closed connection), it is released in the
/// background, so a retry can run in every case.
pub struct Ticket {
    store: IdempotencyStore,
    completion: Completion,
    done: bool,
}

/// What the guarded transaction needs to complete a claim: the key and the
/// claim's time, which tells this claim from a later one that took over.
#[derive(Debug, Clone)]
pub struct Completion {
    pub key: String,
    pub claimed_at: OffsetDateTime,
}

// === impl IdempotencyStore ===

impl IdempotencyStore {
    /// Keys kept for `ttl` once answered; claims stale after `stale_after`.
    pub fn new(db: Database, ttl: Duration, stale_after: Duration) -> Self {
        Self { db, ttl, stale_after }
    }

    /// Claims `key` for the request with `fingerprint`, or says why not.
    /// The row may vanish between looking and reading (released, swept):
    /// then the claim is tried again, a bounded number of times.
    pub async fn claim(
        &self,
        key: &IdempotencyKey,
        fingerprint: Fingerprint,
        now: OffsetDateTime,
    ) -> Result<Claim, StoreError> {
        let expires_at = now + self.ttl;
        let stale_before = now - self.stale_after;
        for _ in 0..3 {
            let key_text = key.as_str().to_owned();
            let found = match &self.db {
                Database::Postgres(pool) => {
                    let client = pool.get().await?;
                    postgres::claim(&client, &key_text, &fingerprint.0, now, expires_at, stale_before).await?
                }
                Database::Sqlite(db) => {
                    db.transaction(move |tx| {
                        sqlite::claim(tx, &key_text, &fingerprint.0, now, expires_at, stale_before)
                    })
                    .await?
                }
            };
            let row = match found {
                None => {
                    let completion = Completion { key: key.as_str().to_owned(), claimed_at: now };
                    return Ok(Claim::Claimed(Ticket { store: self.clone(), completion, done: false }));
                }
                Some(Some(row)) => row,
                Some(None) => continue,
            };
            return Ok(if row.fingerprint != fingerprint.0 {
                Claim::Reused
            } else {
                match row.answer {
                    Some(answer) => Claim::Replay(answer),
                    None => Claim::InFlight,
                }
            });
        }
        Err(StoreError::Busy(anyhow::anyhow!("the idempotency key kept changing while it was claimed")))
    }

    /// Runs `work` at most once per key: without a key, just runs it; with
    /// one, claims it for `request` (method, path, body) and runs `work`
    /// with the completion its transaction stores the answer under — or
    /// answers with the first answer, a reuse (422) or an in-flight (409)
    /// problem instead. On an error the claim is released, so a retry runs.
    pub async fn at_most_once<F, Fut>(
        &self,
        key: Option<IdempotencyKey>,
        request: (&str, &str, &[u8]),
        now: OffsetDateTime,
        work: F,
    ) -> Result<Response, Problem>
    where
        F: FnOnce(Option<Completion>) -> Fut,
        Fut: Future<Output = Result<StoredResponse, StoreError>>,
    {
        let Some(key) = key else {
            return Ok(work(None).await?.to_response(false));
        };
        let (method, path, body) = request;
        let ticket = match self.claim(&key, Fingerprint::of(method, path, body), now).await? {
            Claim::Claimed(ticket) => ticket,
            Claim::Replay(first) => return Ok(first.to_response(true)),
            Claim::Reused => return Err(idempotency::reused()),
            Claim::InFlight => return Ok(idempotency::in_flight()),
        };
        match work(Some(ticket.completion())).await {
            Ok(answer) => {
                ticket.done();
                Ok(answer.to_response(false))
            }
            Err(error) => {
                ticket.release().await;
                Err(error.into())
            }
        }
    }

    /// Deletes up to [`SWEEP_BATCH`] keys that expired before `now`; how many.
    pub async fn sweep(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        match &self.db {
            Database::Postgres(pool) => postgres::sweep(&pool.get().await?, now).await,
            Database::Sqlite(db) => db.transaction(move |tx| sqlite::sweep(tx, now)).await,
        }
    }

    /// Runs [`Self::sweep`] every [`SWEEP_INTERVAL`] until `stop` resolves.
    pub async fn sweep_until(self, stop: impl std::future::Future<Output = ()>) {
        let sweeping = async {
            let mut ticks = tokio::time::interval(SWEEP_INTERVAL);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                match self.sweep(crate::timestamp::now()).await {
                    Ok(0) => {}
                    Ok(deleted) => tracing::debug!(deleted, "expired idempotency keys swept"),
                    Err(error) => tracing::warn!(error = format!("{error:#}"), "idempotency key sweep failed"),
                }
            }
        };
        tokio::select! {
            () = sweeping => {}
            () = stop => {}
        }
    }

    async fn release(&self, completion: &Completion) -> Result<(), StoreError> {
        let Completion { key, claimed_at } = completion.clone();
        match &self.db {
            Database::Postgres(pool) => postgres::release(&pool.get().await?, &key, claimed_at).await,
            Database::Sqlite(db) => db.transaction(move |tx| sqlite::release(tx, &key, claimed_at)).await,
        }
    }
}

// === impl Ticket ===

impl Ticket {
    /// What the guarded transaction completes.
    pub fn completion(&self) -> Completion {
        self.completion.clone()
    }

    /// The guarded transaction committed: the key now holds its answer.
    pub fn done(mut self) {
        self.done = true;
    }

    /// The guarded work failed with nothing to keep (a 5xx): gives the key
    /// up now, so a retry runs again. A release that fails leaves the claim
    /// to go stale; the error is logged, and the request's own error wins.
    pub async fn release(mut self) {
        self.done = true;
        if let Err(error) = self.store.release(&self.completion).await {
            tracing::warn!(error = format!("{error:#}"), "failed to release an idempotency key");
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let store = self.store.clone();
        let completion = self.completion.clone();
        // A runtime is always there: tickets live in request handlers.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(error) = store.release(&completion).await {
                    // The claim stays until it is stale (the request
                    // timeout), then the next request with the key takes it.
                    tracing::warn!(error = format!("{error:#}"), "failed to release an idempotency key");
                }
            });
        }
    }
}
