//! Scheduled (every minute): publishes outbox events still pending because Kafka was
//! unreachable when they were written. Rows are claimed with SKIP LOCKED, so overlapping runs
//! and the writing functions never send one row twice at the same time.
//!
//! Each run also deletes what nothing needs any more, a batch at a time within its budget:
//! events published longer ago than the retention (kept a while for tracing a delivery), and
//! Idempotency-Key records older than their time to live, and the waitlist's and the
//! notifications' rows finished a month ago. Without it these tables only grow.

use careflow::config::Vars;
use std::time::{Duration, Instant};

use careflow::Result;
use careflow::appointment::idempotency::purge_idempotency_keys;
use careflow::appointment::retention;
use careflow::auth::throttle;
use careflow::db::PgPool;
use careflow::outbox::{self, Publisher};
use chrono::Utc;
use serde::Serialize;

/// Rows per batch; a run keeps going until nothing is pending or its time budget is spent.
const BATCH: i64 = 500;
/// Rows deleted per statement: short transactions, no long locks.
const PURGE_BATCH: i64 = 1_000;

/// How long finished rows are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Published outbox events (`OUTBOX_RETENTION_HOURS`, default 168: a week).
    pub published_events: chrono::Duration,
    /// Idempotency-Key records (`IDEMPOTENCY_KEY_TTL_HOURS`, default 24): a retry presenting a
    /// key older than this is treated as a new request.
    pub idempotency_keys: chrono::Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            published_events: chrono::Duration::hours(168),
            idempotency_keys: chrono::Duration::hours(24),
        }
    }
}

impl Retention {
    pub fn from_vars(vars: &Vars) -> std::result::Result<Self, careflow::config::ConfigError> {
        let hours = |name, default: u32| {
            vars.parsed_or(name, default).and_then(|h| {
                if h == 0 {
                    Err(careflow::config::ConfigError::Invalid {
                        name,
                        message: "must be at least 1 hour".into(),
                    })
                } else {
                    Ok(chrono::Duration::hours(i64::from(h)))
                }
            })
        };
        Ok(Self {
            published_events: hours("OUTBOX_RETENTION_HOURS", 168)?,
            idempotency_keys: hours("IDEMPOTENCY_KEY_TTL_HOURS", 24)?,
        })
    }
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct RelayReport {
    pub published: usize,
    pub pending: i64,
    pub purged_events: u64,
    pub purged_idempotency_keys: u64,
    /// Abuse-limit rows of subjects quiet for a day ([`careflow::auth::throttle`]).
    pub purged_throttle_entries: u64,
    /// Registrations whose link expired unused, and expired second-factor challenges.
    pub purged_registrations: u64,
    pub purged_challenges: u64,
    /// Waitlist rows and sent-message records finished a month ago
    /// ([`careflow::appointment::retention`]).
    pub purged_waitlist: u64,
    pub purged_notifications: u64,
}

pub struct OutboxRelay {
    pool: PgPool,
    publisher: Publisher,
    budget: Duration,
    retention: Retention,
}

impl OutboxRelay {
    /// The database, the Kafka publisher (waiting `KAFKA_PUBLISH_TIMEOUT_MS`, 10 s by default),
    /// `RELAY_BUDGET_SECONDS` (45) of each run, and the retention of [`Retention::from_vars`].
    pub async fn from_vars(vars: Vars) -> std::result::Result<Self, careflow::config::ConfigError> {
        let pool = careflow::db::DbConfig::from_vars(&vars).await?.pool()?;
        let publisher = careflow::outbox::Publisher::from_vars(&vars, 10_000).await?;
        let budget = vars.parsed_or("RELAY_BUDGET_SECONDS", 45u64)?;
        Ok(Self::new(
            pool,
            publisher,
            std::time::Duration::from_secs(budget),
            Retention::from_vars(&vars)?,
        ))
    }

    /// `budget`: stop starting new batches after this long (below the Lambda timeout).
    pub fn new(pool: PgPool, publisher: Publisher, budget: Duration, retention: Retention) -> Self {
        Self {
            pool,
            publisher,
            budget,
            retention,
        }
    }

    pub async fn run(&self) -> Result<RelayReport> {
        let started = Instant::now();
        let mut published = 0;
        while started.elapsed() < self.budget {
            let sent = self
                .publisher
                .publish_pending(&self.pool, None, BATCH)
                .await?;
            published += sent;
            if sent == 0 {
                break;
            }
        }
        let pending = outbox::pending(&self.pool).await?;
        // Publishing comes first: housekeeping only gets the time left over.
        let now = Utc::now();
        let purged_events = self
            .purge(
                |limit| {
                    outbox::purge_published(
                        &self.pool,
                        now - self.retention.published_events,
                        limit,
                    )
                },
                started,
            )
            .await?;
        let purged_idempotency_keys = self
            .purge(
                |limit| {
                    purge_idempotency_keys(&self.pool, now - self.retention.idempotency_keys, limit)
                },
                started,
            )
            .await?;
        let purged_throttle_entries = self
            .purge(
                |limit| throttle::purge_stale(&self.pool, now - throttle::FORGET_AFTER, limit),
                started,
            )
            .await?;
        let purged_registrations = self
            .purge(
                |limit| throttle::purge_expired_registrations(&self.pool, now, limit),
                started,
            )
            .await?;
        let purged_challenges = self
            .purge(
                |limit| throttle::purge_expired_challenges(&self.pool, now, limit),
                started,
            )
            .await?;
        let finished = now - retention::FINISHED_ROWS_KEPT;
        let purged_waitlist = self
            .purge(
                |limit| retention::purge_waitlist(&self.pool, finished, limit),
                started,
            )
            .await?;
        let purged_notifications = self
            .purge(
                |limit| retention::purge_notifications(&self.pool, finished, limit),
                started,
            )
            .await?;
        tracing::info!(
            published,
            pending,
            purged_events,
            purged_idempotency_keys,
            purged_throttle_entries,
            purged_registrations,
            purged_challenges,
            purged_waitlist,
            purged_notifications,
            "outbox relay run"
        );
        Ok(RelayReport {
            published,
            pending,
            purged_events,
            purged_idempotency_keys,
            purged_throttle_entries,
            purged_registrations,
            purged_challenges,
            purged_waitlist,
            purged_notifications,
        })
    }

    /// Runs `delete` batch by batch until a batch comes back short or the budget is spent.
    async fn purge<F, Fut>(&self, delete: F, started: Instant) -> Result<u64>
    where
        F: Fn(i64) -> Fut,
        Fut: std::future::Future<Output = Result<u64>>,
    {
        let mut total = 0;
        while started.elapsed() < self.budget {
            let deleted = delete(PURGE_BATCH).await?;
            total += deleted;
            if deleted < PURGE_BATCH as u64 {
                break;
            }
        }
        Ok(total)
    }
}
