//! The appointment service on PostgreSQL, publishing through the outbox.

use aws_lc_rs::digest::{SHA256, digest};
use chrono::{DateTime, Utc};
use tokio_postgres::Row;
use uuid::Uuid;

use super::availability::{Availability, Refusal};
use super::schedule;
use super::{
    Appointment, Attendance, Booking, BookingRequest, CancelReason, RescheduleRequest, Status,
};
use crate::auth::Caller;
use crate::db::{self, PgPool, SqlState, column, enum_column};
use crate::events::{
    APPOINTMENTS_TOPIC, AppointmentAttended, AppointmentCancelled, AppointmentCreated,
    AppointmentNoShow, AppointmentRescheduled, AttendanceRecorded, EventPayload,
};
use crate::outbox;
#[cfg(feature = "kafka")]
use crate::outbox::Publisher;
use crate::pagination::Page;
use crate::policy;
use crate::{Error, Result};

pub(super) const COLUMNS: &str = "id, patient_id, doctor_id, start_time, end_time, appointment_type, status, \
                       reason, created_at, cancelled_at, cancel_reason, cancel_reason_code, \
                       attendance_marked_at, rescheduled_at, revision";

pub(super) fn from_row(row: &Row) -> Result<Appointment> {
    Ok(Appointment {
        appointment_id: column(row, "id")?,
        patient_id: column(row, "patient_id")?,
        doctor_id: column(row, "doctor_id")?,
        start_time: column(row, "start_time")?,
        end_time: column(row, "end_time")?,
        appointment_type: enum_column(row, "appointment_type")?,
        status: enum_column(row, "status")?,
        reason: column(row, "reason")?,
        created_at: column(row, "created_at")?,
        cancelled_at: column(row, "cancelled_at")?,
        cancel_reason: column(row, "cancel_reason")?,
        cancel_reason_code: column::<Option<String>>(row, "cancel_reason_code")?
            .map(|code| serde_json::from_value(serde_json::Value::String(code)))
            .transpose()
            .map_err(Error::internal)?,
        attendance_marked_at: column(row, "attendance_marked_at")?,
        rescheduled_at: column(row, "rescheduled_at")?,
        revision: u32::try_from(column::<i32>(row, "revision")?).map_err(Error::internal)?,
    })
}

/// What `create` (or `reschedule`) did: done now, or replayed the answer of an earlier
/// request with the same `Idempotency-Key`.
#[derive(Debug, Clone)]
pub enum Booked {
    Created(Appointment),
    Replayed(Appointment),
}

/// Filters of `GET /appointments`.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Admins only: narrow to one doctor or patient.
    pub doctor_id: Option<Uuid>,
    pub patient_id: Option<Uuid>,
}

#[derive(Clone)]
pub struct Appointments {
    pool: PgPool,
    #[cfg(feature = "kafka")]
    publisher: Option<Publisher>,
}

/// The database only: the relay publishes the events (see [`Appointments::publishing`]).
impl crate::config::FromVars for Appointments {
    async fn build(vars: &crate::config::Vars) -> Result<Self, crate::config::ConfigError> {
        Ok(Self::new(db::DbConfig::from_vars(vars).await?.pool()?))
    }
}

impl Appointments {
    /// The database and a publisher ([`Publisher::from_vars`], waiting at most
    /// `KAFKA_PUBLISH_TIMEOUT_MS`, 2 s by default, before leaving an event to the relay).
    #[cfg(feature = "kafka")]
    pub async fn publishing(
        vars: &crate::config::Vars,
    ) -> Result<Self, crate::config::ConfigError> {
        let pool = db::DbConfig::from_vars(vars).await?.pool()?;
        Ok(Self::with_publisher(
            pool,
            Publisher::from_vars(vars, 2000).await?,
        ))
    }

