//! Appointments: booking without double-booking, cancellation, and the events they publish.
//!
//! The database enforces the rule that matters most: no two scheduled appointments of one doctor
//! (or one patient) overlap, by exclusion constraints (see `migrations/0002_appointments.sql`),
//! so concurrent bookings cannot both win. Each change writes its event to the outbox in the same
//! transaction.

use chrono::{DateTime, Duration, DurationRound, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::validate::optional_text;
use crate::{Error, Result};

#[cfg(feature = "appointments")]
pub mod availability;
#[cfg(feature = "calendar")]
pub mod calendar;
#[cfg(feature = "postgres")]
pub mod idempotency;
#[cfg(feature = "notifications")]
pub mod notify;
#[cfg(feature = "postgres")]
pub mod preferences;
#[cfg(feature = "postgres")]
pub mod retention;
#[cfg(feature = "appointments")]
pub mod schedule;
#[cfg(feature = "appointments")]
pub mod service;
#[cfg(feature = "appointments")]
pub mod waitlist;

pub const REASON_MAX: usize = 500;
/// How far ahead bookings are accepted.
pub const MAX_DAYS_AHEAD: i64 = 365;
/// Start times fall on this grid.
pub const SLOT_MINUTES: i64 = 5;

/// The kinds of appointment; each has a fixed length, and is the fee schedule's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppointmentType {
    Consultation,
    FollowUp,
    LabReview,
}

impl AppointmentType {
    pub fn duration_minutes(self) -> u32 {
        match self {
            Self::Consultation => 30,
            Self::FollowUp => 15,
            Self::LabReview => 20,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Consultation => "consultation",
            Self::FollowUp => "follow_up",
            Self::LabReview => "lab_review",
        }
    }
}

impl std::str::FromStr for AppointmentType {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        serde_json::from_value(serde_json::Value::String(s.to_owned()))
            .map_err(|_| Error::invalid("appointment_type", "unknown appointment type"))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Scheduled,
    /// Marked after its start by the doctor or an admin.
    Attended,
    NoShow,
    Cancelled,
}

/// Why an appointment was cancelled (`POST /appointments/{id}/cancel` `{reason_code}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelReason {
    /// The patient cannot come or no longer needs it.
    Patient,
    /// The clinic's side: the doctor is unavailable, a scheduling error.
    Clinic,
    /// The patient is ill.
    Illness,
    Other,
}

impl CancelReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Patient => "patient",
            Self::Clinic => "clinic",
            Self::Illness => "illness",
            Self::Other => "other",
        }
    }
}

/// What the doctor or an admin records after an appointment's start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Attendance {
    Attended,
    NoShow,
}

impl Attendance {
    pub fn status(self) -> Status {
        match self {
            Self::Attended => Status::Attended,
            Self::NoShow => Status::NoShow,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Attended => "attended",
            Self::NoShow => "no_show",
        }
    }
}

/// The body of `POST /appointments/{id}/attendance`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttendanceRequest {
    pub outcome: Attendance,
}

/// An appointment as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Appointment {
    pub appointment_id: Uuid,
    pub patient_id: Uuid,
    pub doctor_id: Uuid,
    pub start_time: DateTime<Utc>,
    pub end_time: DateTime<Utc>,
    pub appointment_type: AppointmentType,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_reason_code: Option<CancelReason>,
    /// When attendance (or a no-show) was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attendance_marked_at: Option<DateTime<Utc>>,
    /// When it was last moved to another time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rescheduled_at: Option<DateTime<Utc>>,
    /// Counts the appointment's changes (1 when booked, one more per move): a calendar
    /// file's `SEQUENCE`, and how consumers order moves.
    #[serde(default = "first_revision")]
    pub revision: u32,
}

fn first_revision() -> u32 {
    1
}

/// The body of `POST /appointments/{id}/reschedule`: the new start (same doctor and type).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RescheduleRequest {
    pub start_time: DateTime<Utc>,
}

