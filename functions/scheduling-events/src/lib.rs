//! `scheduling-events`: the appointments' side effects that happen after the fact.
//!
//! Invoked two ways (one function, one role: both need the same database, SES and scheduler
//! rights):
//! - by the Kafka event source mapping of the topic `appointments` (its own consumer group):
//!   each record syncs the appointment's reminder schedules, sends the patient's confirmation
//!   (booked, moved, cancelled) and offers a freed time to the waitlist, exactly once per event
//!   (`careflow::appointment::notify`); batches, poison records and partial batch responses as
//!   for billing (`careflow::lambda_kafka`);
//! - by EventBridge Scheduler with a [`Timer`] as input: a one-time reminder schedule, or the
//!   recurring waitlist sweep (expired holds pass to the next patient).

use aws_lambda_events::kafka::KafkaEvent;
use careflow::appointment::notify::{Notifier, Timer};
use careflow::config::{ConfigError, Vars};
use careflow::lambda_kafka::{BatchResponse, handle_batch};
use careflow::{Error, Result};
use serde::Serialize;

pub struct SchedulingEvents {
    notifier: Notifier,
    partial_batch_response: bool,
}

/// What one invocation answers: a Kafka batch's partial batch response, or a timer's summary.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Answer {
    Batch(BatchResponse),
    Timer {
        sent: Vec<&'static str>,
        offers: usize,
    },
}

impl SchedulingEvents {
    pub fn new(notifier: Notifier, partial_batch_response: bool) -> Self {
        Self {
            notifier,
            partial_batch_response,
        }
    }

    /// [`Notifier::from_vars`] and `SCHEDULING_PARTIAL_BATCH_RESPONSE`, which must match the
    /// event source mapping's `FunctionResponseTypes` (template.yaml).
    pub async fn from_vars(vars: Vars) -> std::result::Result<Self, ConfigError> {
        Ok(Self::new(
            Notifier::from_vars(&vars).await?,
            vars.parsed_or("SCHEDULING_PARTIAL_BATCH_RESPONSE", true)?,
        ))
    }

    pub fn notifier(&self) -> &Notifier {
        &self.notifier
    }

    /// Either kind of invocation, told apart by shape: a Kafka event has `eventSource` and
    /// `records`; a timer has `timer`.
    pub async fn handle(&self, event: serde_json::Value) -> Result<Answer> {
        if event.get("timer").is_some() {
            let timer: Timer = serde_json::from_value(event)
                .map_err(|e| Error::invalid("timer", e.to_string()))?;
            return self.fire(&timer).await;
        }
        let event: KafkaEvent =
            serde_json::from_value(event).map_err(|e| Error::invalid("event", e.to_string()))?;
        self.handle_kafka(event).await.map(Answer::Batch)
    }

    pub async fn handle_kafka(&self, event: KafkaEvent) -> Result<BatchResponse> {
        handle_batch(
            event,
            self.partial_batch_response,
            self.notifier.pool(),
            |value| async move {
                let outcome = self.notifier.apply(&value).await?;
                tracing::info!(sent = ?outcome.sent, offers = outcome.offers.len(), "appointment event applied");
                Ok(())
            },
        )
        .await
    }

    pub async fn fire(&self, timer: &Timer) -> Result<Answer> {
        let outcome = self.notifier.fire(timer).await?;
        tracing::info!(sent = ?outcome.sent, offers = outcome.offers.len(), "timer fired");
        Ok(Answer::Timer {
            sent: outcome.sent,
            offers: outcome.offers.len(),
        })
    }
}
