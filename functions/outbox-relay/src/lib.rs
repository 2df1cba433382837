//! Scheduled (every minute): publishes outbox events still pending because Kafka was
//! unreachable when they were written. Rows are claimed with SKIP LOCKED, so overlapping runs
//! and the writing functions never send one row twice at the same time.

use std::time::{Duration, Instant};

use careflow::Result;
use careflow::db::PgPool;
use careflow::outbox::{self, Publisher};
use serde::Serialize;

/// Rows per batch; a run keeps going until nothing is pending or its time budget is spent.
const BATCH: i64 = 500;

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct RelayReport {
    pub published: usize,
    pub pending: i64,
}

pub struct OutboxRelay {
    pool: PgPool,
    publisher: Publisher,
    budget: Duration,
}

impl OutboxRelay {
    /// `budget`: stop starting new batches after this long (below the Lambda timeout).
    pub fn new(pool: PgPool, publisher: Publisher, budget: Duration) -> Self {
        Self {
            pool,
            publisher,
            budget,
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
        tracing::info!(published, pending, "outbox relay run");
        Ok(RelayReport { published, pending })
    }
}
