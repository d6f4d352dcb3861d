//! Idempotency keys on SQLite: the same statements as PostgreSQL's, run in
//! writer transactions (times in microseconds since the epoch).

use chassis::idempotency::StoredResponse;
use rusqlite::{Connection, OptionalExtension, Row, params};
use time::OffsetDateTime;

use super::{Completion, KeyRow, SWEEP_BATCH};
use crate::db::StoreError;
use crate::timestamp::micros;

/// See `postgres::claim`. SQLite has one writer, so nothing waits here.
pub fn claim(
    conn: &Connection,
    key: &str,
    fingerprint: &[u8],
    now: OffsetDateTime,
    expires_at: OffsetDateTime,
    stale_before: OffsetDateTime,
) -> Result<Option<Option<KeyRow>>, StoreError> {
    let (now, expires_at, stale_before) = (micros(now), micros(expires_at), micros(stale_before));
    let inserted = conn
        .prepare_cached(
            "INSERT INTO idempotency_keys (key, fingerprint, claimed_at, expires_at) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (key) DO NOTHING",
        )?
        .execute(params![key, fingerprint, now, expires_at])?;
    if inserted == 1 {
        return Ok(None);
    }
    let taken = conn
        .prepare_cached(
            "UPDATE idempotency_keys SET fingerprint = ?2, claimed_at = ?3, expires_at = ?4, status = NULL, \
             location = NULL, etag = NULL, content_type = NULL, body = NULL \
             WHERE key = ?1 AND (expires_at <= ?3 OR (status IS NULL AND claimed_at < ?5))",
        )?
        .execute(params![key, fingerprint, now, expires_at, stale_before])?;
    if taken == 1 {
        return Ok(None);
    }
    let row = conn
        .prepare_cached(
            "SELECT fingerprint, status, location, etag, content_type, body FROM idempotency_keys WHERE key = ?1",
        )?
        .query_row(params![key], key_row)
        .optional()?;
    Ok(Some(row))
}

/// See `postgres::complete`.
pub fn complete(conn: &Connection, completion: &Completion, answer: &StoredResponse) -> Result<(), StoreError> {
    let updated = conn
        .prepare_cached(
            "UPDATE idempotency_keys SET status = ?3, location = ?4, etag = ?5, content_type = ?6, body = ?7 \
             WHERE key = ?1 AND claimed_at = ?2 AND status IS NULL",
        )?
        .execute(params![
            completion.key,
            micros(completion.claimed_at),
            answer.status,
            answer.location,
            answer.etag,
            answer.content_type,
            answer.body
        ])?;
    match updated {
        1 => Ok(()),
        _ => Err(StoreError::Busy(anyhow::anyhow!("the idempotency key's claim was taken over"))),
    }
}

/// See `postgres::release`.
pub fn release(conn: &Connection, key: &str, claimed_at: OffsetDateTime) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM idempotency_keys WHERE key = ?1 AND claimed_at = ?2 AND status IS NULL")?
        .execute(params![key, micros(claimed_at)])?;
    Ok(())
}

/// See `postgres::sweep`.
pub fn sweep(conn: &Connection, now: OffsetDateTime) -> Result<u64, StoreError> {
    let deleted = conn
        .prepare_cached(
            "DELETE FROM idempotency_keys WHERE key IN \
             (SELECT key FROM idempotency_keys WHERE expires_at < ?1 LIMIT ?2)",
        )?
        .execute(params![micros(now), SWEEP_BATCH])?;
    Ok(deleted as u64)
}

fn key_row(row: &Row<'_>) -> rusqlite::Result<KeyRow> {
    let status: Option<u16> = row.get(1)?;
    let answer = match status {
        None => None,
        Some(status) => Some(StoredResponse {
            status,
            location: row.get(2)?,
            etag: row.get(3)?,
            content_type: row.get::<_, Option<String>>(4)?.unwrap_or_default(),
            body: row.get::<_, Option<Vec<u8>>>(5)?.unwrap_or_default(),
        }),
    };
    Ok(KeyRow { fingerprint: row.get(0)?, answer })
}
