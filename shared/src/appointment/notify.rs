//! Confirmations, reminders and waitlist offers (the `scheduling-events` function).
//!
//! From the `appointments` topic: every event makes the appointment's reminder schedules match
//! the appointment as it is now (EventBridge Scheduler one-time schedules 24 h and 2 h before
//! the start, created on booking, moved on a reschedule, deleted once it is cancelled or
//! marked), sends the patient its message (booked, moved, cancelled) and, for a cancellation
//! or a move, offers the freed time to the waitlist. From the scheduler: a reminder (sent only
//! while the appointment is still scheduled at the same revision) and the waitlist sweep.
//!
//! Every message is claimed in `notifications_sent` by what it is about, its kind and the
//! appointment's revision in the transaction that sends it, so redelivered events and schedules
//! fired twice send nothing more. Messages carry the time and a portal link, never the doctor,
//! the type or the reason, with a calendar file attached.

use aws_sdk_scheduler::types::{
    ActionAfterCompletion, FlexibleTimeWindow, FlexibleTimeWindowMode, RetryPolicy, Target,
};
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::calendar;
use super::service::{COLUMNS, from_row};
use super::waitlist::{FreedSlot, Offer, Waitlist, WaitlistSettings};
use super::{Appointment, AppointmentType, Status};
use crate::config::{ConfigError, Vars};
use crate::db::{self, PgPool, column, enum_column};
use crate::email::{Attachment, Mailer, NotSent};
use crate::events::{ApplyError, AppointmentEvent};
use crate::{Error, Result};

/// The reminders an appointment gets, and how long before its start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reminder {
    #[serde(rename = "24h")]
    DayBefore,
    #[serde(rename = "2h")]
    TwoHoursBefore,
}

impl Reminder {
    pub const ALL: [Reminder; 2] = [Reminder::DayBefore, Reminder::TwoHoursBefore];

    pub fn lead(self) -> Duration {
        match self {
            Self::DayBefore => Duration::hours(24),
            Self::TwoHoursBefore => Duration::hours(2),
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            Self::DayBefore => "24h",
            Self::TwoHoursBefore => "2h",
        }
    }

    fn kind(self) -> Kind {
        match self {
            Self::DayBefore => Kind::Reminder24h,
            Self::TwoHoursBefore => Kind::Reminder2h,
        }
    }
}

/// What the scheduler sends `scheduling-events` (a schedule's target input).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "timer", rename_all = "snake_case", deny_unknown_fields)]
pub enum Timer {
    /// A reminder of the appointment as it was at `revision`.
    Reminder {
        appointment_id: Uuid,
        reminder: Reminder,
        revision: u32,
    },
    /// The recurring schedule: close expired offers, pass their times on, mail open offers
    /// whose mail has not gone out.
    WaitlistSweep,
}

/// The messages CareFlow sends, as recorded in `notifications_sent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Booked,
    Rescheduled,
    Cancelled,
    Reminder24h,
    Reminder2h,
    WaitlistOffer,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Booked => "booked",
            Self::Rescheduled => "rescheduled",
            Self::Cancelled => "cancelled",
            Self::Reminder24h => "reminder_24h",
            Self::Reminder2h => "reminder_2h",
            Self::WaitlistOffer => "waitlist_offer",
        }
    }
}

/// Which message, about what, to whom.
struct Message {
    /// The appointment (or the offer) it is about.
    subject_id: Uuid,
    kind: Kind,
    /// The appointment's revision it describes (0 when that does not matter).
    revision: u32,
    patient: Uuid,
    /// A reminder: only while the appointment is scheduled at this revision.
    still_scheduled_at: Option<u32>,
}

/// What one event or timer did (for the logs and the tests).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub sent: Vec<&'static str>,
    pub offers: Vec<Uuid>,
}

/// Where reminder schedules go and whom they invoke.
#[derive(Debug, Clone)]
pub struct ReminderSchedules {
    client: aws_sdk_scheduler::Client,
    /// `scheduling-events`' ARN.
    target_arn: String,
    /// The role the scheduler assumes to invoke it.
    role_arn: String,
    /// `careflow-{stage}`: schedules are named `{prefix}-rem-{appointment}-{24h|2h}`, and the
    /// function's role may touch only those.
    prefix: String,
    group: String,
}

