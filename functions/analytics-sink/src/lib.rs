//! The analytics sink: a Lambda triggered by the Kafka event source mapping of
//! `analytics-results`, keeping the latest result per (window, partition, dimension) key in
//! PostgreSQL for `analytics-per-minute`. Results are deterministic, so storing is an idempotent
//! upsert; batches, poison records and partial batch responses are handled by
//! `careflow::lambda_kafka`.

use aws_lambda_events::kafka::KafkaEvent;
use careflow::Result;
use careflow::analytics::AnalyticsStore;
use careflow::config::{ConfigError, Vars};
use careflow::db::DbConfig;
use careflow::lambda_kafka::{BatchResponse, handle_batch};

pub struct AnalyticsSink {
    store: AnalyticsStore,
    partial_batch_response: bool,
}

impl AnalyticsSink {
    pub fn new(store: AnalyticsStore, partial_batch_response: bool) -> Self {
        Self {
            store,
            partial_batch_response,
        }
    }

    /// The database and `PARTIAL_BATCH_RESPONSE`, which must match the event source mapping's
    /// `FunctionResponseTypes` (template.yaml).
    pub async fn from_vars(vars: Vars) -> std::result::Result<Self, ConfigError> {
        let pool = DbConfig::from_vars(&vars).await?.pool()?;
        Ok(Self::new(
            AnalyticsStore::new(pool),
            vars.parsed_or("PARTIAL_BATCH_RESPONSE", true)?,
        ))
    }

    pub async fn handle(&self, event: KafkaEvent) -> Result<BatchResponse> {
        handle_batch(
            event,
            self.partial_batch_response,
            self.store.pool(),
            |value| async move { self.store.apply(&value).await },
        )
        .await
    }
}