    /// Reads and writes without publishing: events written are left to `outbox-relay`
    /// (and functions that only read link no Kafka client).
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            #[cfg(feature = "kafka")]
            publisher: None,
        }
    }

    /// Publishes the events of its bookings and cancellations right after they commit.
    #[cfg(feature = "kafka")]
    pub fn with_publisher(pool: PgPool, publisher: Publisher) -> Self {
        Self {
            pool,
            publisher: Some(publisher),
        }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Publishes the given outbox events now; failures leave them for the relay.
    #[cfg(feature = "kafka")]
    async fn publish(&self, event_ids: &[Uuid]) {
        let Some(publisher) = &self.publisher else {
            return;
        };
        if let Err(e) = publisher
            .publish_pending(&self.pool, Some(event_ids), event_ids.len() as i64)
            .await
        {
            tracing::warn!(error = %e.safe_description(), "publishing after commit failed; outbox-relay will retry");
        }
    }

    #[cfg(not(feature = "kafka"))]
    async fn publish(&self, _event_ids: &[Uuid]) {}

    /// Books an appointment. With an idempotency key, a retry of the same request returns the
    /// first answer; the same key with a different request is refused.
    pub async fn create(
        &self,
        caller: &Caller,
        request: &BookingRequest,
        idempotency_key: Option<&str>,
    ) -> Result<Booked> {
        let patient_id = policy::booking_patient(caller, request.patient_id)?;
        let request_hash = digest(
            &SHA256,
            &serde_json::to_vec(request).map_err(Error::internal)?,
        )
        .as_ref()
        .to_vec();

        let mut client = db::client(&self.pool).await?;
        let tx = client.transaction().await?;
        // Bookings queue per doctor and per patient; the constraints still decide who wins.
        lock_parties(&tx, request.doctor_id, patient_id).await?;
        if let Some(key) = idempotency_key
            && let Some(replayed) = claim_key(&tx, caller, key, &request_hash).await?
        {
            return Ok(Booked::Replayed(replayed));
        }

        // Checked after the key lookup: a retry of a booking made just before its start time
        // must get the first answer, not "must be in the future".
        let booking: Booking = request.validated(Utc::now())?;
        let (appointment, event_id) =
            book_in(&tx, caller.user_id, patient_id, &booking, None).await?;
        let id = appointment.appointment_id;

        if let Some(key) = idempotency_key {
            record_answer(&tx, caller, key, 201, &appointment).await?;
        }
        tx.commit().await?;
        // Back to the pool before publishing, which takes a connection of its own.
        drop(client);
        tracing::info!(appointment_id = %id, doctor_id = %booking.doctor_id, "appointment booked");
        self.publish(&[event_id]).await;
        Ok(Booked::Created(appointment))
    }

    /// An appointment its patient, its doctor or an admin may see; anyone else gets 404, so
    /// its existence is not revealed.
    pub async fn get(&self, caller: &Caller, id: Uuid) -> Result<Appointment> {
        let client = db::client(&self.pool).await?;
        let row = client
            .query_opt(
                &format!("SELECT {COLUMNS} FROM appointments WHERE id = $1"),
                &[&id],
            )
            .await?
            .ok_or(Error::NotFound("appointment"))?;
        let appointment = from_row(&row)?;
        if visible_to(caller, &appointment) {
            Ok(appointment)
        } else {
            Err(Error::NotFound("appointment"))
        }
    }

    /// Moves an appointment to `request.start_time` (same doctor and type) in one statement:
    /// the new time is checked like a booking (availability, buffers, and the exclusion
    /// constraints against every other appointment) and the old one is free once it commits;
    /// if anything refuses, nothing changes. Its patient, its doctor or an admin; not once it
    /// has started or been cancelled. With an idempotency key a retry gets the first answer.
    pub async fn reschedule(
        &self,
        caller: &Caller,
        id: Uuid,
        request: &RescheduleRequest,
        idempotency_key: Option<&str>,
    ) -> Result<Booked> {
        let request_hash = digest(
            &SHA256,
            format!(
                "reschedule {id} {}",
                serde_json::to_string(request).map_err(Error::internal)?
            )
            .as_bytes(),
        )
        .as_ref()
        .to_vec();
        let mut client = db::client(&self.pool).await?;
        let tx = client.transaction().await?;
        // The parties first (they never change), to take the schedule locks in the same order
        // as bookings do, then the row itself.
        let parties = tx
            .query_opt(
                "SELECT doctor_id, patient_id FROM appointments WHERE id = $1",
                &[&id],
            )
            .await?
            .ok_or(Error::NotFound("appointment"))?;
        lock_parties(
            &tx,
            column(&parties, "doctor_id")?,
            column(&parties, "patient_id")?,
        )
        .await?;
        let row = tx
            .query_one(
                &format!("SELECT {COLUMNS} FROM appointments WHERE id = $1 FOR UPDATE"),
                &[&id],
            )
            .await?;
        let current = from_row(&row)?;
        if !visible_to(caller, &current) {
            return Err(Error::NotFound("appointment"));
        }
        if let Some(key) = idempotency_key
            && let Some(replayed) = claim_key(&tx, caller, key, &request_hash).await?
        {
            return Ok(Booked::Replayed(replayed));
        }
        if current.status == Status::Cancelled {
            return Err(Error::Conflict {
                code: "cancelled",
                message: "a cancelled appointment cannot be rescheduled; book a new one".into(),
            });
        }
        if current.start_time <= Utc::now() {
            return Err(Error::Conflict {
                code: "already-started",
                message: "an appointment cannot be rescheduled once it has started".into(),
            });
        }
        let booking = BookingRequest {
            doctor_id: current.doctor_id,
            start_time: request.start_time,
            appointment_type: current.appointment_type,
            reason: None,
            patient_id: None,
        }
        .validated(Utc::now())?;
        if booking.start_time == current.start_time {
            // Nothing to move; answered like a move, without an event.
            if let Some(key) = idempotency_key {
                record_answer(&tx, caller, key, 200, &current).await?;
            }
            tx.commit().await?;
            return Ok(Booked::Created(current));
        }
        check_schedule(&tx, &booking, Some(id), None).await?;
        let row = tx
            .query_one(
                &format!(
                    "UPDATE appointments
                     SET start_time = $2, end_time = $3, revision = revision + 1,
                         rescheduled_at = now(), rescheduled_by = $4
                     WHERE id = $1 RETURNING {COLUMNS}"
                ),
                &[&id, &booking.start_time, &booking.end_time, &caller.user_id],
            )
            .await
            .map_err(overlap)?;
        let moved = from_row(&row)?;
        let event_id = enqueue(
            &tx,
            moved.doctor_id,
            AppointmentRescheduled {
                appointment_id: id,
                patient_id: moved.patient_id,
                doctor_id: moved.doctor_id,
                appointment_type: moved.appointment_type.as_str().to_owned(),
                previous_start_time: current.start_time,
                previous_end_time: current.end_time,
                start_time: moved.start_time,
                end_time: moved.end_time,
                duration_minutes: moved.appointment_type.duration_minutes(),
                revision: moved.revision,
                rescheduled_by: caller.role.as_str().to_owned(),
            },
        )
        .await?;
        if let Some(key) = idempotency_key {
            record_answer(&tx, caller, key, 200, &moved).await?;
        }
        tx.commit().await?;
        drop(client);
        tracing::info!(appointment_id = %id, "appointment rescheduled");
        self.publish(&[event_id]).await;
        Ok(Booked::Created(moved))
    }

    /// Records whether the patient came (the appointment's doctor or an admin), once its start
    /// has passed. Recording the same outcome again changes nothing; a different one, once
    /// recorded, is 409 (it would count the appointment twice downstream).
    pub async fn mark_attendance(
        &self,
        caller: &Caller,
        id: Uuid,
        outcome: Attendance,
    ) -> Result<Appointment> {
        let mut client = db::client(&self.pool).await?;
        let tx = client.transaction().await?;
        let row = tx
            .query_opt(
                &format!("SELECT {COLUMNS} FROM appointments WHERE id = $1 FOR UPDATE"),
                &[&id],
            )
            .await?
            .ok_or(Error::NotFound("appointment"))?;
        let current = from_row(&row)?;
        if !visible_to(caller, &current) {
            return Err(Error::NotFound("appointment"));
        }
        policy::mark_attendance(
            caller,
            &policy::Parties {
                patient: current.patient_id,
                doctor: current.doctor_id,
            },
        )?;
        match current.status {
            status if status == outcome.status() => return Ok(current),
            Status::Scheduled => {}
            Status::Cancelled => {
                return Err(Error::Conflict {
                    code: "cancelled",
                    message: "the appointment was cancelled".into(),
                });
            }
            _ => {
                return Err(Error::Conflict {
                    code: "already-marked",
                    message: "attendance was already recorded differently".into(),
                });
            }
        }
        if current.start_time > Utc::now() {
            return Err(Error::Conflict {
                code: "not-started",
                message: "attendance can be recorded once the appointment has started".into(),
            });
        }
        let row = tx
            .query_one(
                &format!(
                    "UPDATE appointments
                     SET status = $2, attendance_marked_at = now(), attendance_marked_by = $3
                     WHERE id = $1 RETURNING {COLUMNS}"
                ),
                &[&id, &outcome.as_str(), &caller.user_id],
            )
            .await?;
        let marked = from_row(&row)?;
        let doctor = marked.doctor_id;
        let recorded = AttendanceRecorded {
            appointment_id: id,
            patient_id: marked.patient_id,
            doctor_id: marked.doctor_id,
            appointment_type: marked.appointment_type.as_str().to_owned(),
            start_time: marked.start_time,
            end_time: marked.end_time,
            duration_minutes: marked.appointment_type.duration_minutes(),
            marked_by: caller.role.as_str().to_owned(),
        };
        let event_id = match outcome {
            Attendance::Attended => enqueue(&tx, doctor, AppointmentAttended(recorded)).await?,
            Attendance::NoShow => enqueue(&tx, doctor, AppointmentNoShow(recorded)).await?,
        };
        tx.commit().await?;
        drop(client);
        tracing::info!(appointment_id = %id, outcome = outcome.as_str(), "attendance recorded");
        self.publish(&[event_id]).await;
        Ok(marked)
    }

    /// Cancels; idempotent (cancelling a cancelled appointment returns it unchanged and
    /// publishes nothing). Not possible once the appointment has started.
    pub async fn cancel(
        &self,
        caller: &Caller,
        id: Uuid,
        reason: Option<String>,
        reason_code: Option<CancelReason>,
    ) -> Result<Appointment> {
        let reason =
            crate::validate::optional_text("reason", reason.as_deref(), super::REASON_MAX)?;
        let reason_code = reason_code.unwrap_or(CancelReason::Other);
        let mut client = db::client(&self.pool).await?;
        let tx = client.transaction().await?;
        let row = tx
            .query_opt(
                &format!("SELECT {COLUMNS} FROM appointments WHERE id = $1 FOR UPDATE"),
                &[&id],
            )
            .await?
            .ok_or(Error::NotFound("appointment"))?;
        let current = from_row(&row)?;
        if !visible_to(caller, &current) {
            return Err(Error::NotFound("appointment"));
        }
        if current.status == Status::Cancelled {
            return Ok(current);
        }
        if current.start_time <= Utc::now() || current.status != Status::Scheduled {
            return Err(Error::Conflict {
                code: "already-started",
                message: "an appointment cannot be cancelled once it has started".into(),
            });
        }
        let row = tx
            .query_one(
                &format!(
                    "UPDATE appointments
                     SET status = 'cancelled', cancelled_at = now(), cancelled_by = $2, cancel_reason = $3,
                         cancel_reason_code = $4
                     WHERE id = $1 RETURNING {COLUMNS}"
                ),
                &[&id, &caller.user_id, &reason, &reason_code.as_str()],
            )
            .await?;
        let cancelled = from_row(&row)?;
        let event_id = enqueue(
            &tx,
            cancelled.doctor_id,
            AppointmentCancelled {
                appointment_id: id,
                patient_id: cancelled.patient_id,
                doctor_id: cancelled.doctor_id,
                appointment_type: cancelled.appointment_type.as_str().to_owned(),
                start_time: cancelled.start_time,
                end_time: cancelled.end_time,
                duration_minutes: cancelled.appointment_type.duration_minutes(),
                cancelled_by: caller.role.as_str().to_owned(),
                reason_code: Some(reason_code.as_str().to_owned()),
            },
        )
        .await?;
        tx.commit().await?;
        drop(client);
        tracing::info!(appointment_id = %id, "appointment cancelled");
        self.publish(&[event_id]).await;
        Ok(cancelled)
    }

    /// A patient's own appointments, a doctor's schedule, or (admins) everything, in start
    /// order, paginated by a keyset cursor.
    pub async fn list(
        &self,
        caller: &Caller,
        filter: &ListFilter,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<Appointment>> {
        crate::validate::time_range(filter.from, filter.to)?;
        let (doctor, patient) =
            policy::appointment_list(caller, filter.doctor_id, filter.patient_id)?;
        let after = crate::pagination::decode(cursor)?;
        let (after_start, after_id) = after.unzip();
        let client = db::client(&self.pool).await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM appointments
                     WHERE ($1::uuid IS NULL OR doctor_id = $1)
                       AND ($2::uuid IS NULL OR patient_id = $2)
                       AND ($3::timestamptz IS NULL OR start_time >= $3)
                       AND ($4::timestamptz IS NULL OR start_time < $4)
                       AND ($5::timestamptz IS NULL OR (start_time, id) > ($5, $6))
                     ORDER BY start_time, id
                     LIMIT $7"
                ),
                &[
                    &doctor,
                    &patient,
                    &filter.from,
                    &filter.to,
                    &after_start,
                    &after_id,
                    &(limit as i64 + 1),
                ],
            )
            .await?;
        let items = rows.iter().map(from_row).collect::<Result<Vec<_>>>()?;
        Ok(crate::pagination::page(items, limit, |a| {
            (a.start_time, a.appointment_id)
        }))
    }
}

