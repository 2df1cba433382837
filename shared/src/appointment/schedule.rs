//! Doctors' availability on PostgreSQL and the free slots it leaves.
//!
//! Reading a doctor's availability and their booked appointments takes two indexed queries;
//! the slots are then computed in memory ([`Availability::free_slots`]).

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::AppointmentType;
use super::availability::{Availability, AvailabilityDocument, Busy};
use crate::auth::Caller;
use crate::db::{self, PgPool, column};
use crate::pagination::Page;
use crate::policy;
use crate::{Error, Result};

/// How many doctors one `GET /slots` looks at.
pub const MAX_DOCTORS_PER_SEARCH: i64 = 200;
/// Appointments that end this long before a slot (or start this long after) cannot touch it,
/// whatever the buffer: the longest appointment type plus the largest buffer.
const REACH: Duration = Duration::minutes(30 + 120);

/// A doctor's availability with its version (the `ETag`).
#[derive(Debug, Clone)]
pub struct Versioned {
    pub document: AvailabilityDocument,
    pub version: i32,
}

/// A free start time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Slot {
    pub doctor_id: Uuid,
    pub start_time: DateTime<Utc>,
    pub end_time: DateTime<Utc>,
}

#[derive(Clone)]
pub struct Schedules {
    pool: PgPool,
}

impl crate::config::FromVars for Schedules {
    async fn build(vars: &crate::config::Vars) -> Result<Self, crate::config::ConfigError> {
        Ok(Self::new(db::DbConfig::from_vars(vars).await?.pool()?))
    }
}

/// A stored document that no longer validates (written before a rule it now breaks, e.g. by a
/// migration or by hand) makes the doctor unbookable until the doctor or an admin saves it
/// again: 409 `availability-invalid` naming no detail, the cause in the log.
pub(crate) fn stored(document: serde_json::Value) -> Result<Availability> {
    let checked = serde_json::from_value::<AvailabilityDocument>(document)
        .map_err(|e| e.to_string())
        .and_then(|d| d.validated().map_err(|e| e.safe_description()));
    checked.map_err(|cause| {
        tracing::error!(%cause, "stored availability no longer valid");
        Error::Conflict {
            code: "availability-invalid",
            message: "this doctor's availability must be saved again by the doctor or an admin \
                      before they can be booked"
                .into(),
        }
    })
}

/// The appointments of `doctors` that can touch slots in `[from, to)`, and the times held
/// for waitlisted patients (an open offer: nobody else may book it until it closes).
pub(crate) async fn busy(
    client: &impl deadpool_postgres::GenericClient,
    doctors: &[Uuid],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<(Uuid, Busy)>> {
    let rows = client
        .query(
            "SELECT doctor_id, start_time, end_time FROM appointments
             WHERE doctor_id = ANY($1) AND status <> 'cancelled'
               AND start_time < $3 AND end_time > $2
             UNION ALL
             SELECT doctor_id, start_time, end_time FROM waitlist_offers
             WHERE doctor_id = ANY($1) AND status = 'open' AND expires_at > now()
               AND start_time < $3 AND end_time > $2
             ORDER BY start_time",
            &[&doctors, &(from - REACH), &(to + REACH)],
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok((
                column(row, "doctor_id")?,
                Busy {
                    start: column(row, "start_time")?,
                    end: column(row, "end_time")?,
                },
            ))
        })
        .collect()
}

impl Schedules {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// A doctor's availability; 404 when the account is not a doctor or has none.
    pub async fn availability(&self, doctor: Uuid) -> Result<Versioned> {
        let client = db::client(&self.pool).await?;
        let row = client
            .query_opt(
                "SELECT document, version FROM doctor_availability WHERE doctor_id = $1",
                &[&doctor],
            )
            .await?
            .ok_or(Error::NotFound("availability"))?;
        Ok(Versioned {
            document: stored(column(&row, "document")?)?.document(),
            version: column(&row, "version")?,
        })
    }

