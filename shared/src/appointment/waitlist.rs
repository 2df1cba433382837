//! The waitlist: patients waiting for a time with a doctor (or any doctor of a specialty), and
//! the offers that hold a freed time for one of them at a time.
//!
//! A cancellation or a move frees a time ([`Waitlist::slot_freed`], from the `appointments`
//! topic). The first patient who joined, wants that type, waits in a range that contains the
//! time and is free then gets an offer that holds it for [`WaitlistSettings::hold`]: while the
//! offer is open nobody else can book the time (the booking check and the slot search both
//! see it). Accepting books it; declining, leaving or letting it expire passes it to the next
//! patient ([`Waitlist::sweep`] closes expired offers). The freed time is keyed by the event
//! that freed it, so a redelivered event offers nothing more; each patient is offered one freed
//! time once.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use tokio_postgres::Row;
use uuid::Uuid;

use super::service::{self, Booked, COLUMNS, book_in, from_row, lock_parties, lock_schedule};
use super::{AppointmentType, Booking, BookingRequest, MAX_DAYS_AHEAD};
use crate::auth::Caller;
use crate::config::{ConfigError, Vars};
use crate::db::{self, PgPool, column, enum_column};
use crate::pagination::Page;
use crate::policy;
use crate::{Error, Result};

/// The longest range one entry waits in.
pub const MAX_RANGE_DAYS: i64 = 92;
/// Entries one patient may have waiting (or offered) at once.
pub const MAX_ACTIVE_ENTRIES: i64 = 10;
const SPECIALTY_MAX: usize = 100;

/// How long an offer holds its time (`WAITLIST_HOLD_MINUTES`, 15 by default, 1 to 1440).
#[derive(Debug, Clone, Copy)]
pub struct WaitlistSettings {
    pub hold: Duration,
}

impl Default for WaitlistSettings {
    fn default() -> Self {
        Self {
            hold: Duration::minutes(15),
        }
    }
}

impl WaitlistSettings {
    pub fn from_vars(vars: &Vars) -> Result<Self, ConfigError> {
        let minutes: i64 = vars.parsed_or("WAITLIST_HOLD_MINUTES", 15)?;
        if !(1..=1440).contains(&minutes) {
            return Err(ConfigError::Invalid {
                name: "WAITLIST_HOLD_MINUTES",
                message: "must be 1 to 1440".into(),
            });
        }
        Ok(Self {
            hold: Duration::minutes(minutes),
        })
    }
}

/// The body of `POST /waitlist`: one doctor or a specialty, a type and a range.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinRequest {
    #[serde(default)]
    pub doctor_id: Option<Uuid>,
    #[serde(default)]
    pub specialty: Option<String>,
    pub appointment_type: AppointmentType,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Only admins put someone else on the list.
    #[serde(default)]
    pub patient_id: Option<Uuid>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryStatus {
    Waiting,
    /// An offer is open.
    Offered,
    Booked,
    Left,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OfferStatus {
    Open,
    Accepted,
    Declined,
    Expired,
    /// The patient left the waitlist while it was open.
    Withdrawn,
}

/// A freed time held for one waiting patient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    pub offer_id: Uuid,
    pub entry_id: Uuid,
    pub patient_id: Uuid,
    pub doctor_id: Uuid,
    pub appointment_type: AppointmentType,
    pub start_time: DateTime<Utc>,
    pub end_time: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub status: OfferStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appointment_id: Option<Uuid>,
}

/// A waitlist entry as the API shows it, with its open offer if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub entry_id: Uuid,
    pub patient_id: Uuid,
    pub doctor_id: Option<Uuid>,
    pub specialty: Option<String>,
    pub appointment_type: AppointmentType,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub status: EntryStatus,
    pub created_at: DateTime<Utc>,
    pub offer: Option<Offer>,
}

/// A time one event freed: what [`Waitlist::slot_freed`] offers.
#[derive(Debug, Clone, Copy)]
pub struct FreedSlot {
    pub event_id: Uuid,
    pub doctor_id: Uuid,
    pub appointment_type: AppointmentType,
    pub start_time: DateTime<Utc>,
    pub end_time: DateTime<Utc>,
}