/// Books `booking` for `patient_id` in `tx`, whose caller holds both parties' locks
/// ([`lock_parties`]): the accounts must be a doctor's and a patient's, the doctor's schedule
/// must admit it ([`check_schedule`]; `hold` is the waitlist offer being accepted, whose own
/// hold does not stand in its way) and the exclusion constraints decide overlaps. Writes
/// `AppointmentCreated` to the outbox; answers the appointment and the event's id.
pub(super) async fn book_in(
    tx: &db::Transaction<'_>,
    created_by: Uuid,
    patient_id: Uuid,
    booking: &Booking,
    hold: Option<Uuid>,
) -> Result<(Appointment, Uuid)> {
    let roles = tx
        .query(
            "SELECT id, role FROM users WHERE id = ANY($1)",
            &[&vec![booking.doctor_id, patient_id]],
        )
        .await?;
    let mut role_of = std::collections::HashMap::new();
    for row in &roles {
        let role: crate::auth::Role = enum_column(row, "role")?;
        role_of.insert(column::<Uuid>(row, "id")?, role);
    }
    policy::booking_accounts(
        role_of.get(&booking.doctor_id).copied(),
        role_of.get(&patient_id).copied(),
    )?;
    check_schedule(tx, booking, None, hold).await?;

    let id = Uuid::new_v4();
    let row = tx
        .query_one(
            &format!(
                "INSERT INTO appointments (id, patient_id, doctor_id, appointment_type, reason,
                                           start_time, end_time, created_by)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 RETURNING {COLUMNS}"
            ),
            &[
                &id,
                &patient_id,
                &booking.doctor_id,
                &booking.appointment_type.as_str(),
                &booking.reason,
                &booking.start_time,
                &booking.end_time,
                &created_by,
            ],
        )
        .await
        .map_err(overlap)?;
    let appointment = from_row(&row)?;
    let event_id = enqueue(
        tx,
        booking.doctor_id,
        AppointmentCreated {
            appointment_id: id,
            patient_id,
            doctor_id: booking.doctor_id,
            appointment_type: booking.appointment_type.as_str().to_owned(),
            start_time: booking.start_time,
            end_time: booking.end_time,
            duration_minutes: booking.appointment_type.duration_minutes(),
        },
    )
    .await?;
    Ok((appointment, event_id))
}

