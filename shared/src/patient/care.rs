//! Care relationships, break-the-glass grants and the access log, over the records table.
//!
//! The facts live beside the patient's records, so a doctor's access costs one query of the
//! patient's partition (`CARE#{doctor}#…`):
//! - appointment: `sk = CARE#{doctor}#APPT#{appointment_id}`, projected from the `appointments`
//!   topic by `care-relationships` (a cancellation is kept as a cancelled item, so a redelivered
//!   booking cannot bring it back);
//! - care-team assignment: `sk = CARE#{doctor}#TEAM`, made and ended by admins;
//! - emergency grant: `sk = CARE#{doctor}#EMERGENCY#{grant_id}`, opened by the doctor.
//!
//! Appointments and assignments are also on `gsi1` under `CARE#{doctor}` (a doctor's patient
//! list); emergency grants under `EMERGENCY`, newest first (what admins review).
//! What the facts are worth at a given time is the policy's rule ([`CareRules`]).

use std::collections::BTreeSet;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::store::{RecordsTable, audit_pk, patient_pk, sortable_time};
use super::{AuditEvent, Outcome};
use crate::auth::Caller;
use crate::config::{ConfigError, Vars};
use crate::dynamo::{Item, decode_cursor, from_item, page, s, sdk_error, to_item, transact};
use crate::events::appointment::AppointmentEvent;
use crate::pagination::Page;
use crate::policy::{self, Access, Action, CareLink, CareRules, ProfileScope, Relationship};
use crate::validate::bounded_text;
use crate::{Error, Result};

const EMERGENCY: &str = "EMERGENCY";
const GSI1: &str = "gsi1";
/// The longest reason a break-the-glass grant or an assignment takes.
pub const REASON_MAX: usize = 500;
/// The shortest reason a break-the-glass grant takes: a reviewer must be able to judge it.
pub const EMERGENCY_REASON_MIN: usize = 10;

fn care_prefix(doctor: Uuid) -> String {
    format!("CARE#{doctor}#")
}

fn doctor_gsi(doctor: Uuid) -> String {
    format!("CARE#{doctor}")
}

/// A time as the store holds it (the same serialisation every item's times get).
fn stored_time(t: &DateTime<Utc>) -> Result<AttributeValue> {
    match serde_dynamo::to_attribute_value(t).map_err(Error::internal)? {
        AttributeValue::S(text) => Ok(AttributeValue::S(text)),
        _ => Err(Error::internal("a time is not stored as a string")),
    }
}

/// One stored link between a doctor and a patient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CareRecord {
    Appointment {
        patient_id: Uuid,
        doctor_id: Uuid,
        appointment_id: Uuid,
        start_time: DateTime<Utc>,
        cancelled: bool,
        /// The appointment's revision this record reflects (moves delivered out of order keep
        /// the later start).
        #[serde(default = "first_revision")]
        revision: u32,
    },
    CareTeam {
        patient_id: Uuid,
        doctor_id: Uuid,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        assigned_by: Uuid,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    Emergency {
        patient_id: Uuid,
        doctor_id: Uuid,
        grant_id: Uuid,
        granted_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        reason: String,
    },
}

fn first_revision() -> u32 {
    1
}

impl CareRecord {
    pub fn doctor_id(&self) -> Uuid {
        match self {
            Self::Appointment { doctor_id, .. }
            | Self::CareTeam { doctor_id, .. }
            | Self::Emergency { doctor_id, .. } => *doctor_id,
        }
    }

    pub fn patient_id(&self) -> Uuid {
        match self {
            Self::Appointment { patient_id, .. }
            | Self::CareTeam { patient_id, .. }
            | Self::Emergency { patient_id, .. } => *patient_id,
        }
    }

    /// The fact the policy weighs.
    pub fn link(&self) -> CareLink {
        match *self {
            Self::Appointment {
                start_time,
                cancelled,
                ..
            } => CareLink::Appointment {
                start_time,
                cancelled,
            },
            Self::CareTeam { since, until, .. } => CareLink::CareTeam { since, until },
            Self::Emergency {
                grant_id,
                granted_at,
                expires_at,
                ..
            } => CareLink::Emergency {
                grant_id,
                granted_at,
                expires_at,
            },
        }
    }