const OFFER_COLUMNS: &str = "o.id AS offer_id, o.entry_id AS offer_entry_id, o.patient_id AS offer_patient_id, \
     o.doctor_id AS offer_doctor_id, o.appointment_type AS offer_type, o.start_time AS offer_start, \
     o.end_time AS offer_end, o.expires_at AS offer_expires_at, o.status AS offer_status, \
     o.appointment_id AS offer_appointment_id";

fn offer_from_row(row: &Row) -> Result<Offer> {
    Ok(Offer {
        offer_id: column(row, "offer_id")?,
        entry_id: column(row, "offer_entry_id")?,
        patient_id: column(row, "offer_patient_id")?,
        doctor_id: column(row, "offer_doctor_id")?,
        appointment_type: enum_column(row, "offer_type")?,
        start_time: column(row, "offer_start")?,
        end_time: column(row, "offer_end")?,
        expires_at: column(row, "offer_expires_at")?,
        status: enum_column(row, "offer_status")?,
        appointment_id: column(row, "offer_appointment_id")?,
    })
}

fn entry_from_row(row: &Row) -> Result<Entry> {
    let offer_id: Option<Uuid> = column(row, "offer_id")?;
    Ok(Entry {
        entry_id: column(row, "id")?,
        patient_id: column(row, "patient_id")?,
        doctor_id: column(row, "doctor_id")?,
        specialty: column(row, "specialty")?,
        appointment_type: enum_column(row, "appointment_type")?,
        from: column(row, "range_from")?,
        to: column(row, "range_to")?,
        status: enum_column(row, "status")?,
        created_at: column(row, "created_at")?,
        offer: offer_id.map(|_| offer_from_row(row)).transpose()?,
    })
}

/// Entries with their open offer (`e` and `o`).
fn entry_select() -> String {
    format!(
        "SELECT e.id, e.patient_id, e.doctor_id, e.specialty, e.appointment_type, e.range_from,
                e.range_to, e.status, e.created_at, {OFFER_COLUMNS}
         FROM waitlist_entries e
         LEFT JOIN waitlist_offers o ON o.entry_id = e.id AND o.status = 'open'"
    )
}

#[derive(Clone)]
pub struct Waitlist {
    pool: PgPool,
    settings: WaitlistSettings,
}

impl crate::config::FromVars for Waitlist {
    async fn build(vars: &Vars) -> Result<Self, ConfigError> {
        let pool = db::DbConfig::from_vars(vars).await?.pool()?;
        Ok(Self::new(pool, WaitlistSettings::from_vars(vars)?))
    }
}

