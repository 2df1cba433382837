//! The Kafka event source mapping, locally: consumes a topic in a consumer group, hands batches
//! to the function as the Lambda Kafka event JSON AWS sends (records grouped by
//! `topic-partition`, base64 keys and values), and commits only what the function acknowledged:
//! everything, or, with a partial batch response, each partition up to its first failed record,
//! which is then consumed again. A failed invocation commits nothing and is retried.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use careflow::kafka::KafkaConfig;
use careflow::kafka::mock::MockKafka;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{Headers, OwnedMessage};
use rdkafka::{Message, Offset, TopicPartitionList};
use serde_json::{Value, json};

use crate::functions::EventFunction;

/// One `SelfManagedKafka` event source of the template.
#[derive(Debug, Clone)]
pub struct KafkaSource {
    pub bootstrap_servers: String,
    pub topic: String,
    pub group_id: String,
    pub batch_size: usize,
    /// How long to wait for a batch to fill after its first record.
    pub batching_window: Duration,
    /// The broker the stack started, when it did: held until this source's consumer has closed.
    /// Closing a consumer leaves its group, and against a broker that is already gone
    /// librdkafka waits for that forever (a stopped stack hung in its tests).
    pub broker: Option<Arc<MockKafka>>,
}

/// Largest event Lambda accepts for a synchronous invocation: an event source mapping closes a
/// batch before the records' JSON would pass it.
pub const MAX_EVENT_BYTES: usize = 6 * 1024 * 1024;

/// An upper bound on what one record adds to [`kafka_event`]'s JSON: base64 key and value,
/// headers as arrays of signed bytes (up to five characters a byte), the fixed fields.
pub fn record_event_bytes(m: &OwnedMessage) -> usize {
    let base64 = |n: usize| n.div_ceil(3) * 4;
    let headers: usize = m
        .headers()
        .map(|h| {
            h.iter()
                .map(|header| header.key.len() + 8 + 5 * header.value.map_or(0, <[u8]>::len))
                .sum()
        })
        .unwrap_or_default();
    256 + m.topic().len()
        + base64(m.key().map_or(0, <[u8]>::len))
        + base64(m.payload().map_or(0, <[u8]>::len))
        + headers
}

/// The Lambda event for a batch.
pub fn kafka_event(bootstrap_servers: &str, batch: &[OwnedMessage]) -> Value {
    let mut records: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for m in batch {
        let headers: Vec<Value> = m
            .headers()
            .map(|h| {
                h.iter()
                    .map(|header| {
                        let bytes: Vec<i8> = header
                            .value
                            .unwrap_or_default()
                            .iter()
                            .map(|b| *b as i8)
                            .collect();
                        json!({ header.key: bytes })
                    })
                    .collect()
            })
            .unwrap_or_default();
        records
            .entry(format!("{}-{}", m.topic(), m.partition()))
            .or_default()
            .push(json!({
                "topic": m.topic(),
                "partition": m.partition(),
                "offset": m.offset(),
                "timestamp": m.timestamp().to_millis().unwrap_or_default(),
                "timestampType": "CREATE_TIME",
                "key": m.key().map(|k| STANDARD.encode(k)),
                "value": m.payload().map(|v| STANDARD.encode(v)),
                "headers": headers,
            }));
    }
    json!({
        "eventSource": "SelfManagedKafka",
        "bootstrapServers": bootstrap_servers,
        "records": records,
    })
}

/// The first offset to retry per `topic-partition`, from a partial batch response.
fn failures(response: &Value) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for failure in response["batchItemFailures"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let id = &failure["itemIdentifier"];
        if let (Some(partition), Some(offset)) = (id["partition"].as_str(), id["offset"].as_i64()) {
            let entry = out.entry(partition.to_owned()).or_insert(offset);
            *entry = (*entry).min(offset);
        }
    }
    out
}

/// The source's consumer, closed on a thread of its own when the task ends (it is dropped
/// when the stack stops). Closing leaves the consumer group, and librdkafka can wait for ever
/// on a rebalance that is still under way at that moment (seen as a test process that never
/// exited): that wait must not hold a runtime thread. The broker the stack started is kept
/// until the close is done.
struct ClosedAside {
    consumer: Option<StreamConsumer>,
    broker: Option<Arc<MockKafka>>,
}

impl std::ops::Deref for ClosedAside {
    type Target = StreamConsumer;

    fn deref(&self) -> &StreamConsumer {
        self.consumer.as_ref().expect("present until dropped")
    }
}

impl Drop for ClosedAside {
    fn drop(&mut self) {
        let (consumer, broker) = (self.consumer.take(), self.broker.take());
        let closing = std::thread::Builder::new()
            .name("kafka-source-close".into())
            .spawn(move || {
                drop(consumer);
                drop(broker);
            });
        if let Err(e) = closing {
            tracing::warn!(error = %e, "kafka source: no thread to close the consumer on");
        }
    }
}