fn visible_to(caller: &Caller, appointment: &Appointment) -> bool {
    policy::see_appointment(
        caller,
        &policy::Parties {
            patient: appointment.patient_id,
            doctor: appointment.doctor_id,
        },
    )
}

/// Claims `key` for this request, or answers what the first request with it answered. The
/// same key with a different request is 422.
async fn claim_key(
    tx: &db::Transaction<'_>,
    caller: &Caller,
    key: &str,
    request_hash: &[u8],
) -> Result<Option<Appointment>> {
    loop {
        let claimed = tx
            .execute(
                "INSERT INTO idempotency_keys (caller_id, key, request_hash)
                 VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                &[&caller.user_id, &key, &request_hash],
            )
            .await?;
        if claimed == 1 {
            return Ok(None);
        }
        // Another request with this key committed first (its insert held us until then).
        // FOR SHARE keeps outbox-relay's purge (SKIP LOCKED) off the row while we answer from
        // it; if the purge deleted it in between, the key is free again.
        let Some(row) = tx
            .query_opt(
                "SELECT request_hash, response_body FROM idempotency_keys
                 WHERE caller_id = $1 AND key = $2 FOR SHARE",
                &[&caller.user_id, &key],
            )
            .await?
        else {
            continue;
        };
        if column::<Vec<u8>>(&row, "request_hash")? != request_hash {
            return Err(Error::Unprocessable(
                "this Idempotency-Key was already used for a different request".into(),
            ));
        }
        let body: serde_json::Value = column(&row, "response_body")?;
        return Ok(Some(serde_json::from_value(body).map_err(Error::internal)?));
    }
}

