//! `AppointmentCreated`, `AppointmentRescheduled` and `AppointmentCancelled` (topic
//! `appointments`, key = doctor id).
//!
//! Payloads carry what billing and analytics need (ids, type, times, duration) and no clinical
//! text: the booking's free-text reason stays in the appointments database.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{DecodeError, EventPayload, RawEnvelope, payload};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppointmentCreated {
    pub appointment_id: Uuid,
    pub patient_id: Uuid,
    pub doctor_id: Uuid,
    /// e.g. `consultation`, `follow_up`, `lab_review`: the fee schedule's key.
    pub appointment_type: String,
    pub start_time: DateTime<Utc>,
    pub end_time: DateTime<Utc>,
    pub duration_minutes: u32,
}

impl EventPayload for AppointmentCreated {
    const TYPE: &'static str = "AppointmentCreated";
    const VERSION: u32 = 1;
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppointmentCancelled {
    pub appointment_id: Uuid,
    pub patient_id: Uuid,
    pub doctor_id: Uuid,
    pub appointment_type: String,
    pub start_time: DateTime<Utc>,
    pub end_time: DateTime<Utc>,
    pub duration_minutes: u32,
    /// `patient`, `doctor` or `admin`.
    pub cancelled_by: String,
    /// `patient`, `clinic`, `illness` or `other` (absent in events from before reason codes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_code: Option<String>,
}

impl EventPayload for AppointmentCancelled {
    const TYPE: &'static str = "AppointmentCancelled";
    const VERSION: u32 = 1;
}

/// An appointment moved to another time (same doctor, patient and type, so the same price).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppointmentRescheduled {
    pub appointment_id: Uuid,
    pub patient_id: Uuid,
    pub doctor_id: Uuid,
    pub appointment_type: String,
    pub previous_start_time: DateTime<Utc>,
    pub previous_end_time: DateTime<Utc>,
    pub start_time: DateTime<Utc>,
    pub end_time: DateTime<Utc>,
    pub duration_minutes: u32,
    /// Counts the appointment's changes (1 when booked): of two moves delivered out of order,
    /// consumers keep the higher.
    pub revision: u32,
    /// `patient`, `doctor` or `admin`.
    pub rescheduled_by: String,
}

impl EventPayload for AppointmentRescheduled {
    const TYPE: &'static str = "AppointmentRescheduled";
    const VERSION: u32 = 1;
}

/// What the doctor or an admin recorded after an appointment's start: the payload of
/// [`AppointmentAttended`] and [`AppointmentNoShow`], which differ only in their type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttendanceRecorded {
    pub appointment_id: Uuid,
    pub patient_id: Uuid,
    pub doctor_id: Uuid,
    pub appointment_type: String,
    pub start_time: DateTime<Utc>,
    pub end_time: DateTime<Utc>,
    pub duration_minutes: u32,
    /// `doctor` or `admin`.
    pub marked_by: String,
}

/// The patient came.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AppointmentAttended(pub AttendanceRecorded);

impl EventPayload for AppointmentAttended {
    const TYPE: &'static str = "AppointmentAttended";
    const VERSION: u32 = 1;
}

/// The patient did not come.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AppointmentNoShow(pub AttendanceRecorded);

impl EventPayload for AppointmentNoShow {
    const TYPE: &'static str = "AppointmentNoShow";
    const VERSION: u32 = 1;
}

/// Any event of the `appointments` topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppointmentEvent {
    Created(AppointmentCreated),
    Rescheduled(AppointmentRescheduled),
    Cancelled(AppointmentCancelled),
    Attended(AppointmentAttended),
    NoShow(AppointmentNoShow),
}

impl AppointmentEvent {
    /// Dispatches on `type` and `version`; unknown combinations are refused, not guessed.
    pub fn from_envelope(raw: &RawEnvelope) -> Result<Self, DecodeError> {
        match (raw.event_type.as_str(), raw.version) {
            (AppointmentCreated::TYPE, AppointmentCreated::VERSION) => {
                payload(raw).map(Self::Created)
            }
            (AppointmentRescheduled::TYPE, AppointmentRescheduled::VERSION) => {
                payload(raw).map(Self::Rescheduled)
            }
            (AppointmentCancelled::TYPE, AppointmentCancelled::VERSION) => {
                payload(raw).map(Self::Cancelled)
            }
            (AppointmentAttended::TYPE, AppointmentAttended::VERSION) => {
                payload(raw).map(Self::Attended)
            }
            (AppointmentNoShow::TYPE, AppointmentNoShow::VERSION) => payload(raw).map(Self::NoShow),
            (event_type, version) => Err(DecodeError::Unknown {
                event_type: event_type.to_owned(),
                version,
            }),
        }
    }

    pub fn appointment_id(&self) -> Uuid {
        match self {
            Self::Created(e) => e.appointment_id,
            Self::Rescheduled(e) => e.appointment_id,
            Self::Cancelled(e) => e.appointment_id,
            Self::Attended(AppointmentAttended(e)) | Self::NoShow(AppointmentNoShow(e)) => {
                e.appointment_id
            }
        }
    }

    pub fn doctor_id(&self) -> Uuid {
        match self {
            Self::Created(e) => e.doctor_id,
            Self::Rescheduled(e) => e.doctor_id,
            Self::Cancelled(e) => e.doctor_id,
            Self::Attended(AppointmentAttended(e)) | Self::NoShow(AppointmentNoShow(e)) => {
                e.doctor_id
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::decode_envelope;
    use super::*;

    fn created() -> AppointmentCreated {
        let start = "2026-12-01T09:00:00Z".parse().unwrap();
        AppointmentCreated {
            appointment_id: Uuid::new_v4(),
            patient_id: Uuid::new_v4(),
            doctor_id: Uuid::new_v4(),
            appointment_type: "consultation".into(),
            start_time: start,
            end_time: "2026-12-01T09:30:00Z".parse().unwrap(),
            duration_minutes: 30,
        }
    }

    #[test]
    fn round_trip_through_the_envelope() {
        let envelope = created().envelope(Utc::now());
        let bytes = serde_json::to_vec(&envelope).unwrap();
        let raw = decode_envelope(&bytes).unwrap();
        assert_eq!(raw.event_id, envelope.event_id);
        assert_eq!(
            AppointmentEvent::from_envelope(&raw).unwrap(),
            AppointmentEvent::Created(envelope.data)
        );
    }

    #[test]
    fn unknown_versions_and_bad_payloads_are_refused() {
        let mut raw =
            decode_envelope(&serde_json::to_vec(&created().envelope(Utc::now())).unwrap()).unwrap();
        raw.version = 2;
        assert!(matches!(
            AppointmentEvent::from_envelope(&raw),
            Err(DecodeError::Unknown { .. })
        ));
        raw.version = 1;
        raw.data["duration_minutes"] = serde_json::json!("thirty");
        assert!(matches!(
            AppointmentEvent::from_envelope(&raw),
            Err(DecodeError::InvalidPayload { .. })
        ));
        assert!(matches!(
            decode_envelope(b"{\"nope\":1}"),
            Err(DecodeError::Malformed(_))
        ));
    }
}