    /// Replaces a doctor's availability (the doctor or an admin), if it is still at
    /// `expected_version` when one is given (412 otherwise).
    pub async fn replace(
        &self,
        caller: &Caller,
        doctor: Uuid,
        document: &AvailabilityDocument,
        expected_version: Option<i32>,
    ) -> Result<Versioned> {
        policy::manage_availability(caller, doctor)?;
        let availability = document.validated()?;
        let canonical = availability.document();
        let json = serde_json::to_value(&canonical).map_err(Error::internal)?;
        let mut client = db::client(&self.pool).await?;
        let tx = client.transaction().await?;
        let role = tx
            .query_opt("SELECT role FROM users WHERE id = $1", &[&doctor])
            .await?
            .map(|row| db::enum_column::<crate::auth::Role>(&row, "role"))
            .transpose()?;
        if role != Some(crate::auth::Role::Doctor) {
            return Err(Error::NotFound("doctor"));
        }
        let current: Option<i32> = tx
            .query_opt(
                "SELECT version FROM doctor_availability WHERE doctor_id = $1 FOR UPDATE",
                &[&doctor],
            )
            .await?
            .map(|row| column(&row, "version"))
            .transpose()?;
        if let Some(expected) = expected_version
            && current != Some(expected)
        {
            return Err(Error::PreconditionFailed(
                "the availability changed since you read it; read it again and retry".into(),
            ));
        }
        let row = tx
            .query_one(
                "INSERT INTO doctor_availability (doctor_id, document, updated_by)
                 VALUES ($1, $2, $3)
                 ON CONFLICT (doctor_id) DO UPDATE
                 SET document = excluded.document, version = doctor_availability.version + 1,
                     updated_at = now(), updated_by = excluded.updated_by
                 RETURNING version",
                &[&doctor, &json, &caller.user_id],
            )
            .await?;
        tx.commit().await?;
        tracing::info!(doctor_id = %doctor, "availability replaced");
        Ok(Versioned {
            document: canonical,
            version: column(&row, "version")?,
        })
    }

    /// The free start times of one doctor in `[from, to)`, with the doctor's time zone.
    pub async fn doctor_slots(
        &self,
        doctor: Uuid,
        kind: AppointmentType,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<(String, Vec<Slot>)> {
        let client = db::client(&self.pool).await?;
        let row = client
            .query_opt(
                "SELECT document FROM doctor_availability WHERE doctor_id = $1",
                &[&doctor],
            )
            .await?
            .ok_or(Error::NotFound("availability"))?;
        let availability = stored(column(&row, "document")?)?;
        let busy: Vec<Busy> = busy(&client, &[doctor], from, to)
            .await?
            .into_iter()
            .map(|(_, b)| b)
            .collect();
        drop(client);
        let length = Duration::minutes(kind.duration_minutes().into());
        let slots = availability
            .free_slots(kind, from, to, Utc::now(), &busy)
            .into_iter()
            .map(|start| Slot {
                doctor_id: doctor,
                start_time: start,
                end_time: start + length,
            })
            .collect();
        Ok((availability.time_zone().name().to_owned(), slots))
    }

    /// Free start times across doctors (of one specialty, compared case-insensitively, or all),
    /// in time order, a page at a time.
    pub async fn search(
        &self,
        specialty: Option<&str>,
        kind: AppointmentType,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<Slot>> {
        let after = crate::pagination::decode(cursor)?;
        let client = db::client(&self.pool).await?;
        let rows = client
            .query(
                "SELECT a.doctor_id, a.document FROM doctor_availability a
                 JOIN users u ON u.id = a.doctor_id
                 WHERE u.role = 'doctor'
                   AND ($1::text IS NULL OR lower(u.specialty) = lower($1))
                   AND a.document->'appointment_types' ? $2
                 ORDER BY a.doctor_id
                 LIMIT $3",
                &[&specialty, &kind.as_str(), &MAX_DOCTORS_PER_SEARCH],
            )
            .await?;
        let mut doctors = Vec::with_capacity(rows.len());
        for row in &rows {
            let doctor: Uuid = column(row, "doctor_id")?;
            // One doctor's broken document must not take everyone's search down.
            match stored(column(row, "document")?) {
                Ok(availability) => doctors.push((doctor, availability)),
                Err(e) => {
                    tracing::error!(doctor_id = %doctor, cause = %e.safe_description(), "availability unreadable; left out of the search");
                }
            }
        }
        let ids: Vec<Uuid> = doctors.iter().map(|(id, _)| *id).collect();
        let mut busy_by_doctor: std::collections::HashMap<Uuid, Vec<Busy>> = Default::default();
        for (doctor, b) in busy(&client, &ids, from, to).await? {
            busy_by_doctor.entry(doctor).or_default().push(b);
        }
        drop(client);
        let now = Utc::now();
        let length = Duration::minutes(kind.duration_minutes().into());
        let mut slots: Vec<Slot> = doctors
            .iter()
            .flat_map(|(doctor, availability)| {
                let busy = busy_by_doctor.get(doctor).map_or(&[][..], |b| &b[..]);
                availability
                    .free_slots(kind, from, to, now, busy)
                    .into_iter()
                    .map(|start| Slot {
                        doctor_id: *doctor,
                        start_time: start,
                        end_time: start + length,
                    })
                    .collect::<Vec<_>>()
            })
            .filter(|slot| after.is_none_or(|a| (slot.start_time, slot.doctor_id) > a))
            .collect();
        slots.sort_by_key(|s| (s.start_time, s.doctor_id));
        slots.truncate(limit + 1);
        Ok(crate::pagination::page(slots, limit, |s| {
            (s.start_time, s.doctor_id)
        }))
    }
}