impl ReminderSchedules {
    pub fn new(
        client: aws_sdk_scheduler::Client,
        target_arn: String,
        role_arn: String,
        prefix: String,
        group: String,
    ) -> Self {
        Self {
            client,
            target_arn,
            role_arn,
            prefix,
            group,
        }
    }

    pub fn name(&self, appointment: Uuid, reminder: Reminder) -> String {
        format!("{}-rem-{appointment}-{}", self.prefix, reminder.suffix())
    }

    pub fn group(&self) -> &str {
        &self.group
    }

    /// Creates the one-time schedule `name` at `at`, or moves it there if it exists.
    async fn put(&self, name: &str, at: DateTime<Utc>, input: &Timer) -> Result<()> {
        let expression = format!("at({})", at.format("%Y-%m-%dT%H:%M:%S"));
        let input = serde_json::to_string(input).map_err(Error::internal)?;
        let window = FlexibleTimeWindow::builder()
            .mode(FlexibleTimeWindowMode::Off)
            .build()
            .map_err(Error::internal)?;
        // A reminder more than an hour late is not worth sending (the function also skips one
        // whose appointment has started).
        let retry = RetryPolicy::builder()
            .maximum_event_age_in_seconds(3600)
            .maximum_retry_attempts(20)
            .build();
        let target = Target::builder()
            .arn(&self.target_arn)
            .role_arn(&self.role_arn)
            .input(input)
            .retry_policy(retry)
            .build()
            .map_err(Error::internal)?;
        let created = self
            .client
            .create_schedule()
            .name(name)
            .group_name(&self.group)
            .schedule_expression(&expression)
            .schedule_expression_timezone("UTC")
            .flexible_time_window(window.clone())
            .target(target.clone())
            .action_after_completion(ActionAfterCompletion::Delete)
            .send()
            .await;
        match created {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conflict_exception()) =>
            {
                self.client
                    .update_schedule()
                    .name(name)
                    .group_name(&self.group)
                    .schedule_expression(&expression)
                    .schedule_expression_timezone("UTC")
                    .flexible_time_window(window)
                    .target(target)
                    .action_after_completion(ActionAfterCompletion::Delete)
                    .send()
                    .await
                    .map_err(|e| sdk_error("UpdateSchedule", &e))?;
                Ok(())
            }
            Err(e) => Err(sdk_error("CreateSchedule", &e)),
        }
    }

    /// Deletes the schedule `name`; one already gone (fired, or never made) is fine.
    async fn delete(&self, name: &str) -> Result<()> {
        match self
            .client
            .delete_schedule()
            .name(name)
            .group_name(&self.group)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(sdk_error("DeleteSchedule", &e)),
        }
    }
}

fn sdk_error<E: aws_sdk_scheduler::error::ProvideErrorMetadata>(operation: &str, e: &E) -> Error {
    let code = e.code().unwrap_or("no error code").to_owned();
    Error::Unavailable(format!("scheduler {operation} failed: {code}").into())
}

#[derive(Clone)]
pub struct Notifier {
    pool: PgPool,
    mailer: Mailer,
    schedules: ReminderSchedules,
    waitlist: Waitlist,
}

impl Notifier {
    pub fn new(
        pool: PgPool,
        mailer: Mailer,
        schedules: ReminderSchedules,
        waitlist: WaitlistSettings,
    ) -> Self {
        Self {
            waitlist: Waitlist::new(pool.clone(), waitlist),
            pool,
            mailer,
            schedules,
        }
    }

    /// The database, the mailer ([`Mailer::from_vars`]), `SCHEDULER_TARGET_ARN`,
    /// `SCHEDULER_ROLE_ARN`, `SCHEDULE_NAME_PREFIX`, `SCHEDULE_GROUP` (default `default`) and
    /// `WAITLIST_HOLD_MINUTES`.
    pub async fn from_vars(vars: &Vars) -> Result<Self, ConfigError> {
        let pool = db::DbConfig::from_vars(vars).await?.pool()?;
        let mailer = Mailer::from_vars(vars).await?;
        let arn = |name: &'static str| -> Result<String, ConfigError> {
            let value = vars.required(name)?;
            if value.starts_with("arn:") {
                Ok(value)
            } else {
                Err(ConfigError::Invalid {
                    name,
                    message: "must be an ARN".into(),
                })
            }
        };
        let schedules = ReminderSchedules::new(
            aws_sdk_scheduler::Client::new(&vars.aws().await),
            arn("SCHEDULER_TARGET_ARN")?,
            arn("SCHEDULER_ROLE_ARN")?,
            vars.required("SCHEDULE_NAME_PREFIX")?,
            vars.optional("SCHEDULE_GROUP")
                .unwrap_or_else(|| "default".to_owned()),
        );
        Ok(Self::new(
            pool,
            mailer,
            schedules,
            WaitlistSettings::from_vars(vars)?,
        ))
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub fn schedules(&self) -> &ReminderSchedules {
        &self.schedules
    }