/// Keeps the answer for retries with the same key.
async fn record_answer(
    tx: &db::Transaction<'_>,
    caller: &Caller,
    key: &str,
    status: i32,
    appointment: &Appointment,
) -> Result<()> {
    let body = serde_json::to_value(appointment).map_err(Error::internal)?;
    tx.execute(
        "UPDATE idempotency_keys SET response_status = $3, response_body = $4
         WHERE caller_id = $1 AND key = $2",
        &[&caller.user_id, &key, &status, &body],
    )
    .await?;
    Ok(())
}

/// Serialises changes to the schedules of these accounts: concurrent writes under an exclusion
/// constraint can wait on each other's uncommitted rows and deadlock, and the buffer check
/// needs the doctor's schedule to hold still. Locks are taken in one global order.
pub(super) async fn lock_parties(
    tx: &db::Transaction<'_>,
    doctor: Uuid,
    patient: Uuid,
) -> Result<()> {
    let mut parties = [doctor, patient];
    parties.sort();
    for party in parties {
        lock_schedule(tx, party).await?;
    }
    Ok(())
}

/// The schedule lock of one account (see [`lock_parties`]), held until `tx` ends; a waitlist
/// offer takes the doctor's alone. Taking it again in the same transaction is harmless.
pub(super) async fn lock_schedule(tx: &db::Transaction<'_>, account: Uuid) -> Result<()> {
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1::text, 7011))",
        &[&account.to_string()],
    )
    .await?;
    Ok(())
}

