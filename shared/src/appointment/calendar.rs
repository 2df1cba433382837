//! Calendar files (iCalendar, RFC 5545) of an appointment: `GET /appointments/{id}.ics` and the
//! attachment of every confirmation and reminder. They carry the time and a link to the
//! portal, never the doctor, the type or the reason (a calendar is often shared or synced).

use icalendar::{Calendar, Component, Event, EventLike, EventStatus};

use super::{Appointment, Status};

/// The `.ics` text of `appointment`: one event with a stable `UID` and the appointment's
/// revision as `SEQUENCE`, so a calendar that imported it before replaces the old time; a
/// cancelled appointment comes as a cancellation (`METHOD:CANCEL`, `STATUS:CANCELLED`).
pub fn ics(appointment: &Appointment, portal_url: &str) -> String {
    let cancelled = appointment.status == Status::Cancelled;
    let mut event = Event::new();
    event
        .uid(&format!("{}@careflow", appointment.appointment_id))
        .sequence(appointment.revision)
        .summary("Appointment (CareFlow)")
        .description(&format!(
            "Details, changes and cancellation: {}",
            portal_url.trim_end_matches('/')
        ))
        .starts(appointment.start_time)
        .ends(appointment.end_time)
        .status(if cancelled {
            EventStatus::Cancelled
        } else {
            EventStatus::Confirmed
        });
    let mut calendar = Calendar::new();
    calendar
        .append_property(("METHOD", if cancelled { "CANCEL" } else { "PUBLISH" }))
        .push(event.done());
    calendar.done().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::appointment::AppointmentType;

    #[test]
    fn a_calendar_file_has_the_time_and_no_clinical_detail() {
        let mut appointment = Appointment {
            appointment_id: uuid::Uuid::nil(),
            patient_id: uuid::Uuid::nil(),
            doctor_id: uuid::Uuid::nil(),
            start_time: "2026-12-08T08:30:00Z".parse().unwrap(),
            end_time: "2026-12-08T09:00:00Z".parse().unwrap(),
            appointment_type: AppointmentType::LabReview,
            status: Status::Scheduled,
            reason: Some("chest pain".into()),
            created_at: "2026-12-01T08:30:00Z".parse().unwrap(),
            cancelled_at: None,
            cancel_reason: None,
            cancel_reason_code: None,
            attendance_marked_at: None,
            rescheduled_at: None,
            revision: 3,
        };
        let text = ics(&appointment, "https://portal.example/");
        for line in [
            "BEGIN:VCALENDAR",
            "METHOD:PUBLISH",
            "DTSTART:20261208T083000Z",
            "DTEND:20261208T090000Z",
            "SEQUENCE:3",
            "STATUS:CONFIRMED",
            "UID:00000000-0000-0000-0000-000000000000@careflow",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in {text}");
        }
        assert!(!text.contains("chest") && !text.contains("lab"), "{text}");
        appointment.status = Status::Cancelled;
        let text = ics(&appointment, "https://portal.example");
        assert!(text.lines().any(|l| l == "METHOD:CANCEL"), "{text}");
        assert!(text.lines().any(|l| l == "STATUS:CANCELLED"), "{text}");
    }
}
