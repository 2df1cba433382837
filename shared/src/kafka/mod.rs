//! Kafka: client configuration (local brokers and Confluent Cloud) and the in-process mock
//! cluster used by the local runner and the tests.

pub mod mock;

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;

/// The topics CareFlow uses, with their partition counts for local brokers.
pub const TOPICS: &[(&str, i32)] = &[("appointments", 3), ("analytics-results", 3)];

/// Creates `TOPICS` on a broker, leaving existing ones alone.
pub async fn ensure_topics(bootstrap_servers: &str) -> Result<(), rdkafka::error::KafkaError> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap_servers)
        .create()?;
    let topics: Vec<NewTopic> = TOPICS
        .iter()
        .map(|(name, partitions)| NewTopic::new(name, *partitions, TopicReplication::Fixed(1)))
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    for result in admin.create_topics(&topics, &options).await? {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(rdkafka::error::KafkaError::AdminOp(code)).inspect_err(|_| {
                    tracing::error!(%topic, "cannot create topic");
                });
            }
        }
    }
    Ok(())
}
