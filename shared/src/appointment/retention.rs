//! Deleting what the waitlist and the notifications no longer need (run by `outbox-relay`,
//! which links no more than PostgreSQL for it).

use chrono::{DateTime, Duration, Utc};

use crate::Result;
use crate::db::{self, PgPool};

/// How long finished rows are kept: far longer than any redelivery (the event source gives up
/// on a record after a day) or reminder can reach back.
pub const FINISHED_ROWS_KEPT: Duration = Duration::days(30);

/// Deletes up to `limit` finished waitlist rows from before `cutoff`: freed times that ended
/// (their offers with them), and entries left, booked or whose range ended. Answers how many.
pub async fn purge_waitlist(pool: &PgPool, cutoff: DateTime<Utc>, limit: i64) -> Result<u64> {
    let slots = db::purge_batch(
        pool,
        "WITH old AS (
             SELECT event_id FROM waitlist_freed_slots WHERE end_time < $1
             ORDER BY end_time LIMIT $2 FOR UPDATE SKIP LOCKED)
         DELETE FROM waitlist_freed_slots f USING old WHERE f.event_id = old.event_id",
        cutoff,
        limit,
    )
    .await?;
    let entries = db::purge_batch(
        pool,
        "WITH old AS (
             SELECT id FROM waitlist_entries
             WHERE range_to < $1 OR (status IN ('left', 'booked') AND updated_at < $1)
             LIMIT $2 FOR UPDATE SKIP LOCKED)
         DELETE FROM waitlist_entries e USING old WHERE e.id = old.id",
        cutoff,
        limit,
    )
    .await?;
    Ok(slots + entries)
}

/// Deletes up to `limit` records of messages sent (or skipped) before `cutoff`. Answers how
/// many.
pub async fn purge_notifications(pool: &PgPool, cutoff: DateTime<Utc>, limit: i64) -> Result<u64> {
    db::purge_batch(
        pool,
        "WITH old AS (
             SELECT subject_id, kind, revision FROM notifications_sent WHERE sent_at < $1
             ORDER BY sent_at LIMIT $2 FOR UPDATE SKIP LOCKED)
         DELETE FROM notifications_sent n USING old
         WHERE (n.subject_id, n.kind, n.revision) = (old.subject_id, old.kind, old.revision)",
        cutoff,
        limit,
    )
    .await
}
