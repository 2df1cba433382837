//! The care-relationship projection: a Lambda triggered by the Kafka event source mapping of the
//! `appointments` topic (its own consumer group), writing each booking and cancellation as a
//! doctor–patient link beside the patient's records, where the policy reads it.
//!
//! Applying is idempotent and order-safe per appointment (a cancellation is kept and a
//! redelivered booking cannot undo it), so redelivery in any batch changes nothing; batches,
//! poison records and partial batch responses are handled by `careflow::lambda_kafka`
//! (`CARE_PARTIAL_BATCH_RESPONSE` must match the mapping's `FunctionResponseTypes`).

use aws_lambda_events::kafka::KafkaEvent;
use careflow::Result;
use careflow::config::{ConfigError, FromVars as _, Vars};
use careflow::db::{DbConfig, PgPool};
use careflow::events::appointment::AppointmentEvent;
use careflow::events::{RawEnvelope, decode_envelope};
use careflow::lambda_kafka::{BatchResponse, handle_batch};
use careflow::patient::care::Care;

pub struct CareRelationships {
    care: Care,
    /// Where poison records are stored (`failed_events`), as for every Kafka consumer.
    failed_events: PgPool,
    partial_batch_response: bool,
}

impl CareRelationships {
    pub fn new(care: Care, failed_events: PgPool, partial_batch_response: bool) -> Self {
        Self {
            care,
            failed_events,
            partial_batch_response,
        }
    }

    pub async fn from_vars(vars: Vars) -> std::result::Result<Self, ConfigError> {
        Ok(Self::new(
            Care::build(&vars).await?,
            DbConfig::from_vars(&vars).await?.pool()?,
            vars.parsed_or("CARE_PARTIAL_BATCH_RESPONSE", true)?,
        ))
    }

    pub async fn handle(&self, event: KafkaEvent) -> Result<BatchResponse> {
        handle_batch(
            event,
            self.partial_batch_response,
            &self.failed_events,
            |value| async move {
                let raw: RawEnvelope = decode_envelope(&value)?;
                let event = AppointmentEvent::from_envelope(&raw)?;
                let projected = self.care.project(&event).await?;
                tracing::info!(outcome = ?projected, "appointment event projected");
                Ok(())
            },
        )
        .await
    }
}