    /// Applies one `appointments` record value.
    pub async fn apply(&self, value: &[u8]) -> Result<Outcome, ApplyError> {
        let raw = AppointmentEvent::decode(value)?;
        let event = &raw.event;
        let mut outcome = Outcome::default();
        let Some(appointment) = self.appointment(event.appointment_id()).await? else {
            // Not in this database (another environment's event, or deleted): nothing to do.
            tracing::warn!(event_id = %raw.event_id, "event for an unknown appointment skipped");
            return Ok(outcome);
        };
        let upcoming = appointment.start_time > Utc::now();
        let freed = match event {
            AppointmentEvent::Created(_) => {
                // Late or replayed (a new consumer group reads the topic from its start): a
                // confirmation of something cancelled, marked or past would mislead.
                if appointment.status == Status::Scheduled && upcoming {
                    self.send_about(&appointment, Kind::Booked, 1, &mut outcome)
                        .await?;
                }
                None
            }
            AppointmentEvent::Rescheduled(e) => {
                // A later move tells the patient itself; this one's message would be stale.
                if appointment.status == Status::Scheduled
                    && appointment.revision == e.revision
                    && upcoming
                {
                    self.send_about(&appointment, Kind::Rescheduled, e.revision, &mut outcome)
                        .await?;
                }
                Some((
                    e.previous_start_time,
                    e.previous_end_time,
                    &e.appointment_type,
                ))
            }
            AppointmentEvent::Cancelled(e) => {
                if upcoming {
                    self.send_about(&appointment, Kind::Cancelled, 0, &mut outcome)
                        .await?;
                }
                Some((e.start_time, e.end_time, &e.appointment_type))
            }
            AppointmentEvent::Attended(_) | AppointmentEvent::NoShow(_) => None,
        };
        if let Some((start, end, kind)) = freed {
            let appointment_type: AppointmentType = kind
                .parse()
                .map_err(|_| ApplyError::Poison(format!("unknown appointment type {kind}")))?;
            let offer = self
                .waitlist
                .slot_freed(&FreedSlot {
                    event_id: raw.event_id,
                    doctor_id: event.doctor_id(),
                    appointment_type,
                    start_time: start,
                    end_time: end,
                })
                .await?;
            if let Some(offer) = offer {
                outcome.offers.push(offer.offer_id);
                self.send_offer(&offer, &mut outcome).await?;
            }
        }
        // Last: a scheduler outage delays reminders (the record is retried) but not the
        // messages and offers above, which a retry does not repeat.
        self.sync_reminders(&appointment).await?;
        Ok(outcome)
    }

    /// Runs what a schedule asked for.
    pub async fn fire(&self, timer: &Timer) -> Result<Outcome> {
        let mut outcome = Outcome::default();
        match timer {
            Timer::Reminder {
                appointment_id,
                reminder,
                revision,
            } => {
                let current = self.appointment(*appointment_id).await?;
                match current {
                    Some(a)
                        if a.status == Status::Scheduled
                            && a.revision == *revision
                            && a.start_time > Utc::now() =>
                    {
                        // Checked again under a lock where it is sent (a cancellation could
                        // commit in between).
                        self.send_about(&a, reminder.kind(), *revision, &mut outcome)
                            .await?;
                    }
                    _ => {
                        tracing::info!(appointment_id = %appointment_id, "reminder for a cancelled, moved or past appointment not sent");
                    }
                }
            }
            Timer::WaitlistSweep => {
                let made = self.waitlist.sweep().await?;
                outcome.offers.extend(made.iter().map(|o| o.offer_id));
                // One offer's mail failing (SES throttling) must not hold back the others; it
                // stays unnotified for the next sweep.
                for offer in self.waitlist.unnotified().await? {
                    if let Err(e) = self.send_offer(&offer, &mut outcome).await {
                        tracing::warn!(offer_id = %offer.offer_id, error = %e.safe_description(), "offer mail not sent; the next sweep retries");
                    }
                }
            }
        }
        Ok(outcome)
    }

