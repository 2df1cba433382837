//! Abuse limits on the endpoints anyone can call without a token: login, refresh and
//! registration. Kept in PostgreSQL (`auth_throttle`) so they hold across Lambda instances.
//!
//! Each attempt names its subjects: the account it is for (login) and the client address it
//! comes from. A subject's first `free` failures cost nothing; after that each failure blocks it
//! for twice as long as the one before, from one second up to fifteen minutes. While a subject
//! is blocked, attempts are refused with 429 and `Retry-After` before any password is checked,
//! so a blocked guesser learns nothing and costs no hashing. A success clears the account's
//! count, never the address's (one right guess must not reset a credential-stuffing address).
//! A day without failures starts a subject's count over.

use std::net::IpAddr;
use std::time::Duration;

use aws_lc_rs::digest::{SHA256, digest};

use crate::{Error, Result};

/// Failed logins of one account (from anywhere) before it is slowed down.
pub const ACCOUNT_FREE_FAILURES: i32 = 5;
/// Failed logins or refreshes from one address (over any accounts) before it is slowed down:
/// a clinic's front desk shares one address.
pub const ADDRESS_FREE_FAILURES: i32 = 20;
/// Registrations from one address before it is slowed down.
pub const ADDRESS_FREE_REGISTRATIONS: i32 = 20;
/// The longest block.
pub const MAX_BLOCK: Duration = Duration::from_secs(15 * 60);

/// Who an attempt is counted against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// An account, by its normalised e-mail (stored only as a hash).
    Account(String),
    /// A client address's failed logins and refreshes.
    Address(IpAddr),
    /// A client address's registrations.
    Registrations(IpAddr),
}

impl Subject {
    /// The row key: a kind and a SHA-256 of the value, so no e-mail or address is stored.
    fn key(&self) -> String {
        let (kind, value) = match self {
            Subject::Account(email) => ("account", email.clone()),
            Subject::Address(ip) => ("address", ip.to_string()),
            Subject::Registrations(ip) => ("registrations", ip.to_string()),
        };
        let hash = digest(&SHA256, value.as_bytes());
        let hex: String = hash.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        format!("{kind}:{hex}")
    }

    fn free_failures(&self) -> i32 {
        match self {
            Subject::Account(_) => ACCOUNT_FREE_FAILURES,
            Subject::Address(_) => ADDRESS_FREE_FAILURES,
            Subject::Registrations(_) => ADDRESS_FREE_REGISTRATIONS,
        }
    }
}

/// How long a subject with `failures` recent failures is blocked: nothing for the free ones,
/// then 1 s, 2 s, 4 s … up to [`MAX_BLOCK`].
pub fn block_after(failures: i32, free: i32) -> Duration {
    let over = failures - free;
    if over <= 0 {
        return Duration::ZERO;
    }
    let seconds = 1u64
        .checked_shl((over - 1).min(20) as u32)
        .unwrap_or(u64::MAX);
    Duration::from_secs(seconds).min(MAX_BLOCK)
}

/// Refuses with 429 (and how long to wait) while any of `subjects` is blocked.
pub async fn check(client: &crate::db::Client, subjects: &[Subject]) -> Result<()> {
    let keys: Vec<String> = subjects.iter().map(Subject::key).collect();
    let row = client
        .query_one(
            "SELECT ceil(extract(epoch FROM max(blocked_until) - now()))::bigint AS wait
             FROM auth_throttle WHERE subject = ANY($1) AND blocked_until > now()",
            &[&keys],
        )
        .await?;
    match crate::db::column::<Option<i64>>(&row, "wait")? {
        Some(seconds) => Err(Error::TooManyRequests {
            retry_after_seconds: seconds.max(1) as u64,
        }),
        None => Ok(()),
    }
}

/// Counts a failed attempt against each subject and blocks those past their free failures.
pub async fn failed(client: &crate::db::Client, subjects: &[Subject]) -> Result<()> {
    for subject in subjects {
        let row = client
            .query_one(
                "INSERT INTO auth_throttle AS t (subject, failures, updated_at)
                 VALUES ($1, 1, now())
                 ON CONFLICT (subject) DO UPDATE SET
                     failures = CASE WHEN t.updated_at < now() - interval '1 day'
                                     THEN 1 ELSE t.failures + 1 END,
                     updated_at = now()
                 RETURNING failures",
                &[&subject.key()],
            )
            .await?;
        let failures: i32 = crate::db::column(&row, "failures")?;
        let block = block_after(failures, subject.free_failures());
        if !block.is_zero() {
            client
                .execute(
                    "UPDATE auth_throttle
                     SET blocked_until = now() + make_interval(secs => $2)
                     WHERE subject = $1",
                    &[&subject.key(), &(block.as_secs() as f64)],
                )
                .await?;
        }
    }
    Ok(())
}

/// How long a quiet subject is remembered: after a day without failures its count starts over,
/// so its row says nothing any more.
pub const FORGET_AFTER: chrono::TimeDelta = chrono::TimeDelta::days(1);

/// Deletes up to `limit` rows quiet since before `cutoff` and not blocked (outbox-relay's
/// housekeeping: addresses that failed once would otherwise stay forever).
pub async fn purge_stale(
    pool: &crate::db::PgPool,
    cutoff: chrono::DateTime<chrono::Utc>,
    limit: i64,
) -> Result<u64> {
    crate::db::purge_batch(
        pool,
        "WITH old AS (
             SELECT subject FROM auth_throttle
             WHERE updated_at < $1 AND (blocked_until IS NULL OR blocked_until < now())
             ORDER BY updated_at LIMIT $2 FOR UPDATE SKIP LOCKED)
         DELETE FROM auth_throttle t USING old WHERE t.subject = old.subject",
        cutoff,
        limit,
    )
    .await
}

/// Clears an account's count after it signed in.
pub async fn succeeded(client: &crate::db::Client, account: &Subject) -> Result<()> {
    client
        .execute(
            "DELETE FROM auth_throttle WHERE subject = $1",
            &[&account.key()],
        )
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_double_after_the_free_failures_up_to_fifteen_minutes() {
        let secs = |n| block_after(n, 5).as_secs();
        assert_eq!((secs(0), secs(5)), (0, 0));
        assert_eq!((secs(6), secs(7), secs(8), secs(15)), (1, 2, 4, 512));
        assert_eq!((secs(16), secs(100), secs(i32::MAX)), (900, 900, 900));
    }

    #[test]
    fn subjects_are_stored_as_hashes() {
        let key = Subject::Account("pat@example.com".into()).key();
        assert!(
            key.starts_with("account:") && !key.contains("pat@"),
            "{key}"
        );
        assert_ne!(
            Subject::Address("10.0.0.1".parse().unwrap()).key(),
            Subject::Registrations("10.0.0.1".parse().unwrap()).key()
        );
    }
}