impl Waitlist {
    pub fn new(pool: PgPool, settings: WaitlistSettings) -> Self {
        Self { pool, settings }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Puts a patient on the waitlist.
    pub async fn join(&self, caller: &Caller, request: &JoinRequest) -> Result<Entry> {
        let patient = policy::booking_patient(caller, request.patient_id)?;
        let now = Utc::now();
        let specialty = match (&request.doctor_id, &request.specialty) {
            (Some(_), None) => None,
            (None, Some(s)) => Some(crate::validate::bounded_text(
                "specialty",
                s,
                SPECIALTY_MAX,
            )?),
            _ => {
                return Err(Error::invalid(
                    "doctor_id",
                    "give exactly one of doctor_id and specialty",
                ));
            }
        };
        if request.to <= request.from {
            return Err(Error::invalid("to", "must be after from"));
        }
        if request.to <= now {
            return Err(Error::invalid("to", "must be in the future"));
        }
        if request.from > now + Duration::days(MAX_DAYS_AHEAD) {
            return Err(Error::invalid(
                "from",
                format!("must be within {MAX_DAYS_AHEAD} days"),
            ));
        }
        if request.to - request.from > Duration::days(MAX_RANGE_DAYS) {
            return Err(Error::invalid(
                "to",
                format!("the range may span at most {MAX_RANGE_DAYS} days"),
            ));
        }
        let mut client = db::client(&self.pool).await?;
        let tx = client.transaction().await?;
        let role_of = async |id: Uuid| -> Result<Option<crate::auth::Role>> {
            tx.query_opt("SELECT role FROM users WHERE id = $1", &[&id])
                .await?
                .map(|r| enum_column(&r, "role"))
                .transpose()
        };
        let doctor_role = match request.doctor_id {
            Some(doctor) => Some(role_of(doctor).await?),
            None => None,
        };
        policy::waitlist_accounts(doctor_role, role_of(patient).await?)?;
        // One patient's entries are counted and added one request at a time.
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1::text, 7013))",
            &[&patient.to_string()],
        )
        .await?;
        let active: i64 = tx
            .query_one(
                "SELECT count(*) FROM waitlist_entries
                 WHERE patient_id = $1 AND status IN ('waiting', 'offered') AND range_to > now()",
                &[&patient],
            )
            .await?
            .get(0);
        if active >= MAX_ACTIVE_ENTRIES {
            return Err(Error::Conflict {
                code: "too-many-entries",
                message: format!(
                    "a patient waits on at most {MAX_ACTIVE_ENTRIES} waitlists at once; leave one first"
                ),
            });
        }
        let id = Uuid::new_v4();
        tx.execute(
            "INSERT INTO waitlist_entries (id, patient_id, doctor_id, specialty, appointment_type,
                                           range_from, range_to)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &id,
                &patient,
                &request.doctor_id,
                &specialty,
                &request.appointment_type.as_str(),
                &request.from,
                &request.to,
            ],
        )
        .await?;
        let row = tx
            .query_one(&format!("{} WHERE e.id = $1", entry_select()), &[&id])
            .await?;
        let entry = entry_from_row(&row)?;
        tx.commit().await?;
        tracing::info!(entry_id = %id, "waitlist joined");
        Ok(entry)
    }

    /// A patient's own entries (admins: anyone's, or everyone's), newest first.
    pub async fn list(
        &self,
        caller: &Caller,
        patient: Option<Uuid>,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<Entry>> {
        let patient = policy::waitlist_scope(caller, patient)?;
        let after = crate::pagination::decode(cursor)?;
        let (after_at, after_id) = after.unzip();
        let client = db::client(&self.pool).await?;
        let rows = client
            .query(
                &format!(
                    "{} WHERE ($1::uuid IS NULL OR e.patient_id = $1)
                       AND ($2::timestamptz IS NULL OR (e.created_at, e.id) < ($2, $3))
                     ORDER BY e.created_at DESC, e.id DESC LIMIT $4",
                    entry_select()
                ),
                &[&patient, &after_at, &after_id, &(limit as i64 + 1)],
            )
            .await?;
        let items = rows
            .iter()
            .map(entry_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(crate::pagination::page(items, limit, |e| {
            (e.created_at, e.entry_id)
        }))
    }

    /// Takes a patient off the waitlist; an open offer is withdrawn and passed on in the same
    /// transaction. Leaving twice answers the same.
    pub async fn leave(&self, caller: &Caller, entry: Uuid) -> Result<()> {
        let mut client = db::client(&self.pool).await?;
        let tx = client.transaction().await?;
        // The doctor's lock before any row, as `accept` and `close_and_pass_on` take them.
        let open = tx
            .query_opt(
                "SELECT id, doctor_id FROM waitlist_offers WHERE entry_id = $1 AND status = 'open'",
                &[&entry],
            )
            .await?;
        if let Some(open) = &open {
            lock_schedule(&tx, column(open, "doctor_id")?).await?;
        }
        let row = tx
            .query_opt(
                "SELECT patient_id, status FROM waitlist_entries WHERE id = $1 FOR UPDATE",
                &[&entry],
            )
            .await?
            .ok_or(Error::NotFound("waitlist entry"))?;
        if !policy::act_on_waitlist(caller, column(&row, "patient_id")?) {
            return Err(Error::NotFound("waitlist entry"));
        }
        let status: EntryStatus = enum_column(&row, "status")?;
        if matches!(status, EntryStatus::Left | EntryStatus::Booked) {
            return Ok(());
        }
        tx.execute(
            "UPDATE waitlist_entries SET status = 'left', updated_at = now() WHERE id = $1",
            &[&entry],
        )
        .await?;
        if let Some(open) = open {
            self.close_in(&tx, column(&open, "id")?, OfferStatus::Withdrawn)
                .await?;
        }
        tx.commit().await?;
        tracing::info!(entry_id = %entry, "waitlist left");
        Ok(())
    }

    /// Books the offered time for its patient (the patient, or an admin for them): 409 once
    /// the offer has expired or was declined or withdrawn. Accepting an accepted offer again
    /// answers its appointment ([`Booked::Replayed`]), so a retried request is safe.
    pub async fn accept(&self, caller: &Caller, offer: Uuid) -> Result<Booked> {
        let mut client = db::client(&self.pool).await?;
        let tx = client.transaction().await?;
        let parties = tx
            .query_opt(
                "SELECT patient_id, doctor_id FROM waitlist_offers WHERE id = $1",
                &[&offer],
            )
            .await?
            .ok_or(Error::NotFound("offer"))?;
        let patient: Uuid = column(&parties, "patient_id")?;
        if !policy::act_on_waitlist(caller, patient) {
            return Err(Error::NotFound("offer"));
        }
        lock_parties(&tx, column(&parties, "doctor_id")?, patient).await?;
        let row = tx
            .query_one(
                &format!(
                    "SELECT {OFFER_COLUMNS} FROM waitlist_offers o WHERE o.id = $1 FOR UPDATE"
                ),
                &[&offer],
            )
            .await?;
        let current = offer_from_row(&row)?;
        if let (OfferStatus::Accepted, Some(booked)) = (current.status, current.appointment_id) {
            let row = tx
                .query_one(
                    &format!("SELECT {COLUMNS} FROM appointments WHERE id = $1"),
                    &[&booked],
                )
                .await?;
            return Ok(Booked::Replayed(from_row(&row)?));
        }
        if current.status != OfferStatus::Open {
            return Err(Error::Conflict {
                code: "offer-closed",
                message: "this offer is no longer open".into(),
            });
        }
        let now = Utc::now();
        if current.expires_at <= now {
            return Err(Error::Conflict {
                code: "offer-expired",
                message: "this offer has expired and passes to the next patient".into(),
            });
        }
        let booking: Booking = BookingRequest {
            doctor_id: current.doctor_id,
            start_time: current.start_time,
            appointment_type: current.appointment_type,
            reason: None,
            patient_id: None,
        }
        .validated(now)?;
        let (appointment, _event) =
            match book_in(&tx, caller.user_id, patient, &booking, Some(offer)).await {
                Ok(booked) => booked,
                // The patient booked something else at this time meanwhile: the hold serves
                // nobody, so it passes on (the failed insert ended this transaction).
                Err(Error::Conflict {
                    code: "patient-busy",
                    message,
                }) => {
                    drop(tx);
                    drop(client);
                    self.close_and_pass_on(offer, OfferStatus::Withdrawn)
                        .await?;
                    return Err(Error::Conflict {
                        code: "patient-busy",
                        message,
                    });
                }
                Err(e) => return Err(e),
            };
        tx.execute(
            "UPDATE waitlist_offers SET status = 'accepted', closed_at = now(), appointment_id = $2
             WHERE id = $1",
            &[&offer, &appointment.appointment_id],
        )
        .await?;
        tx.execute(
            "UPDATE waitlist_entries SET status = 'booked', updated_at = now() WHERE id = $1",
            &[&current.entry_id],
        )
        .await?;
        tx.commit().await?;
        tracing::info!(offer_id = %offer, appointment_id = %appointment.appointment_id, "waitlist offer accepted");
        // outbox-relay publishes AppointmentCreated (this function links no Kafka client).
        Ok(Booked::Created(appointment))
    }

    /// Declines an open offer: it passes to the next patient at once. Declining a closed offer
    /// changes nothing.
    pub async fn decline(&self, caller: &Caller, offer: Uuid) -> Result<()> {
        let client = db::client(&self.pool).await?;
        let row = client
            .query_opt(
                "SELECT patient_id FROM waitlist_offers WHERE id = $1",
                &[&offer],
            )
            .await?
            .ok_or(Error::NotFound("offer"))?;
        if !policy::act_on_waitlist(caller, column(&row, "patient_id")?) {
            return Err(Error::NotFound("offer"));
        }
        drop(client);
        self.close_and_pass_on(offer, OfferStatus::Declined).await?;
        Ok(())
    }

    /// Offers a time an event freed to the first patient waiting for it. `None` when the event
    /// was seen before, nobody waits for the time, or it is no longer free or bookable.
    pub async fn slot_freed(&self, freed: &FreedSlot) -> Result<Option<Offer>> {
        let mut client = db::client(&self.pool).await?;
        let tx = client.transaction().await?;
        let fresh = tx
            .execute(
                "INSERT INTO waitlist_freed_slots (event_id, doctor_id, appointment_type, start_time, end_time)
                 SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM users WHERE id = $2)
                 ON CONFLICT (event_id) DO NOTHING",
                &[
                    &freed.event_id,
                    &freed.doctor_id,
                    &freed.appointment_type.as_str(),
                    &freed.start_time,
                    &freed.end_time,
                ],
            )
            .await?;
        if fresh == 0 {
            return Ok(None);
        }
        let offer = self.offer_next(&tx, freed.event_id).await?;
        tx.commit().await?;
        Ok(offer)
    }

    /// Closes every open offer whose hold has run out and passes each time on. Answers the
    /// offers made.
    pub async fn sweep(&self) -> Result<Vec<Offer>> {
        let client = db::client(&self.pool).await?;
        let due: Vec<Uuid> = client
            .query(
                "SELECT id FROM waitlist_offers WHERE status = 'open' AND expires_at <= now()
                 ORDER BY expires_at LIMIT 500",
                &[],
            )
            .await?
            .iter()
            .map(|r| column(r, "id"))
            .collect::<Result<_>>()?;
        drop(client);
        let mut made = Vec::new();
        for offer in due {
            made.extend(self.close_and_pass_on(offer, OfferStatus::Expired).await?);
        }
        Ok(made)
    }

    /// Open offers whose e-mail has not gone out (made by a decline, a leave or the sweep, or
    /// left by a crash between the offer and its mail).
    pub async fn unnotified(&self) -> Result<Vec<Offer>> {
        let client = db::client(&self.pool).await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {OFFER_COLUMNS} FROM waitlist_offers o
                     WHERE o.status = 'open' AND o.notified_at IS NULL AND o.expires_at > now()
                     ORDER BY o.created_at LIMIT 500"
                ),
                &[],
            )
            .await?;
        rows.iter().map(offer_from_row).collect()
    }

    /// Closes `offer` as `status` if it is still open (for an expiry: only once its hold ran
    /// out) and offers its time to the next patient, in a transaction of its own.
    async fn close_and_pass_on(&self, offer: Uuid, status: OfferStatus) -> Result<Option<Offer>> {
        let mut client = db::client(&self.pool).await?;
        let tx = client.transaction().await?;
        // The doctor's schedule lock before the offer's row, in the order `accept` takes them
        // (its parties' locks, then the row): the other order deadlocks an accept racing the
        // sweep or a decline.
        let Some(doctor) = tx
            .query_opt(
                "SELECT doctor_id FROM waitlist_offers WHERE id = $1",
                &[&offer],
            )
            .await?
        else {
            return Ok(None);
        };
        lock_schedule(&tx, column(&doctor, "doctor_id")?).await?;
        let next = self.close_in(&tx, offer, status).await?;
        tx.commit().await?;
        Ok(next)
    }

    /// [`Self::close_and_pass_on`] in `tx`, whose caller holds the doctor's lock.
    async fn close_in(
        &self,
        tx: &db::Transaction<'_>,
        offer: Uuid,
        status: OfferStatus,
    ) -> Result<Option<Offer>> {
        let row = tx
            .query_opt(
                "UPDATE waitlist_offers SET status = $2, closed_at = now()
                 WHERE id = $1 AND status = 'open' AND ($2 <> 'expired' OR expires_at <= now())
                 RETURNING freed_slot, entry_id",
                &[&offer, &status_str(status)],
            )
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        tx.execute(
            "UPDATE waitlist_entries SET status = 'waiting', updated_at = now()
             WHERE id = $1 AND status = 'offered'",
            &[&column::<Uuid>(&row, "entry_id")?],
        )
        .await?;
        let next = self.offer_next(tx, column(&row, "freed_slot")?).await?;
        tracing::info!(offer_id = %offer, status = status_str(status), passed_on = next.is_some(), "waitlist offer closed");
        Ok(next)
    }

    /// Offers the freed time `freed` to the first entry that wants it and has not been offered
    /// it, if the time is still free, bookable and far enough ahead. Under the doctor's lock,
    /// like bookings, so a booking and an offer of one time cannot both succeed.
    async fn offer_next(&self, tx: &db::Transaction<'_>, freed: Uuid) -> Result<Option<Offer>> {
        let slot = tx
            .query_one(
                "SELECT doctor_id, appointment_type, start_time, end_time FROM waitlist_freed_slots
                 WHERE event_id = $1",
                &[&freed],
            )
            .await?;
        let doctor: Uuid = column(&slot, "doctor_id")?;
        let kind: AppointmentType = enum_column(&slot, "appointment_type")?;
        let start: DateTime<Utc> = column(&slot, "start_time")?;
        let end: DateTime<Utc> = column(&slot, "end_time")?;
        let now = Utc::now();
        if start <= now {
            return Ok(None);
        }
        lock_schedule(tx, doctor).await?;
        // Still bookable by the doctor's current availability and nobody else's since.
        let booking = Booking {
            doctor_id: doctor,
            start_time: start,
            end_time: end,
            appointment_type: kind,
            reason: None,
        };
        let availability = match service::check_schedule_for_offer(tx, &booking).await {
            Ok(availability) => availability,
            Err(Error::Internal(e)) => return Err(Error::Internal(e)),
            Err(Error::Unavailable(e)) => return Err(Error::Unavailable(e)),
            Err(refused) => {
                tracing::info!(reason = %refused.safe_description(), "freed time no longer bookable; not offered");
                return Ok(None);
            }
        };
        // Held while it can still be accepted: until the doctor's minimum notice before the
        // start at the latest.
        let expires = (now + self.settings.hold).min(start - availability.notice());
        if expires <= now {
            return Ok(None);
        }
        let entry = tx
            .query_opt(
                "SELECT e.id, e.patient_id FROM waitlist_entries e
                 WHERE e.status = 'waiting' AND e.appointment_type = $2
                   AND e.range_from <= $3 AND e.range_to >= $4
                   AND (e.doctor_id = $1 OR lower(e.specialty) =
                        (SELECT lower(specialty) FROM users WHERE id = $1))
                   AND NOT EXISTS (SELECT 1 FROM waitlist_offers o
                                   WHERE o.freed_slot = $5 AND o.entry_id = e.id)
                   AND NOT EXISTS (SELECT 1 FROM appointments a
                                   WHERE a.patient_id = e.patient_id AND a.status <> 'cancelled'
                                     AND a.start_time < $4 AND a.end_time > $3)
                   AND NOT EXISTS (SELECT 1 FROM waitlist_offers o
                                   WHERE o.patient_id = e.patient_id AND o.status = 'open'
                                     AND o.expires_at > now()
                                     AND o.start_time < $4 AND o.end_time > $3)
                   -- Offers reach patients by e-mail: a hold nobody is told of would only
                   -- keep the time from everyone else.
                   AND coalesce((SELECT p.email FROM notification_preferences p
                                 WHERE p.user_id = e.patient_id), true)
                 ORDER BY e.created_at, e.id
                 LIMIT 1
                 FOR UPDATE OF e SKIP LOCKED",
                &[&doctor, &kind.as_str(), &start, &end, &freed],
            )
            .await?;
        let Some(entry) = entry else {
            return Ok(None);
        };
        let entry_id: Uuid = column(&entry, "id")?;
        let patient: Uuid = column(&entry, "patient_id")?;
        let id = Uuid::new_v4();
        let row = tx
            .query_one(
                &format!(
                    "INSERT INTO waitlist_offers AS o (id, freed_slot, entry_id, patient_id, doctor_id,
                                                      appointment_type, start_time, end_time, expires_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                     RETURNING {OFFER_COLUMNS}"
                ),
                &[
                    &id,
                    &freed,
                    &entry_id,
                    &patient,
                    &doctor,
                    &kind.as_str(),
                    &start,
                    &end,
                    &expires,
                ],
            )
            .await?;
        tx.execute(
            "UPDATE waitlist_entries SET status = 'offered', updated_at = now() WHERE id = $1",
            &[&entry_id],
        )
        .await?;
        tracing::info!(offer_id = %id, entry_id = %entry_id, "waitlist offer made");
        offer_from_row(&row).map(Some)
    }

    /// Records that an offer's e-mail went out (or was not wanted).
    pub async fn mark_notified(&self, offer: Uuid) -> Result<()> {
        let client = db::client(&self.pool).await?;
        client
            .execute(
                "UPDATE waitlist_offers SET notified_at = now() WHERE id = $1 AND notified_at IS NULL",
                &[&offer],
            )
            .await?;
        Ok(())
    }
}

fn status_str(status: OfferStatus) -> &'static str {
    match status {
        OfferStatus::Open => "open",
        OfferStatus::Accepted => "accepted",
        OfferStatus::Declined => "declined",
        OfferStatus::Expired => "expired",
        OfferStatus::Withdrawn => "withdrawn",
    }
}
