//! The billing consumer: a Lambda triggered by the Kafka event source mapping of the
//! `appointments` topic (Confluent Cloud as a self-managed Kafka source, or MSK).
//!
//! Each record is applied in its own PostgreSQL transaction that also records its `event_id`,
//! so redelivery in any batch changes nothing; batches, poison records and partial batch
//! responses are handled by `careflow::lambda_kafka` (template.yaml turns
//! `ReportBatchItemFailures` on; `BILLING_PARTIAL_BATCH_RESPONSE` must match).

use aws_lambda_events::kafka::KafkaEvent;
use careflow::Result;
use careflow::billing::BillingSettings;
use careflow::billing::service::Billing;
use careflow::config::{ConfigError, Vars};
use careflow::db::DbConfig;
use careflow::lambda_kafka::{BatchResponse, handle_batch};

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

    /// The database, tax and due-date settings and `BILLING_PARTIAL_BATCH_RESPONSE`, which must
    /// match the event source mapping's `FunctionResponseTypes` (template.yaml).
    pub async fn from_vars(vars: Vars) -> std::result::Result<Self, ConfigError> {
        let pool = DbConfig::from_vars(&vars).await?.pool()?;
        Ok(Self::new(
            Billing::new(pool, BillingSettings::from_vars(&vars)?),
            vars.parsed_or("BILLING_PARTIAL_BATCH_RESPONSE", true)?,
        ))
    }

    pub async fn handle(&self, event: KafkaEvent) -> Result<BatchResponse> {
        handle_batch(
            event,
            self.partial_batch_response,
            self.billing.pool(),
            |value| async move {
                let applied = self.billing.apply(&value).await?;
                tracing::info!(outcome = ?applied, "appointment event applied");
                Ok(())
            },
        )
        .await
    }
}
