//! Consuming a Lambda Kafka event (self-managed Kafka or MSK event source mapping), the same way
//! for every Kafka-triggered function.
//!
//! Records come grouped by `topic-partition`, keys and values base64-encoded. Partitions are
//! independent; within one, records are applied in offset order. A record that can never be
//! applied (poison) is stored in `failed_events` with its reason and raw bytes and the batch goes
//! on. A transient failure stops its partition at that record: with partial batch responses on
//! (`ReportBatchItemFailures`) it is reported in `batchItemFailures`, so only it and the records
//! after it in that partition are retried; with them off the invocation fails and the whole batch
//! is retried, which the consumers' idempotency makes safe.

use std::future::Future;

use aws_lambda_events::kafka::{KafkaEvent, KafkaRecord};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;

use crate::db::{self, PgPool};
use crate::{Error, Result};

pub use crate::events::ApplyError;

/// The partial batch response of a Kafka event source mapping.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct BatchResponse {
    pub batch_item_failures: Vec<BatchItemFailure>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct BatchItemFailure {
    pub item_identifier: ItemIdentifier,
}

/// Where to resume: the `topic-partition` key of the event and the first offset to retry.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct ItemIdentifier {
    pub partition: String,
    pub offset: i64,
}

/// Applies every record of `event` with `apply` (given the decoded value bytes).
pub async fn handle_batch<F, Fut>(
    event: KafkaEvent,
    partial_batch_response: bool,
    pool: &PgPool,
    apply: F,
) -> Result<BatchResponse>
where
    F: Fn(Vec<u8>) -> Fut,
    Fut: Future<Output = Result<(), ApplyError>>,
{
    let mut response = BatchResponse::default();
    let mut partitions: Vec<(String, Vec<KafkaRecord>)> = event.records.into_iter().collect();
    partitions.sort_by(|a, b| a.0.cmp(&b.0));
    for (key, mut records) in partitions {
        records.sort_by_key(|r| r.offset);
        for record in &records {
            if let Err(e) = process(&key, record, pool, &apply).await {
                tracing::warn!(partition = %key, offset = record.offset, error = %e.safe_description(), "record not applied; it will be retried");
                if !partial_batch_response {
                    return Err(e);
                }
                response.batch_item_failures.push(BatchItemFailure {
                    item_identifier: ItemIdentifier {
                        partition: key.clone(),
                        offset: record.offset,
                    },
                });
                break; // Later records of this partition wait, to keep their order.
            }
        }
    }
    Ok(response)
}

/// One record: `Err` only for transient failures; poison is stored and counts as done.
async fn process<F, Fut>(
    partition_key: &str,
    record: &KafkaRecord,
    pool: &PgPool,
    apply: &F,
) -> Result<()>
where
    F: Fn(Vec<u8>) -> Fut,
    Fut: Future<Output = Result<(), ApplyError>>,
{
    let topic = record
        .topic
        .clone()
        .or_else(|| partition_key.rsplit_once('-').map(|(t, _)| t.to_owned()))
        .unwrap_or_default();
    let key = record.key.as_deref().and_then(|k| STANDARD.decode(k).ok());
    let raw = record.value.as_ref().map(|v| v.as_bytes().to_vec());
    let value = match record.value.as_deref().map(|v| STANDARD.decode(v)) {
        Some(Ok(bytes)) => bytes,
        Some(Err(_)) => {
            return store_failed(
                pool,
                &topic,
                record,
                key.as_deref(),
                raw.as_deref(),
                "value is not base64",
            )
            .await;
        }
        None => {
            return store_failed(
                pool,
                &topic,
                record,
                key.as_deref(),
                None,
                "record has no value",
            )
            .await;
        }
    };
    match apply(value.clone()).await {
        Ok(()) => Ok(()),
        Err(ApplyError::Poison(reason)) => {
            store_failed(pool, &topic, record, key.as_deref(), Some(&value), &reason).await
        }
        Err(ApplyError::Transient(e)) => Err(e),
    }
}

/// Stores a record that can never be applied; idempotent per (topic, partition, offset).
async fn store_failed(
    pool: &PgPool,
    topic: &str,
    record: &KafkaRecord,
    key: Option<&[u8]>,
    payload: Option<&[u8]>,
    reason: &str,
) -> Result<()> {
    tracing::warn!(%topic, partition = record.partition, offset = record.offset, %reason, "poison record stored");
    let partition =
        i32::try_from(record.partition).map_err(|_| Error::internal("partition out of range"))?;
    let client = db::client(pool).await?;
    client
        .execute(
            "INSERT INTO failed_events (topic, partition, \"offset\", record_key, payload, reason)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (topic, partition, \"offset\") DO NOTHING",
            &[&topic, &partition, &record.offset, &key, &payload, &reason],
        )
        .await?;
    Ok(())
}