/// The body of `POST /appointments`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BookingRequest {
    pub doctor_id: Uuid,
    pub start_time: DateTime<Utc>,
    pub appointment_type: AppointmentType,
    #[serde(default)]
    pub reason: Option<String>,
    /// Only admins book for someone else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient_id: Option<Uuid>,
}

/// A booking request that passed every check that needs no database.
#[derive(Debug, Clone)]
pub struct Booking {
    pub doctor_id: Uuid,
    pub start_time: DateTime<Utc>,
    pub end_time: DateTime<Utc>,
    pub appointment_type: AppointmentType,
    pub reason: Option<String>,
}

impl BookingRequest {
    pub fn validated(&self, now: DateTime<Utc>) -> Result<Booking> {
        let start = self.start_time;
        if start <= now {
            return Err(Error::invalid("start_time", "must be in the future"));
        }
        if start > now + Duration::days(MAX_DAYS_AHEAD) {
            return Err(Error::invalid(
                "start_time",
                format!("must be within {MAX_DAYS_AHEAD} days"),
            ));
        }
        let grid = Duration::minutes(SLOT_MINUTES);
        if start.duration_trunc(grid).ok() != Some(start) {
            return Err(Error::invalid(
                "start_time",
                format!("must fall on a {SLOT_MINUTES}-minute boundary"),
            ));
        }
        let minutes = self.appointment_type.duration_minutes();
        Ok(Booking {
            doctor_id: self.doctor_id,
            start_time: start,
            end_time: start + Duration::minutes(minutes.into()),
            appointment_type: self.appointment_type,
            reason: optional_text("reason", self.reason.as_deref(), REASON_MAX)?,
        })
    }
}

/// The optional body of a cancel: `{reason}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    #[serde(default)]
    pub reason: Option<String>,
    /// `other` when not given.
    #[serde(default)]
    pub reason_code: Option<CancelReason>,
}

/// Validates an `Idempotency-Key` header value.
pub fn idempotency_key(raw: Option<&str>) -> Result<Option<String>> {
    match raw {
        None => Ok(None),
        Some(key)
            if !key.is_empty() && key.len() <= 255 && key.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            Ok(Some(key.to_owned()))
        }
        Some(_) => Err(Error::invalid(
            "idempotency-key",
            "must be 1 to 255 visible ASCII characters",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(start: &str) -> BookingRequest {
        BookingRequest {
            doctor_id: Uuid::new_v4(),
            start_time: start.parse().unwrap(),
            appointment_type: AppointmentType::Consultation,
            reason: Some("  checkup ".into()),
            patient_id: None,
        }
    }

    #[test]
    fn bookings_are_checked_against_time_rules() {
        let now: DateTime<Utc> = "2026-11-25T10:00:00Z".parse().unwrap();
        let ok = request("2026-11-26T09:30:00Z").validated(now).unwrap();
        assert_eq!(
            ok.end_time,
            "2026-11-26T10:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(ok.reason.as_deref(), Some("checkup"));
        for (start, why) in [
            ("2026-11-25T09:00:00Z", "past"),
            ("2026-11-25T10:00:00Z", "now"),
            ("2028-01-01T09:00:00Z", "too far"),
            ("2026-11-26T09:31:00Z", "off grid"),
            ("2026-11-26T09:30:30Z", "seconds"),
        ] {
            let err = request(start).validated(now).unwrap_err();
            assert_eq!(err.problem().field.as_deref(), Some("start_time"), "{why}");
        }
        assert_eq!(AppointmentType::FollowUp.duration_minutes(), 15);
        assert_eq!(
            "lab_review".parse::<AppointmentType>().unwrap(),
            AppointmentType::LabReview
        );
    }

    #[test]
    fn idempotency_keys() {
        assert_eq!(idempotency_key(None).unwrap(), None);
        assert!(idempotency_key(Some("abc-123")).unwrap().is_some());
        assert!(idempotency_key(Some("")).is_err());
        assert!(idempotency_key(Some("has space")).is_err());
        assert!(idempotency_key(Some(&"x".repeat(256))).is_err());
    }
}
