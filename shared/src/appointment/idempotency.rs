//! Retention of the `Idempotency-Key` records bookings keep (outbox-relay purges them).

use chrono::{DateTime, Utc};

use crate::Result;
use crate::db::{self, PgPool};

/// Deletes up to `limit` Idempotency-Key records created before `cutoff`, oldest first, and
/// returns how many. A retry that presents a deleted key is treated as a new request (it gets
/// 409 if the original booking still holds the slot), so keys must outlive any client's retries (outbox-relay keeps them `IDEMPOTENCY_KEY_TTL_HOURS`, 24 by default).
pub async fn purge_idempotency_keys(
    pool: &PgPool,
    cutoff: DateTime<Utc>,
    limit: i64,
) -> Result<u64> {
    db::purge_batch(
        pool,
        "WITH old AS (
             SELECT caller_id, key FROM idempotency_keys WHERE created_at < $1
             ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)
         DELETE FROM idempotency_keys k USING old
         WHERE k.caller_id = old.caller_id AND k.key = old.key",
        cutoff,
        limit,
    )
    .await
}
