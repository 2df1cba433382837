//! The billing consumer: a Lambda triggered by the Kafka event source mapping of the
//! `appointments` topic (Confluent Cloud as a self-managed Kafka source, or MSK).
//!
//! Records come grouped by `topic-partition`, keys and values base64-encoded. Each record is
//! applied in its own PostgreSQL transaction that also records its `event_id`, so redelivery in
//! any batch changes nothing. Records that can never be applied (undecodable, unknown type or
//! version, invalid, no fee) are stored in `failed_events` with the reason and raw bytes, and the
//! batch goes on. A transient failure (the database is down) stops that partition at that
//! record: with partial batch responses on (`ReportBatchItemFailures`, the mode template.yaml
//! configures) it is reported in `batchItemFailures` so only it and what follows it in that
//! partition are retried; with them off, the invocation fails and the event source retries the
//! whole batch, which idempotency makes safe.

use aws_lambda_events::kafka::{KafkaEvent, KafkaRecord};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use careflow::billing::service::{ApplyError, Billing, store_failed};
use careflow::{Error, Result};
use serde::Serialize;

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

pub struct BillingConsumer {
    billing: Billing,
    partial_batch_response: bool,
}

impl BillingConsumer {
    pub fn new(billing: Billing, partial_batch_response: bool) -> Self {
        Self {
            billing,
            partial_batch_response,
        }
    }

    pub async fn handle(&self, event: KafkaEvent) -> Result<BatchResponse> {
        let mut response = BatchResponse::default();
        let mut partitions: Vec<(String, Vec<KafkaRecord>)> = event.records.into_iter().collect();
        partitions.sort_by(|a, b| a.0.cmp(&b.0));
        for (key, mut records) in partitions {
            records.sort_by_key(|r| r.offset);
            for record in &records {
                if let Err(e) = self.process(&key, record).await {
                    tracing::warn!(partition = %key, offset = record.offset, error = %e.safe_description(), "record not applied; will be retried");
                    if !self.partial_batch_response {
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

    /// Applies one record. `Err` only for transient failures; poison is stored and succeeds.
    async fn process(&self, partition_key: &str, record: &KafkaRecord) -> Result<()> {
        let topic = record
            .topic
            .clone()
            .or_else(|| partition_key.rsplit_once('-').map(|(t, _)| t.to_owned()))
            .unwrap_or_default();
        let key = record.key.as_deref().and_then(|k| STANDARD.decode(k).ok());
        let value = match record.value.as_deref().map(|v| STANDARD.decode(v)) {
            Some(Ok(bytes)) => bytes,
            Some(Err(_)) => {
                return self
                    .poison(&topic, record, key.as_deref(), None, "value is not base64")
                    .await;
            }
            None => {
                return self
                    .poison(&topic, record, key.as_deref(), None, "record has no value")
                    .await;
            }
        };
        match self.billing.apply(&value).await {
            Ok(applied) => {
                tracing::info!(partition = %partition_key, offset = record.offset, outcome = ?applied, "record applied");
                Ok(())
            }
            Err(ApplyError::Poison(reason)) => {
                self.poison(&topic, record, key.as_deref(), Some(&value), &reason)
                    .await
            }
            Err(ApplyError::Transient(e)) => Err(e),
        }
    }

    async fn poison(
        &self,
        topic: &str,
        record: &KafkaRecord,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        reason: &str,
    ) -> Result<()> {
        tracing::warn!(%topic, partition = record.partition, offset = record.offset, %reason, "poison record stored");
        let partition = i32::try_from(record.partition)
            .map_err(|_| Error::internal("partition out of range"))?;
        let raw = value
            .map(<[u8]>::to_vec)
            .or_else(|| record.value.as_ref().map(|v| v.as_bytes().to_vec()));
        store_failed(
            self.billing.pool(),
            topic,
            partition,
            record.offset,
            key,
            raw.as_deref(),
            reason,
        )
        .await
    }
}
