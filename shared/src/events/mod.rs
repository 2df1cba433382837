//! The Kafka message schemas: one JSON envelope, typed payloads, and decoding that tells a
//! consumer exactly why a record cannot be used.
//!
//! Envelope: `{event_id, type, version, occurred_at, data}`. `event_id` is unique per event and
//! makes every consumer idempotent; `type` + `version` select the payload schema. A new,
//! incompatible payload gets a new version; consumers refuse versions they do not know (as
//! poison) rather than guess.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub mod analytics;
pub mod appointment;

pub use appointment::{
    AppointmentAttended, AppointmentCancelled, AppointmentCreated, AppointmentEvent,
    AppointmentNoShow, AppointmentRescheduled, AttendanceRecorded,
};

/// Topic names.
pub const APPOINTMENTS_TOPIC: &str = "appointments";
pub const ANALYTICS_RESULTS_TOPIC: &str = "analytics-results";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope<T> {
    pub event_id: Uuid,
    #[serde(rename = "type")]
    pub event_type: String,
    pub version: u32,
    pub occurred_at: DateTime<Utc>,
    pub data: T,
}

/// A payload that knows its envelope `type` and `version`.
pub trait EventPayload: Serialize + DeserializeOwned {
    const TYPE: &'static str;
    const VERSION: u32;

    fn envelope(self, occurred_at: DateTime<Utc>) -> Envelope<Self> {
        Envelope {
            event_id: Uuid::new_v4(),
            event_type: Self::TYPE.to_owned(),
            version: Self::VERSION,
            occurred_at,
            data: self,
        }
    }
}

/// Why a record could not be decoded. Every variant is permanent: retrying will not help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("not a CareFlow event envelope: {0}")]
    Malformed(String),
    #[error("unknown event type {event_type} version {version}")]
    Unknown { event_type: String, version: u32 },
    #[error("invalid {event_type} payload: {message}")]
    InvalidPayload { event_type: String, message: String },
}

/// The envelope with its payload still raw, to dispatch on `type` and `version`.
pub type RawEnvelope = Envelope<serde_json::Value>;

/// Parses the envelope of a record's value.
pub fn decode_envelope(bytes: &[u8]) -> Result<RawEnvelope, DecodeError> {
    serde_json::from_slice(bytes).map_err(|e| DecodeError::Malformed(e.to_string()))
}

/// Decodes the payload of a raw envelope as `T`.
pub fn payload<T: EventPayload>(raw: &RawEnvelope) -> Result<T, DecodeError> {
    serde_json::from_value(raw.data.clone()).map_err(|e| DecodeError::InvalidPayload {
        event_type: raw.event_type.clone(),
        message: e.to_string(),
    })
}

/// Why a consumer did not apply a record.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// Never applicable (undecodable, unknown, invalid): store it and move on.
    #[error("poison record: {0}")]
    Poison(String),
    /// May work later (the database is down): retry.
    #[error(transparent)]
    Transient(crate::Error),
}

impl From<crate::Error> for ApplyError {
    fn from(e: crate::Error) -> Self {
        ApplyError::Transient(e)
    }
}

#[cfg(feature = "postgres")]
impl From<tokio_postgres::Error> for ApplyError {
    fn from(e: tokio_postgres::Error) -> Self {
        ApplyError::Transient(e.into())
    }
}

impl From<DecodeError> for ApplyError {
    fn from(e: DecodeError) -> Self {
        ApplyError::Poison(e.to_string())
    }
}