    fn item(&self) -> Result<Item> {
        let (patient, doctor) = (self.patient_id(), self.doctor_id());
        let (sk, gsi1pk, gsi1sk) = match self {
            Self::Appointment { appointment_id, .. } => (
                format!("{}APPT#{appointment_id}", care_prefix(doctor)),
                doctor_gsi(doctor),
                format!("{patient}#APPT#{appointment_id}"),
            ),
            Self::CareTeam { .. } => (
                format!("{}TEAM", care_prefix(doctor)),
                doctor_gsi(doctor),
                format!("{patient}#TEAM"),
            ),
            Self::Emergency {
                grant_id,
                granted_at,
                ..
            } => (
                format!("{}EMERGENCY#{grant_id}", care_prefix(doctor)),
                EMERGENCY.to_owned(),
                format!("{}#{grant_id}", sortable_time(granted_at)),
            ),
        };
        to_item(
            self,
            &[
                ("pk", patient_pk(patient)),
                ("sk", sk),
                ("gsi1pk", gsi1pk),
                ("gsi1sk", gsi1sk),
            ],
        )
    }
}

/// A link as the care-team list shows it: the record and whether it holds now.
#[derive(Debug, Clone, Serialize)]
pub struct CareEntry {
    #[serde(flatten)]
    pub record: CareRecord,
    pub active: bool,
}

/// One line of a patient's access log: the audit event and whether it was an emergency access.
#[derive(Debug, Clone, Serialize)]
pub struct AccessLogEntry {
    #[serde(flatten)]
    pub event: AuditEvent,
    pub emergency: bool,
}

/// A break-the-glass grant as its doctor receives it.
#[derive(Debug, Clone, Serialize)]
pub struct EmergencyGrant {
    pub grant_id: Uuid,
    pub patient_id: Uuid,
    pub doctor_id: Uuid,
    pub reason: String,
    pub granted_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// What applying an appointment event changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Projected {
    Linked,
    /// The link now follows the appointment's new start.
    Moved,
    /// Nothing to change (attendance: the appointment's start, which the rule reads, stays).
    Unchanged,
    Cancelled,
    /// A redelivery, or a booking whose cancellation was already applied.
    AlreadyApplied,
}

/// Care relationships and what hangs off them: the relationship a doctor has with a patient,
/// the care team, emergency grants and the access log.
#[derive(Clone, Debug)]
pub struct Care {
    store: RecordsTable,
    rules: CareRules,
}

impl crate::config::FromVars for Care {
    async fn build(vars: &Vars) -> Result<Self, ConfigError> {
        Ok(Self::new(
            RecordsTable::from_vars(vars).await?,
            CareRules::from_vars(vars)?,
        ))
    }
}

impl Care {
    pub fn new(store: RecordsTable, rules: CareRules) -> Self {
        Self { store, rules }
    }

    pub fn store(&self) -> &RecordsTable {
        &self.store
    }

    pub fn rules(&self) -> &CareRules {
        &self.rules
    }