/// Runs the event source until the task is dropped.
pub async fn run(source: KafkaSource, function: EventFunction) -> anyhow::Result<()> {
    let consumer = ClosedAside {
        consumer: Some(
            KafkaConfig::plaintext(&source.bootstrap_servers)
                .client_config()
                .set("group.id", &source.group_id)
                .set("enable.auto.commit", "false")
                .set("auto.offset.reset", "earliest")
                .set("partition.assignment.strategy", "cooperative-sticky")
                .create()?,
        ),
        broker: source.broker.clone(),
    };
    consumer.subscribe(&[&source.topic])?;
    // A record that would have taken its batch past Lambda's payload limit opens the next one.
    let mut carried: Option<OwnedMessage> = None;
    loop {
        let first = match carried.take() {
            Some(m) => m,
            None => match consumer.recv().await {
                Ok(m) => m.detach(),
                Err(e) => {
                    tracing::warn!(error = %e, "kafka source: receive failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
        };
        let deadline = Instant::now() + source.batching_window;
        let mut size = 512 + record_event_bytes(&first);
        let mut batch = vec![first];
        while batch.len() < source.batch_size {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, consumer.recv()).await {
                Ok(Ok(m)) => {
                    let m = m.detach();
                    size += record_event_bytes(&m);
                    if size > MAX_EVENT_BYTES {
                        carried = Some(m);
                        break;
                    }
                    batch.push(m);
                }
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "kafka source: receive failed");
                    break;
                }
                Err(_) => break,
            }
        }
        // First and last offset per partition of this batch.
        let mut span: BTreeMap<i32, (i64, i64)> = BTreeMap::new();
        for m in &batch {
            let e = span
                .entry(m.partition())
                .or_insert((m.offset(), m.offset()));
            e.0 = e.0.min(m.offset());
            e.1 = e.1.max(m.offset());
        }
        let event = kafka_event(&source.bootstrap_servers, &batch);
        let (retry_from, failed) = match function(event).await {
            Ok(response) => (failures(&response), false),
            Err(e) => {
                tracing::warn!(error = %e.safe_description(), records = batch.len(), "kafka source: invocation failed; retrying the batch");
                (BTreeMap::new(), true)
            }
        };
        // Commit what was acknowledged; rewind what must be retried. A failed seek leaves that
        // partition uncommitted (it is redelivered); a failed commit is retried with the next
        // batch. Neither stops the source.
        let mut commit = TopicPartitionList::new();
        for (partition, (first, last)) in span {
            let key = format!("{}-{partition}", source.topic);
            let resume = if failed {
                Some(first)
            } else {
                retry_from.get(&key).copied()
            };
            let next = match resume {
                Some(offset) => {
                    if let Err(e) = consumer.seek(
                        &source.topic,
                        partition,
                        Offset::Offset(offset),
                        Duration::from_secs(5),
                    ) {
                        tracing::warn!(error = %e, partition, "kafka source: seek failed; the batch will be redelivered");
                        continue;
                    }
                    (offset > first).then_some(offset)
                }
                None => Some(last + 1),
            };
            if let Some(next) = next
                && let Err(e) =
                    commit.add_partition_offset(&source.topic, partition, Offset::Offset(next))
            {
                tracing::warn!(error = %e, partition, "kafka source: cannot record the offset");
            }
        }
        if commit.count() > 0
            && let Err(e) = consumer.commit(&commit, CommitMode::Sync)
        {
            tracing::warn!(error = %e, "kafka source: commit failed; records may be delivered again");
        }
        if failed || !retry_from.is_empty() {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::message::{Header, OwnedHeaders, Timestamp};

    /// The bound used to close batches is never below what a record really adds to the event.
    #[test]
    fn record_size_bounds_its_json_in_the_event() {
        let empty = kafka_event("b:9092", &[]).to_string().len();
        for (key, value, header) in [
            (None, Some(vec![b'x'; 0]), None),
            (
                Some(b"doctor-1".to_vec()),
                Some(vec![200u8; 100_000]),
                Some(vec![255u8; 300]),
            ),
            (Some(vec![0u8; 1]), None, Some(Vec::new())),
        ] {
            let headers = header.map(|h| {
                OwnedHeaders::new().insert(Header {
                    key: "trace",
                    value: Some(&h),
                })
            });
            let m = OwnedMessage::new(
                value,
                key,
                "appointments".into(),
                Timestamp::CreateTime(1_700_000_000_000),
                7,
                123_456_789,
                headers,
            );
            let grown = kafka_event("b:9092", std::slice::from_ref(&m))
                .to_string()
                .len()
                - empty;
            assert!(
                record_event_bytes(&m) >= grown,
                "{grown} > {}",
                record_event_bytes(&m)
            );
        }
    }
}
