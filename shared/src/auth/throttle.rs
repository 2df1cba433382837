//! Abuse limits on the endpoints anyone can call without a token: login, refresh,
//! registration and second-factor codes. Kept in PostgreSQL (`auth_throttle`) so they hold across Lambda instances.
//!
//! Each attempt names its subjects: the account it is for (login) and the client address it
//! comes from. A subject's first `free` failures cost nothing; after that each failure blocks it
//! for twice as long as the one before, from one second up to fifteen minutes. While a subject
//! is blocked, attempts are refused with 429 and `Retry-After` before any password is checked,
//! so a blocked guesser learns nothing and costs no hashing. An attempt is counted before it is
//! verified (concurrent guesses cannot outrun the count) and a success gives it back; a success
//! clears the account's count, never the address's earlier failures (one right guess must not
//! reset a credential-stuffing address). A day without failures starts a subject's count over.

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
/// Wrong second-factor codes of one account before it is slowed down.
pub const SECOND_FACTOR_FREE_FAILURES: i32 = 5;
/// Registration mails to one address before it is slowed down (a day starts the count over).
pub const MAILBOX_FREE_MESSAGES: i32 = 5;
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
    /// An account's second-factor codes. Apart from [`Subject::Account`], so a correct
    /// password (which clears the account's count) does not reset the guessing of codes.
    SecondFactor(uuid::Uuid),
    /// Registration mails to one address (by its normalised e-mail, stored only as a hash).
    Mailbox(String),
}

impl Subject {
    /// The row key: a kind and a SHA-256 of the value, so no e-mail or address is stored.
    fn key(&self) -> String {
        let (kind, value) = match self {
            Subject::Account(email) => ("account", email.clone()),
            Subject::Address(ip) => ("address", network(*ip)),
            Subject::Registrations(ip) => ("registrations", network(*ip)),
            Subject::SecondFactor(user) => ("second-factor", user.to_string()),
            Subject::Mailbox(email) => ("mailbox", email.clone()),
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
            Subject::SecondFactor(_) => SECOND_FACTOR_FREE_FAILURES,
            Subject::Mailbox(_) => MAILBOX_FREE_MESSAGES,
        }
    }
}

/// The network an address is counted as: an IPv4 address itself; an IPv6 address's /64, which
/// one subscriber holds whole (a client rotating through its /64 is still one client).
fn network(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// Starts an attempt: counts it against each subject *before* anything is verified, in one
/// statement per subject that also sets the subject's block, so concurrent attempts cannot slip
/// past a block the others are about to earn: of any number sent at once, only the free ones
/// (and the one that sets the block) get through. A subject that is blocked is not counted and
/// the attempt is refused with 429. An attempt that then succeeds gives its count back
/// ([`succeeded`]); a failed one keeps it.
pub async fn attempt(client: &crate::db::Client, subjects: &[Subject]) -> Result<()> {
    for subject in subjects {
        let counted = client
            .query_opt(
                "INSERT INTO auth_throttle AS t (subject, failures, blocked_until, updated_at)
                 VALUES ($1, 1, NULL, now())
                 ON CONFLICT (subject) DO UPDATE SET
                     failures = CASE WHEN t.updated_at < now() - interval '1 day'
                                     THEN 1 ELSE t.failures + 1 END,
                     blocked_until = CASE
                         WHEN (CASE WHEN t.updated_at < now() - interval '1 day'
                                    THEN 1 ELSE t.failures + 1 END) > $2
                         THEN now() + make_interval(secs => least($3::float8, power(2::float8,
                             (CASE WHEN t.updated_at < now() - interval '1 day'
                                   THEN 1 ELSE t.failures + 1 END) - $2 - 1)))
                         END,
                     updated_at = now()
                 WHERE t.blocked_until IS NULL OR t.blocked_until <= now()
                 RETURNING failures",
                &[
                    &subject.key(),
                    &subject.free_failures(),
                    &(MAX_BLOCK.as_secs() as f64),
                ],
            )
            .await?;
        if counted.is_none() {
            let row = client
                .query_one(
                    "SELECT ceil(extract(epoch FROM blocked_until - now()))::bigint AS wait
                     FROM auth_throttle WHERE subject = $1",
                    &[&subject.key()],
                )
                .await?;
            let wait: Option<i64> = crate::db::column(&row, "wait")?;
            return Err(Error::TooManyRequests {
                retry_after_seconds: wait.unwrap_or(1).max(1) as u64,
            });
        }
    }
    Ok(())
}

/// Ends an attempt that succeeded: an account's count is cleared; an address gets back the
/// one [`attempt`] took (and loses a block that count alone had set), but keeps its failures.
pub async fn succeeded(client: &crate::db::Client, subjects: &[Subject]) -> Result<()> {
    for subject in subjects {
        match subject {
            Subject::Account(_) | Subject::SecondFactor(_) => {
                client
                    .execute(
                        "DELETE FROM auth_throttle WHERE subject = $1",
                        &[&subject.key()],
                    )
                    .await?;
            }
            Subject::Address(_) | Subject::Registrations(_) | Subject::Mailbox(_) => {
                client
                    .execute(
                        "UPDATE auth_throttle SET
                             failures = greatest(failures - 1, 0),
                             blocked_until = CASE WHEN failures - 1 > $2 THEN blocked_until END
                         WHERE subject = $1",
                        &[&subject.key(), &subject.free_failures()],
                    )
                    .await?;
            }
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

/// Deletes up to `limit` pending registrations whose link expired before `cutoff`
/// (outbox-relay's housekeeping; they hold a password hash and an address).
pub async fn purge_expired_registrations(
    pool: &crate::db::PgPool,
    cutoff: chrono::DateTime<chrono::Utc>,
    limit: i64,
) -> Result<u64> {
    crate::db::purge_batch(
        pool,
        "WITH old AS (
             SELECT token_hash FROM pending_registrations WHERE expires_at < $1
             ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)
         DELETE FROM pending_registrations p USING old WHERE p.token_hash = old.token_hash",
        cutoff,
        limit,
    )
    .await
}

/// Deletes up to `limit` second-factor challenges that expired before `cutoff`.
pub async fn purge_expired_challenges(
    pool: &crate::db::PgPool,
    cutoff: chrono::DateTime<chrono::Utc>,
    limit: i64,
) -> Result<u64> {
    crate::db::purge_batch(
        pool,
        "WITH old AS (
             SELECT token_hash FROM mfa_challenges WHERE expires_at < $1
             ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)
         DELETE FROM mfa_challenges c USING old WHERE c.token_hash = old.token_hash",
        cutoff,
        limit,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:1:2:3".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(Subject::Address(a).key(), Subject::Address(b).key());
        assert_ne!(Subject::Address(a).key(), Subject::Address(other).key());
        let v4: IpAddr = "203.0.113.7".parse().unwrap();
        let mapped: IpAddr = "::ffff:203.0.113.7".parse().unwrap();
        assert_eq!(Subject::Address(v4).key(), Subject::Address(mapped).key());
        assert_ne!(
            Subject::Address(v4).key(),
            Subject::Address("203.0.113.8".parse().unwrap()).key()
        );
    }
}