    async fn query_all(&self, query: QueryOn) -> Result<Vec<CareRecord>> {
        let mut records = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let mut q = self
                .store
                .client()
                .query()
                .table_name(self.store.table_name())
                .set_exclusive_start_key(start.take());
            q = match &query {
                QueryOn::Patient { pk, prefix } => q
                    .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                    .expression_attribute_values(":pk", s(pk.as_str()))
                    .expression_attribute_values(":prefix", s(prefix.as_str()))
                    .consistent_read(true),
                QueryOn::Doctor(doctor) => q
                    .index_name(GSI1)
                    .key_condition_expression("gsi1pk = :pk")
                    .expression_attribute_values(":pk", s(doctor_gsi(*doctor))),
            };
            let out = q.send().await.map_err(sdk_error)?;
            for item in out.items.unwrap_or_default() {
                records.push(from_item(item)?);
            }
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(records),
            }
        }
    }

    /// Every link between `doctor` and `patient` (strongly consistent: an assignment or grant
    /// just made counts at once).
    pub async fn links(&self, patient: Uuid, doctor: Uuid) -> Result<Vec<CareRecord>> {
        self.query_all(QueryOn::Patient {
            pk: patient_pk(patient),
            prefix: care_prefix(doctor),
        })
        .await
    }

    /// The caller's relationship with `patient`: looked up only when the policy weighs it.
    pub async fn relationship(&self, caller: &Caller, patient: Uuid) -> Result<Relationship> {
        if !policy::needs_relationship(caller) {
            return Ok(Relationship::None);
        }
        let links: Vec<CareLink> = self
            .links(patient, caller.user_id)
            .await?
            .iter()
            .map(CareRecord::link)
            .collect();
        Ok(self.rules.relationship(&links, Utc::now()))
    }

    /// Checks `action` on `patient`'s records; a denial is audited (best effort) before it is
    /// returned. Every service over the records table asks here.
    pub async fn allow(&self, caller: &Caller, action: Action, patient: Uuid) -> Result<Access> {
        let relationship = self.relationship(caller, patient).await?;
        match policy::patient_record(caller, action, patient, relationship) {
            Ok(access) => Ok(access),
            Err(denied) => Err(self.denied(caller, patient, action, denied).await),
        }
    }

    /// Audits a denial on the patient's trail (best effort: the denial stands either way) and
    /// hands it back.
    async fn denied(&self, caller: &Caller, patient: Uuid, action: Action, denied: Error) -> Error {
        let event = AuditEvent::new(caller, patient, action, Outcome::Denied);
        if let Err(e) = self.store.record(&[event]).await {
            tracing::warn!(error = %e.safe_description(), "could not audit a denial");
        }
        denied
    }

    /// The patients a profile list covers for this scope, in id order, after `after`; `None`
    /// for every patient (an admin's list, which the name index serves).
    pub async fn patients_in_scope(&self, scope: ProfileScope) -> Result<Option<Vec<Uuid>>> {
        let ProfileScope::CareOf(doctor) = scope else {
            return Ok(None);
        };
        let now = Utc::now();
        let patients: BTreeSet<Uuid> = self
            .query_all(QueryOn::Doctor(doctor))
            .await?
            .iter()
            .filter(|r| self.rules.holds(&r.link(), now))
            .map(CareRecord::patient_id)
            .collect();
        Ok(Some(patients.into_iter().collect()))
    }

    /// Applies an `appointments` event: idempotent, and order-safe for one appointment (a
    /// cancellation wins over any redelivery of its booking).
    pub async fn project(&self, event: &AppointmentEvent) -> Result<Projected> {
        let rescheduled = |e: &crate::events::AppointmentRescheduled| CareRecord::Appointment {
            patient_id: e.patient_id,
            doctor_id: e.doctor_id,
            appointment_id: e.appointment_id,
            start_time: e.start_time,
            cancelled: false,
            revision: e.revision,
        };
        let (record, condition, outcome) = match event {
            AppointmentEvent::Created(e) => (
                CareRecord::Appointment {
                    patient_id: e.patient_id,
                    doctor_id: e.doctor_id,
                    appointment_id: e.appointment_id,
                    start_time: e.start_time,
                    cancelled: false,
                    revision: first_revision(),
                },
                Some("attribute_not_exists(pk)"),
                Projected::Linked,
            ),
            // Newer than what is recorded, and never over a cancellation.
            AppointmentEvent::Rescheduled(e) => (
                rescheduled(e),
                Some(
                    "attribute_not_exists(pk) OR (cancelled = :no AND \
                     (attribute_not_exists(revision) OR revision < :revision))",
                ),
                Projected::Moved,
            ),
            AppointmentEvent::Attended(_) | AppointmentEvent::NoShow(_) => {
                return Ok(Projected::Unchanged);
            }
            AppointmentEvent::Cancelled(e) => (
                CareRecord::Appointment {
                    patient_id: e.patient_id,
                    doctor_id: e.doctor_id,
                    appointment_id: e.appointment_id,
                    start_time: e.start_time,
                    cancelled: true,
                    revision: first_revision(),
                },
                None,
                Projected::Cancelled,
            ),
        };
        let mut put = self
            .store
            .client()
            .put_item()
            .table_name(self.store.table_name())
            .set_item(Some(record.item()?))
            .set_condition_expression(condition.map(str::to_owned));
        if let AppointmentEvent::Rescheduled(e) = event {
            put = put
                .expression_attribute_values(
                    ":no",
                    aws_sdk_dynamodb::types::AttributeValue::Bool(false),
                )
                .expression_attribute_values(
                    ":revision",
                    aws_sdk_dynamodb::types::AttributeValue::N(e.revision.to_string()),
                );
        }
        match put.send().await {
            Ok(_) => Ok(outcome),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(Projected::AlreadyApplied)
            }
            Err(e) => Err(sdk_error(e)),
        }
    }

    /// Assigns `doctor` to `patient`'s care team until `until` (replacing an earlier
    /// assignment: an admin extends or shortens it the same way). The caller has checked that
    /// `doctor` holds a doctor's account.
    pub async fn assign(
        &self,
        caller: &Caller,
        patient: Uuid,
        doctor: Uuid,
        until: DateTime<Utc>,
        reason: Option<&str>,
    ) -> Result<CareEntry> {
        self.require_manager(caller, patient).await?;
        let now = Utc::now();
        if until <= now {
            return Err(Error::invalid("until", "must be in the future"));
        }
        let reason = reason
            .map(|r| bounded_text("reason", r, REASON_MAX))
            .transpose()?;
        let record = CareRecord::CareTeam {
            patient_id: patient,
            doctor_id: doctor,
            since: now,
            until,
            assigned_by: caller.user_id,
            reason,
        };
        let audit = AuditEvent::new(caller, patient, Action::ManageCareTeam, Outcome::Allowed);
        let items = vec![
            self.store.put(record.item()?, None)?,
            self.store.put(RecordsTable::audit_item(&audit)?, None)?,
        ];
        transact(self.store.client(), items, |_| {
            Error::Unavailable("the assignment was not written".into())
        })
        .await?;
        tracing::info!(actor = %caller.user_id, "care-team assignment made");
        Ok(CareEntry {
            active: true,
            record,
        })
    }

    /// Ends `doctor`'s care-team assignment to `patient` now; 404 if there is none in force.
    pub async fn end_assignment(&self, caller: &Caller, patient: Uuid, doctor: Uuid) -> Result<()> {
        self.require_manager(caller, patient).await?;
        let now = Utc::now();
        let current =
            self.links(patient, doctor).await?.into_iter().find(|r| {
                matches!(r, CareRecord::CareTeam { .. }) && self.rules.holds(&r.link(), now)
            });
        let Some(CareRecord::CareTeam {
            since,
            until: read_until,
            assigned_by,
            reason,
            ..
        }) = current
        else {
            return Err(Error::NotFound("care-team assignment"));
        };
        let ended = CareRecord::CareTeam {
            patient_id: patient,
            doctor_id: doctor,
            since,
            until: now,
            assigned_by,
            reason,
        };
        let audit = AuditEvent::new(caller, patient, Action::ManageCareTeam, Outcome::Allowed);
        // Only over the assignment read: an extension that landed meanwhile is not undone.
        let put = aws_sdk_dynamodb::types::Put::builder()
            .table_name(self.store.table_name())
            .set_item(Some(ended.item()?))
            .condition_expression("#until = :read")
            .expression_attribute_names("#until", "until")
            .expression_attribute_values(":read", stored_time(&read_until)?)
            .build()
            .map_err(Error::internal)?;
        let items = vec![
            aws_sdk_dynamodb::types::TransactWriteItem::builder()
                .put(put)
                .build(),
            self.store.put(RecordsTable::audit_item(&audit)?, None)?,
        ];
        transact(self.store.client(), items, |_| {
            Error::PreconditionFailed(
                "the assignment changed while it was being ended; read the care team and retry"
                    .into(),
            )
        })
        .await?;
        tracing::info!(actor = %caller.user_id, "care-team assignment ended");
        Ok(())
    }

    /// Admins only ([`policy::manage_care`]); a denial is audited on the patient's trail.
    pub async fn require_manager(&self, caller: &Caller, patient: Uuid) -> Result<()> {
        match policy::manage_care(caller) {
            Ok(()) => Ok(()),
            Err(denied) => Err(self
                .denied(caller, patient, Action::ManageCareTeam, denied)
                .await),
        }
    }

    /// Everyone linked to `patient`: assignments, appointments and emergency grants, each with
    /// whether it holds now. The patient (own) and admins.
    pub async fn team(&self, caller: &Caller, patient: Uuid) -> Result<Vec<CareEntry>> {
        let access = self.allow(caller, Action::ReadCareTeam, patient).await?;
        let now = Utc::now();
        let records = self
            .query_all(QueryOn::Patient {
                pk: patient_pk(patient),
                prefix: "CARE#".to_owned(),
            })
            .await?;
        let audit =
            AuditEvent::new(caller, patient, Action::ReadCareTeam, Outcome::Allowed).under(access);
        self.store.record(&[audit]).await?;
        Ok(records
            .into_iter()
            .map(|record| CareEntry {
                active: self.rules.holds(&record.link(), now),
                record,
            })
            .collect())
    }

    /// Doctors only ([`policy::open_emergency_access`]); a denial is audited on the patient's
    /// trail.
    pub async fn require_emergency_opener(&self, caller: &Caller, patient: Uuid) -> Result<()> {
        match policy::open_emergency_access(caller) {
            Ok(()) => Ok(()),
            Err(denied) => Err(self
                .denied(caller, patient, Action::EmergencyAccess, denied)
                .await),
        }
    }

    /// Opens a break-the-glass grant: `caller` (a doctor) may then use `patient`'s records for
    /// [`CareRules::emergency_access`]; the grant and every access under it are audited as
    /// emergency.
    pub async fn open_emergency(
        &self,
        caller: &Caller,
        patient: Uuid,
        reason: &str,
    ) -> Result<EmergencyGrant> {
        self.require_emergency_opener(caller, patient).await?;
        let reason = bounded_text("reason", reason, REASON_MAX)?;
        if reason.chars().count() < EMERGENCY_REASON_MIN {
            return Err(Error::invalid(
                "reason",
                format!("must say why, in at least {EMERGENCY_REASON_MIN} characters"),
            ));
        }
        let now = Utc::now();
        let grant = EmergencyGrant {
            grant_id: Uuid::now_v7(),
            patient_id: patient,
            doctor_id: caller.user_id,
            reason,
            granted_at: now,
            expires_at: now + self.rules.emergency_access,
        };
        let record = CareRecord::Emergency {
            patient_id: patient,
            doctor_id: caller.user_id,
            grant_id: grant.grant_id,
            granted_at: grant.granted_at,
            expires_at: grant.expires_at,
            reason: grant.reason.clone(),
        };
        let audit = AuditEvent::new(caller, patient, Action::EmergencyAccess, Outcome::Allowed)
            .under(Access {
                emergency_grant: Some(grant.grant_id),
            });
        // Only on a patient who has a record: a mistyped id opens nothing (and says so; the
        // doctor is about to read the record anyway, and the attempt is audited).
        let items = vec![
            self.store.profile_exists(patient)?,
            self.store
                .put(record.item()?, Some("attribute_not_exists(pk)"))?,
            self.store.put(RecordsTable::audit_item(&audit)?, None)?,
        ];
        let written = transact(self.store.client(), items, |failed| match failed {
            0 => Error::NotFound("patient"),
            _ => Error::Unavailable("emergency grant id collision".into()),
        })
        .await;
        if let Err(Error::NotFound(what)) = written {
            let event =
                AuditEvent::new(caller, patient, Action::EmergencyAccess, Outcome::NotFound);
            self.store.record(&[event]).await?;
            return Err(Error::NotFound(what));
        }
        written?;
        tracing::warn!(actor = %caller.user_id, grant_id = %grant.grant_id, "emergency access opened");
        Ok(grant)
    }

    /// Every emergency grant, newest first: admins review them.
    pub async fn emergency_grants(
        &self,
        caller: &Caller,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<CareRecord>> {
        policy::manage_care(caller)?;
        self.store.index_page(EMERGENCY, false, limit, cursor).await
    }

    /// `patient`'s access log, newest first: the patient (own) and admins. Reading it is
    /// itself recorded.
    pub async fn access_log(
        &self,
        caller: &Caller,
        patient: Uuid,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<AccessLogEntry>> {
        let access = self.allow(caller, Action::ReadAccessLog, patient).await?;
        let pk = audit_pk(patient);
        let start = decode_cursor(cursor, &["pk", "sk"], |k| k["pk"] == pk)?;
        let out = self
            .store
            .client()
            .query()
            .table_name(self.store.table_name())
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(pk.clone()))
            .scan_index_forward(false)
            .limit(limit as i32)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(sdk_error)?;
        let events: Page<AuditEvent> = page(out.last_evaluated_key, out.items)?;
        let audit =
            AuditEvent::new(caller, patient, Action::ReadAccessLog, Outcome::Allowed).under(access);
        self.store.record(&[audit]).await?;
        Ok(Page {
            items: events
                .items
                .into_iter()
                .map(|event| AccessLogEntry {
                    emergency: event.is_emergency(),
                    event,
                })
                .collect(),
            next_cursor: events.next_cursor,
        })
    }
}

/// Which links a query reads: a patient's partition (from a key prefix) or a doctor's.
enum QueryOn {
    Patient { pk: String, prefix: String },
    Doctor(Uuid),
}