/// The doctor's availability admits the booking (hours, exceptions, type, notice), no other
/// scheduled appointment of the doctor (but `moving`, when it is one being moved) is within
/// the buffer, and no open waitlist offer (but `hold`, the one being accepted) holds the time.
/// Overlaps with appointments themselves are the exclusion constraints' to refuse.
async fn check_schedule(
    tx: &db::Transaction<'_>,
    booking: &Booking,
    moving: Option<Uuid>,
    hold: Option<Uuid>,
) -> Result<Availability> {
    let availability = tx
        .query_opt(
            "SELECT document FROM doctor_availability WHERE doctor_id = $1",
            &[&booking.doctor_id],
        )
        .await?
        .ok_or_else(|| {
            Error::invalid(
                "doctor_id",
                "is not bookable: the doctor has no availability",
            )
        })?;
    let availability = schedule::stored(column(&availability, "document")?)?;
    availability
        .admits(booking.appointment_type, booking.start_time, Utc::now())
        .map_err(Refusal::into_error)?;
    // One round trip for both: another appointment within the buffer (with no buffer, overlaps
    // are the exclusion constraints' to refuse), and an open waitlist offer holding the time.
    // Offers are made and accepted under the doctor's lock too, so this cannot race them.
    let buffer = availability.buffer();
    let row = tx
        .query_one(
            "SELECT $6 AND EXISTS (SELECT 1 FROM appointments
                                   WHERE doctor_id = $1 AND status <> 'cancelled'
                                     AND start_time < $3 AND end_time > $2
                                     AND id IS DISTINCT FROM $4) AS too_close,
                    EXISTS (SELECT 1 FROM waitlist_offers
                            WHERE doctor_id = $1 AND status = 'open' AND expires_at > now()
                              AND start_time < $3 AND end_time > $2
                              AND id IS DISTINCT FROM $5) AS held",
            &[
                &booking.doctor_id,
                &(booking.start_time - buffer),
                &(booking.end_time + buffer),
                &moving,
                &hold,
                &(buffer > chrono::Duration::zero()),
            ],
        )
        .await?;
    if column::<bool>(&row, "too_close")? {
        return Err(Error::Conflict {
            code: "slot-taken",
            message: format!(
                "the doctor keeps {} minutes between appointments and is booked too close to this time",
                buffer.num_minutes()
            ),
        });
    }
    if column::<bool>(&row, "held")? {
        return Err(Error::Conflict {
            code: "slot-held",
            message: "this time is held for a patient on the waitlist; choose another".into(),
        });
    }
    Ok(availability)
}

