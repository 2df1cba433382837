//! The transactional outbox: events are inserted in the same PostgreSQL transaction as the
//! change they describe, then published to Kafka and marked sent.
//!
//! Publishing claims rows with `FOR UPDATE SKIP LOCKED`, so the function that wrote an event and
//! `outbox-relay` never send the same row at the same time; rows are marked only after the broker
//! acknowledged them (idempotent producer, `acks=all`). A crash between the acknowledgement and
//! the mark can resend a row: delivery is at least once, and consumers dedupe by `event_id`.
//! A Kafka outage delays events, never loses them: they stay pending until a relay gets through.

#[cfg(feature = "kafka")]
use std::time::Duration;

#[cfg(feature = "kafka")]
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
#[cfg(feature = "kafka")]
use rdkafka::util::Timeout;
use serde::Serialize;
#[cfg(feature = "kafka")]
use uuid::Uuid;

use crate::db::{self, PgPool};
use crate::events::{Envelope, EventPayload};
#[cfg(feature = "kafka")]
use crate::kafka::KafkaConfig;
use crate::{Error, Result};

/// Inserts an event into the outbox inside the caller's transaction.
pub async fn enqueue<T: EventPayload + Serialize>(
    tx: &db::Transaction<'_>,
    topic: &str,
    key: &str,
    envelope: &Envelope<T>,
) -> Result<()> {
    let payload = serde_json::to_value(envelope).map_err(Error::internal)?;
    tx.execute(
        "INSERT INTO outbox (event_id, topic, message_key, payload) VALUES ($1, $2, $3, $4)",
        &[&envelope.event_id, &topic, &key, &payload],
    )
    .await?;
    Ok(())
}

/// Publishes pending outbox rows with an idempotent producer, built once per cold start.
#[cfg(feature = "kafka")]
#[derive(Clone)]
pub struct Publisher {
    producer: FutureProducer,
    /// How long one publish may wait for the broker before leaving rows pending.
    timeout: Duration,
}

#[cfg(feature = "kafka")]
impl Publisher {
    /// `delivery_timeout` bounds how long a publish waits for the broker (the handler's extra
    /// latency during a Kafka outage); undelivered rows stay pending for the relay.
    pub fn new(
        config: &KafkaConfig,
        delivery_timeout: Duration,
    ) -> Result<Self, rdkafka::error::KafkaError> {
        let producer: FutureProducer = config
            .client_config()
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("compression.type", "zstd")
            .set("linger.ms", "0")
            .set(
                "message.timeout.ms",
                delivery_timeout.as_millis().max(1).to_string(),
            )
            .create()?;
        Ok(Self {
            producer,
            timeout: delivery_timeout,
        })
    }

    /// The publisher a function builds at cold start: `KafkaConfig::from_vars` and
    /// `KAFKA_PUBLISH_TIMEOUT_MS` (default `default_timeout_ms`).
    pub async fn from_vars(
        vars: &crate::config::Vars,
        default_timeout_ms: u64,
    ) -> Result<Self, crate::config::ConfigError> {
        let timeout = vars.parsed_or("KAFKA_PUBLISH_TIMEOUT_MS", default_timeout_ms)?;
        Self::new(
            &KafkaConfig::from_vars(vars).await?,
            Duration::from_millis(timeout),
        )
        .map_err(|e| crate::config::ConfigError::Invalid {
            name: "KAFKA_BOOTSTRAP_SERVERS",
            message: e.to_string(),
        })
    }

    /// Publishes up to `limit` pending rows (all pending if `only` is `None`, else just those
    /// event ids) in outbox order, and marks what the broker acknowledged. Returns how many
    /// were published. Rows another publisher holds are skipped, not waited for.
    pub async fn publish_pending(
        &self,
        pool: &PgPool,
        only: Option<&[Uuid]>,
        limit: i64,
    ) -> Result<usize> {
        let mut client = db::client(pool).await?;
        let tx = client.transaction().await?;
        let rows = tx
            .query(
                "SELECT seq, event_id, topic, message_key, payload FROM outbox
                 WHERE published_at IS NULL AND ($1::uuid[] IS NULL OR event_id = ANY($1))
                 ORDER BY seq
                 LIMIT $2
                 FOR UPDATE SKIP LOCKED",
                &[&only, &limit],
            )
            .await?;
        if rows.is_empty() {
            return Ok(0);
        }
        // Send all, then wait: one round trip for the batch, order kept per key by the producer.
        let mut deliveries = Vec::with_capacity(rows.len());
        for row in &rows {
            let topic: &str = db::column(row, "topic")?;
            let key: &str = db::column(row, "message_key")?;
            let payload: serde_json::Value = db::column(row, "payload")?;
            let bytes = serde_json::to_vec(&payload).map_err(Error::internal)?;
            let event_id: Uuid = db::column(row, "event_id")?;
            let record = FutureRecord::to(topic).key(key).payload(&bytes);
            let delivery = self
                .producer
                .send_result(record)
                .map_err(|(e, _)| Error::Unavailable(Box::new(e)));
            deliveries.push((db::column::<i64>(row, "seq")?, event_id, delivery));
        }
        let mut sent: Vec<i64> = Vec::new();
        let mut failed: Vec<i64> = Vec::new();
        for (seq, event_id, delivery) in deliveries {
            let outcome = match delivery {
                Ok(future) => match future.await {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err((e, _))) => Err(e.to_string()),
                    Err(_) => Err("producer dropped the message".to_owned()),
                },
                Err(e) => Err(e.to_string()),
            };
            match outcome {
                Ok(()) => sent.push(seq),
                Err(reason) => {
                    tracing::warn!(%event_id, %reason, "outbox event not published; it stays pending");
                    failed.push(seq);
                }
            }
        }
        tx.execute(
            "UPDATE outbox SET published_at = now(), attempts = attempts + 1 WHERE seq = ANY($1)",
            &[&sent],
        )
        .await?;
        tx.execute(
            "UPDATE outbox SET attempts = attempts + 1 WHERE seq = ANY($1)",
            &[&failed],
        )
        .await?;
        tx.commit().await?;
        Ok(sent.len())
    }

    /// Waits for anything still in the producer's queue (before a Lambda freezes).
    pub fn flush(&self) {
        let _ = self.producer.flush(Timeout::After(self.timeout));
    }
}

/// Deletes up to `limit` events published before `cutoff`, oldest first, and returns how
/// many. Pending events are never deleted. Rows another purge holds are skipped.
pub async fn purge_published(
    pool: &PgPool,
    cutoff: chrono::DateTime<chrono::Utc>,
    limit: i64,
) -> Result<u64> {
    db::purge_batch(
        pool,
        "WITH old AS (
             SELECT seq FROM outbox WHERE published_at < $1
             ORDER BY published_at LIMIT $2 FOR UPDATE SKIP LOCKED)
         DELETE FROM outbox o USING old WHERE o.seq = old.seq",
        cutoff,
        limit,
    )
    .await
}

/// Counts rows still waiting to be published.
pub async fn pending(pool: &PgPool) -> Result<i64> {
    let client = db::client(pool).await?;
    Ok(client
        .query_one(
            "SELECT count(*) FROM outbox WHERE published_at IS NULL",
            &[],
        )
        .await?
        .get(0))
}
