//! `AppointmentCreated`, `AppointmentRescheduled` and `AppointmentCancelled` (topic
//! `appointments`, key = doctor id).
//!
//! Payloads carry what billing and analytics need (ids, type, times, duration) and no clinical
//! text: the booking's free-text reason stays in the appointments database.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use uuid::Uuid;

use super::{DecodeError, Decoded, EventPayload, EventSet, RawEnvelope};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppointmentCreated {
    pub appointment_id: Uuid,
    pub patient_id: Uuid,
    pub doctor_id: Uuid,
    /// e.g. `consultation`, `follow_up`, `lab_review`: the fee schedule's key.
    pub appointment_type: String,
    #[serde(deserialize_with = "super::time::deserialize")]
    pub start_time: DateTime<Utc>,
    #[serde(deserialize_with = "super::time::deserialize")]
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
    #[serde(deserialize_with = "super::time::deserialize")]
    pub start_time: DateTime<Utc>,
    #[serde(deserialize_with = "super::time::deserialize")]
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
    #[serde(deserialize_with = "super::time::deserialize")]
    pub previous_start_time: DateTime<Utc>,
    #[serde(deserialize_with = "super::time::deserialize")]
    pub previous_end_time: DateTime<Utc>,
    #[serde(deserialize_with = "super::time::deserialize")]
    pub start_time: DateTime<Utc>,
    #[serde(deserialize_with = "super::time::deserialize")]
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
    #[serde(deserialize_with = "super::time::deserialize")]
    pub start_time: DateTime<Utc>,
    #[serde(deserialize_with = "super::time::deserialize")]
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
        if !Self::knows(&raw.event_type, raw.version) {
            return Err(DecodeError::Unknown {
                event_type: raw.event_type.clone(),
                version: raw.version,
            });
        }
        Self::payload(&raw.event_type, raw.version, &raw.data).map_err(|e| {
            DecodeError::InvalidPayload {
                event_type: raw.event_type.clone(),
                message: e.to_string(),
            }
        })
    }

    /// Decodes a record of the `appointments` topic in one pass (see [`super::decode`]).
    pub fn decode(bytes: &[u8]) -> Result<Decoded<Self>, DecodeError> {
        super::decode(bytes)
    }

    /// The envelope `type` of this event.
    pub fn event_type(&self) -> &'static str {
        match self {
            Self::Created(_) => AppointmentCreated::TYPE,
            Self::Rescheduled(_) => AppointmentRescheduled::TYPE,
            Self::Cancelled(_) => AppointmentCancelled::TYPE,
            Self::Attended(_) => AppointmentAttended::TYPE,
            Self::NoShow(_) => AppointmentNoShow::TYPE,
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

impl EventSet for AppointmentEvent {
    fn knows(event_type: &str, version: u32) -> bool {
        matches!(
            (event_type, version),
            (AppointmentCreated::TYPE, AppointmentCreated::VERSION)
                | (
                    AppointmentRescheduled::TYPE,
                    AppointmentRescheduled::VERSION
                )
                | (AppointmentCancelled::TYPE, AppointmentCancelled::VERSION)
                | (AppointmentAttended::TYPE, AppointmentAttended::VERSION)
                | (AppointmentNoShow::TYPE, AppointmentNoShow::VERSION)
        )
    }

    fn payload<'de, D: Deserializer<'de>>(
        event_type: &str,
        version: u32,
        data: D,
    ) -> Result<Self, D::Error> {
        match (event_type, version) {
            (AppointmentCreated::TYPE, AppointmentCreated::VERSION) => {
                AppointmentCreated::deserialize(data).map(Self::Created)
            }
            (AppointmentRescheduled::TYPE, AppointmentRescheduled::VERSION) => {
                AppointmentRescheduled::deserialize(data).map(Self::Rescheduled)
            }
            (AppointmentCancelled::TYPE, AppointmentCancelled::VERSION) => {
                AppointmentCancelled::deserialize(data).map(Self::Cancelled)
            }
            (AppointmentAttended::TYPE, AppointmentAttended::VERSION) => {
                AppointmentAttended::deserialize(data).map(Self::Attended)
            }
            (AppointmentNoShow::TYPE, AppointmentNoShow::VERSION) => {
                AppointmentNoShow::deserialize(data).map(Self::NoShow)
            }
            (event_type, version) => Err(serde::de::Error::custom(format_args!(
                "unknown event type {event_type} version {version}"
            ))),
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

    /// The single-pass decoder agrees with the two-pass one on what CareFlow writes and on
    /// every way of refusing it, and is stricter in two ways nobody writes (see `decode`).
    #[test]
    fn single_pass_decode_matches_the_envelope_route() {
        let envelope = created().envelope(Utc::now());
        let bytes = serde_json::to_vec(&envelope).unwrap();
        let decoded = AppointmentEvent::decode(&bytes).unwrap();
        assert_eq!(decoded.event_id, envelope.event_id);
        assert_eq!(decoded.occurred_at, envelope.occurred_at);
        assert_eq!(
            decoded.event,
            AppointmentEvent::Created(envelope.data.clone())
        );
        assert_eq!(decoded.event.event_type(), "AppointmentCreated");

        // `data` before `type`, an unknown field and an escaped type still decode the same.
        let value = serde_json::to_value(&envelope).unwrap();
        let reordered = format!(
            r#"{{"data":{},"extra":[1,{{"a":null}}],"type":"Appointment\u0043reated","version":1,"occurred_at":{},"event_id":{}}}"#,
            value["data"], value["occurred_at"], value["event_id"]
        );
        assert_eq!(
            AppointmentEvent::decode(reordered.as_bytes()).unwrap(),
            decoded
        );

        let mut wrong = value.clone();
        wrong["version"] = serde_json::json!(2);
        assert!(matches!(
            AppointmentEvent::decode(wrong.to_string().as_bytes()),
            Err(DecodeError::Unknown { version: 2, .. })
        ));
        let mut bad = value.clone();
        bad["data"]["duration_minutes"] = serde_json::json!("thirty");
        assert!(matches!(
            AppointmentEvent::decode(bad.to_string().as_bytes()),
            Err(DecodeError::InvalidPayload { event_type, .. }) if event_type == "AppointmentCreated"
        ));
        let mut extra = value.clone();
        extra["data"]["diagnosis"] = serde_json::json!("x");
        assert!(matches!(
            AppointmentEvent::decode(extra.to_string().as_bytes()),
            Err(DecodeError::InvalidPayload { .. })
        ));
        let data_first_bad = format!(
            r#"{{"data":{},"type":"AppointmentCreated","version":1,"occurred_at":{},"event_id":{}}}"#,
            bad["data"], value["occurred_at"], value["event_id"]
        );
        assert!(matches!(
            AppointmentEvent::decode(data_first_bad.as_bytes()),
            Err(DecodeError::InvalidPayload { .. })
        ));
        // Stricter: a key twice inside `data` (ambiguous; a JSON tree kept the last) and an
        // envelope written as an array (serde's derived structs accept both).
        let data = value["data"].to_string();
        let twice_in_data = format!(
            r#"{{"event_id":{},"type":"AppointmentCreated","version":1,"occurred_at":{},"data":{{"duration_minutes":15,{}}}"#,
            value["event_id"],
            value["occurred_at"],
            &data[1..]
        );
        assert!(
            AppointmentEvent::from_envelope(&decode_envelope(twice_in_data.as_bytes()).unwrap())
                .is_ok()
        );
        assert!(matches!(
            AppointmentEvent::decode(twice_in_data.as_bytes()),
            Err(DecodeError::InvalidPayload { .. })
        ));
        let array = format!(
            r#"[{},"AppointmentCreated",1,{},{data}]"#,
            value["event_id"], value["occurred_at"]
        );
        assert!(decode_envelope(array.as_bytes()).is_ok());
        assert!(matches!(
            AppointmentEvent::decode(array.as_bytes()),
            Err(DecodeError::Malformed(_))
        ));
        let mut missing = value.clone();
        missing.as_object_mut().unwrap().remove("occurred_at");
        let twice = format!(r#"{{"version":1,{}"#, &value.to_string()[1..]);
        for malformed in [
            missing.to_string(),
            twice,
            format!("{value} trailing"),
            bytes[..bytes.len() - 1]
                .iter()
                .map(|b| *b as char)
                .collect(),
            "[]".into(),
        ] {
            assert!(
                matches!(
                    AppointmentEvent::decode(malformed.as_bytes()),
                    Err(DecodeError::Malformed(_))
                ),
                "{malformed}"
            );
            assert!(decode_envelope(malformed.as_bytes()).is_err());
        }
    }
}