    async fn appointment(&self, id: Uuid) -> Result<Option<Appointment>> {
        let client = db::client(&self.pool).await?;
        client
            .query_opt(
                &format!("SELECT {COLUMNS} FROM appointments WHERE id = $1"),
                &[&id],
            )
            .await?
            .as_ref()
            .map(from_row)
            .transpose()
    }

    /// Makes the reminder schedules of `appointment` match it: one per reminder still ahead
    /// while it is scheduled, none otherwise.
    pub async fn sync_reminders(&self, appointment: &Appointment) -> Result<()> {
        let now = Utc::now();
        for reminder in Reminder::ALL {
            let name = self.schedules.name(appointment.appointment_id, reminder);
            let at = appointment.start_time - reminder.lead();
            if appointment.status == Status::Scheduled && at > now {
                let timer = Timer::Reminder {
                    appointment_id: appointment.appointment_id,
                    reminder,
                    revision: appointment.revision,
                };
                self.schedules.put(&name, at, &timer).await?;
            } else {
                self.schedules.delete(&name).await?;
            }
        }
        Ok(())
    }

    /// The message of `kind` about `appointment` to its patient.
    async fn send_about(
        &self,
        appointment: &Appointment,
        kind: Kind,
        revision: u32,
        outcome: &mut Outcome,
    ) -> Result<()> {
        let when = self
            .local_time(appointment.doctor_id, appointment.start_time)
            .await?;
        let (subject, opening) = match kind {
            Kind::Booked => (
                "Your appointment is booked",
                "Your appointment is booked for",
            ),
            Kind::Rescheduled => (
                "Your appointment has moved",
                "Your appointment has moved to",
            ),
            Kind::Cancelled => (
                "Your appointment is cancelled",
                "Your appointment is cancelled. It was on",
            ),
            Kind::Reminder24h => (
                "Reminder: your appointment tomorrow",
                "A reminder of your appointment on",
            ),
            Kind::Reminder2h => (
                "Reminder: your appointment today",
                "A reminder of your appointment on",
            ),
            Kind::WaitlistOffer => unreachable!("offers are sent by send_offer"),
        };
        let text = format!(
            "{opening} {when}.\n\nSee it, move it or cancel it in the CareFlow portal: {}/#/appointments\n\nThe attached calendar file adds it to your calendar.\n",
            self.mailer.portal_url()
        );
        let ics = calendar::ics(appointment, self.mailer.portal_url());
        let attachment = Attachment {
            filename: "appointment.ics",
            content_type: "text/calendar",
            content: ics.as_bytes(),
        };
        let guard =
            matches!(kind, Kind::Reminder24h | Kind::Reminder2h).then_some(appointment.revision);
        if self
            .send_once(
                Message {
                    subject_id: appointment.appointment_id,
                    kind,
                    revision,
                    patient: appointment.patient_id,
                    still_scheduled_at: guard,
                },
                subject,
                &text,
                Some(&attachment),
            )
            .await?
        {
            outcome.sent.push(kind.as_str());
        }
        Ok(())
    }

    /// The offer's mail to its patient; marks the offer notified either way.
    async fn send_offer(&self, offer: &Offer, outcome: &mut Outcome) -> Result<()> {
        let when = self.local_time(offer.doctor_id, offer.start_time).await?;
        let until = self.local_time(offer.doctor_id, offer.expires_at).await?;
        let text = format!(
            "A time you are waiting for has become free: {when}.\n\nIt is held for you until {until}. Accept or decline it in the CareFlow portal: {}/#/waitlist\n",
            self.mailer.portal_url()
        );
        if self
            .send_once(
                Message {
                    subject_id: offer.offer_id,
                    kind: Kind::WaitlistOffer,
                    revision: 0,
                    patient: offer.patient_id,
                    still_scheduled_at: None,
                },
                "A time has become free for you",
                &text,
                None,
            )
            .await?
        {
            outcome.sent.push(Kind::WaitlistOffer.as_str());
        }
        self.waitlist.mark_notified(offer.offer_id).await
    }

