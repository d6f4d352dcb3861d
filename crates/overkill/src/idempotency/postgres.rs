//! Idempotency keys on PostgreSQL.

use chassis::idempotency::StoredResponse;
use deadpool_postgres::GenericClient;
use time::OffsetDateTime;
use tokio_postgres::Row;

use super::{Completion, KeyRow, SWEEP_BATCH};
use crate::db::StoreError;

/// `None`: claimed. `Some(Some(row))`: the key is someone's. `Some(None)`:
/// it vanished between looking and reading. Each statement commits alone:
/// a claim must be visible to other requests at once.
pub async fn claim(
    client: &impl GenericClient,
    key: &str,
    fingerprint: &[u8],
    now: OffsetDateTime,
    expires_at: OffsetDateTime,
    stale_before: OffsetDateTime,
) -> Result<Option<Option<KeyRow>>, StoreError> {
    // DO NOTHING never waits on a committed row, even one the key's own
    // order transaction has locked: a duplicate learns at once.
    let insert = client
        .prepare_cached(
            "INSERT INTO idempotency_keys (key, fingerprint, claimed_at, expires_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (key) DO NOTHING",
        )
        .await?;
    if client.execute(&insert, &[&key, &fingerprint, &now, &expires_at]).await? == 1 {
        return Ok(None);
    }
    // An expired key, or a claim whose request died, is taken over.
    let take_over = client
        .prepare_cached(
            "UPDATE idempotency_keys SET fingerprint = $2, claimed_at = $3, expires_at = $4, status = NULL, \
             location = NULL, etag = NULL, content_type = NULL, body = NULL \
             WHERE key = $1 AND (expires_at <= $3 OR (status IS NULL AND claimed_at < $5))",
        )
        .await?;
    if client.execute(&take_over, &[&key, &fingerprint, &now, &expires_at, &stale_before]).await? == 1 {
        return Ok(None);
    }
    let read = client
        .prepare_cached(
            "SELECT fingerprint, status, location, etag, content_type, body FROM idempotency_keys WHERE key = $1",
        )
        .await?;
    Ok(Some(client.query_opt(&read, &[&key]).await?.as_ref().map(key_row).transpose()?))
}

/// Stores `answer` for the claim, in the caller's transaction. Fails (and so
/// rolls the work back) when the claim was taken over meanwhile.
pub async fn complete(
    client: &impl GenericClient,
    completion: &Completion,
    answer: &StoredResponse,
) -> Result<(), StoreError> {
    let statement = client
        .prepare_cached(
            "UPDATE idempotency_keys SET status = $3, location = $4, etag = $5, content_type = $6, body = $7 \
             WHERE key = $1 AND claimed_at = $2 AND status IS NULL",
        )
        .await?;
    let status = i32::from(answer.status);
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 7] = [
        &completion.key,
        &completion.claimed_at,
        &status,
        &answer.location,
        &answer.etag,
        &answer.content_type,
        &answer.body,
    ];
    match client.execute(&statement, &params).await? {
        1 => Ok(()),
        _ => Err(StoreError::Busy(anyhow::anyhow!("the idempotency key's claim was taken over"))),
    }
}

/// Gives up a claim that has no answer.
pub async fn release(client: &impl GenericClient, key: &str, claimed_at: OffsetDateTime) -> Result<(), StoreError> {
    let statement = client
        .prepare_cached("DELETE FROM idempotency_keys WHERE key = $1 AND claimed_at = $2 AND status IS NULL")
        .await?;
    client.execute(&statement, &[&key, &claimed_at]).await?;
    Ok(())
}

/// Deletes up to a batch of expired keys.
pub async fn sweep(client: &impl GenericClient, now: OffsetDateTime) -> Result<u64, StoreError> {
    let statement = client
        .prepare_cached(
            "DELETE FROM idempotency_keys WHERE key IN \
             (SELECT key FROM idempotency_keys WHERE expires_at < $1 LIMIT $2)",
        )
        .await?;
    Ok(client.execute(&statement, &[&now, &SWEEP_BATCH]).await?)
}

fn key_row(row: &Row) -> Result<KeyRow, StoreError> {
    let status: Option<i32> = row.try_get(1)?;
    let answer = match status {
        None => None,
        Some(status) => Some(StoredResponse {
            status: u16::try_from(status).map_err(|_| StoreError::Other(anyhow::anyhow!("stored status {status}")))?,
            location: row.try_get(2)?,
            etag: row.try_get(3)?,
            content_type: row.try_get::<_, Option<String>>(4)?.unwrap_or_default(),
            body: row.try_get::<_, Option<Vec<u8>>>(5)?.unwrap_or_default(),
        }),
    };
    Ok(KeyRow { fingerprint: row.try_get(0)?, answer })
}