/// Whether a freed time may be offered from the waitlist: [`check_schedule`], and no
/// appointment of the doctor overlaps it (a booking has the exclusion constraints for that).
pub(super) async fn check_schedule_for_offer(
    tx: &db::Transaction<'_>,
    booking: &Booking,
) -> Result<Availability> {
    let availability = check_schedule(tx, booking, None, None).await?;
    let taken: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM appointments
                            WHERE doctor_id = $1 AND status <> 'cancelled'
                              AND start_time < $3 AND end_time > $2)",
            &[&booking.doctor_id, &booking.start_time, &booking.end_time],
        )
        .await?
        .get(0);
    if taken {
        return Err(Error::Conflict {
            code: "slot-taken",
            message: "the doctor is already booked at this time".into(),
        });
    }
    Ok(availability)
}

/// An exclusion-constraint violation as the 409 it means.
fn overlap(e: tokio_postgres::Error) -> Error {
    match db::db_error_code(&e) {
        Some((code, constraint)) if *code == SqlState::EXCLUSION_VIOLATION => {
            if constraint == Some("appointments_patient_no_overlap") {
                Error::Conflict {
                    code: "patient-busy",
                    message: "the patient already has an appointment at this time".into(),
                }
            } else {
                Error::Conflict {
                    code: "slot-taken",
                    message: "the doctor is already booked at this time".into(),
                }
            }
        }
        _ => e.into(),
    }
}

/// Writes an `appointments` event to the outbox in `tx`, keyed by its doctor, and answers its
/// id (to publish once the transaction commits).
async fn enqueue<P: EventPayload>(
    tx: &db::Transaction<'_>,
    doctor: Uuid,
    payload: P,
) -> Result<Uuid> {
    let event = payload.envelope(Utc::now());
    outbox::enqueue(tx, APPOINTMENTS_TOPIC, &doctor.to_string(), &event).await?;
    Ok(event.event_id)
}