    /// Sends one message unless it was sent (or skipped) before; `true` when sent now. The
    /// claim commits only after SES accepted the message, so a failure leaves it to the retry;
    /// a refusal for good (SES's sandbox, a malformed address) is recorded as `failed` and not
    /// retried, so it cannot hold back the messages behind it.
    async fn send_once(
        &self,
        message: Message,
        subject: &str,
        text: &str,
        attachment: Option<&Attachment<'_>>,
    ) -> Result<bool> {
        let revision = i32::try_from(message.revision).map_err(Error::internal)?;
        let mut client = db::client(&self.pool).await?;
        let tx = client.transaction().await?;
        if let Some(expected) = message.still_scheduled_at {
            // A reminder: the appointment must still be scheduled at that revision, read
            // under a lock a cancellation or a move waits for until the message is out.
            let current = tx
                .query_opt(
                    "SELECT status, revision FROM appointments WHERE id = $1 FOR SHARE",
                    &[&message.subject_id],
                )
                .await?;
            let current = current
                .map(|r| -> Result<(Status, i32)> {
                    Ok((enum_column(&r, "status")?, column(&r, "revision")?))
                })
                .transpose()?;
            if current
                != Some((
                    Status::Scheduled,
                    i32::try_from(expected).map_err(Error::internal)?,
                ))
            {
                return Ok(false);
            }
        }
        let row = tx
            .query_opt(
                "SELECT u.email, coalesce(p.email, true) AS wants_email
                 FROM users u LEFT JOIN notification_preferences p ON p.user_id = u.id
                 WHERE u.id = $1",
                &[&message.patient],
            )
            .await?;
        let Some(row) = row else {
            return Ok(false);
        };
        let wants: bool = column(&row, "wants_email")?;
        let kind = message.kind.as_str();
        let claimed = tx
            .execute(
                "INSERT INTO notifications_sent (subject_id, kind, revision, outcome)
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                &[
                    &message.subject_id,
                    &kind,
                    &revision,
                    &(if wants { "sent" } else { "skipped" }),
                ],
            )
            .await?;
        if claimed == 0 {
            return Ok(false);
        }
        if wants {
            let to: String = column(&row, "email")?;
            let sent = match attachment {
                Some(a) => {
                    self.mailer
                        .send_with_attachment(&to, subject, text, a)
                        .await
                }
                None => self.mailer.send(&to, subject, text).await,
            };
            if let Err(e) = sent {
                let Some(refusal) = NotSent::of(&e).filter(|r| r.permanent()) else {
                    return Err(e);
                };
                tracing::warn!(kind, code = %refusal.code, "SES refused the message for good; recorded as failed");
                tx.execute(
                    "UPDATE notifications_sent SET outcome = 'failed'
                     WHERE subject_id = $1 AND kind = $2 AND revision = $3",
                    &[&message.subject_id, &kind, &revision],
                )
                .await?;
                tx.commit().await?;
                return Ok(false);
            }
        }
        tx.commit().await?;
        tracing::info!(kind, sent = wants, "notification handled");
        Ok(wants)
    }

    /// `instant` in the doctor's time zone, as a patient reads it ("Tuesday 8 December 2026,
    /// 09:30 (Europe/Berlin)").
    async fn local_time(&self, doctor: Uuid, instant: DateTime<Utc>) -> Result<String> {
        let client = db::client(&self.pool).await?;
        let zone: Option<String> = client
            .query_opt(
                "SELECT document->>'time_zone' FROM doctor_availability WHERE doctor_id = $1",
                &[&doctor],
            )
            .await?
            .and_then(|r| r.get(0));
        let zone: Tz = zone.and_then(|z| z.parse().ok()).unwrap_or(Tz::UTC);
        Ok(format!(
            "{} ({})",
            instant.with_timezone(&zone).format("%A %-d %B %Y, %H:%M"),
            zone.name()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_are_the_scheduler_inputs_they_were() {
        let id = Uuid::nil();
        let timer = Timer::Reminder {
            appointment_id: id,
            reminder: Reminder::TwoHoursBefore,
            revision: 2,
        };
        let json = serde_json::to_value(&timer).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"timer": "reminder", "appointment_id": id, "reminder": "2h", "revision": 2})
        );
        assert_eq!(serde_json::from_value::<Timer>(json).unwrap(), timer);
        assert_eq!(
            serde_json::from_str::<Timer>(r#"{"timer":"waitlist_sweep"}"#).unwrap(),
            Timer::WaitlistSweep
        );
        assert!(
            serde_json::from_str::<Timer>(r#"{"timer":"reminder","appointment_id":"x"}"#).is_err()
        );
    }
}
