//! The patient service: access rules, audit and storage in the order that keeps them honest.
//!
//! Authorisation comes first (a denial reveals nothing and is itself audited); a read is
//! audited before its data is returned, so nothing is served that the trail does not show.

use chrono::Utc;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::care::Care;
use super::store::RecordsTable;
use super::{AuditEvent, HistoryEntry, NewHistoryEntry, Outcome, PatientProfile, ProfileFields};
use crate::auth::Caller;
use crate::pagination::Page;
use crate::policy::{self, Access, Action};
use crate::{Error, Result};

#[derive(Clone, Debug)]
pub struct Patients {
    care: Care,
}

/// The records table named by `CAREFLOW_TABLE` and the care rules.
impl crate::config::FromVars for Patients {
    async fn build(vars: &crate::config::Vars) -> Result<Self, crate::config::ConfigError> {
        Ok(Self::new(Care::build(vars).await?))
    }
}

impl Patients {
    pub fn new(care: Care) -> Self {
        Self { care }
    }

    pub fn store(&self) -> &RecordsTable {
        self.care.store()
    }

    pub fn care(&self) -> &Care {
        &self.care
    }

    async fn allow(&self, caller: &Caller, action: Action, patient: Uuid) -> Result<Access> {
        self.care.allow(caller, action, patient).await
    }

    async fn not_found(
        &self,
        caller: &Caller,
        patient: Uuid,
        action: Action,
        access: Access,
    ) -> Error {
        let event = AuditEvent::new(caller, patient, action, Outcome::NotFound).under(access);
        match self.store().record(&[event]).await {
            Ok(()) => Error::NotFound("patient"),
            Err(e) => e,
        }
    }

    /// Creates a profile for `patient_id`. The caller has checked, where needed, that the
    /// account exists and is a patient's.
    pub async fn create(
        &self,
        caller: &Caller,
        patient_id: Uuid,
        body: Map<String, Value>,
    ) -> Result<PatientProfile> {
        let access = self
            .allow(caller, Action::CreateProfile, patient_id)
            .await?;
        let now = Utc::now();
        let profile = PatientProfile {
            patient_id,
            fields: ProfileFields::from_json(body, now.date_naive())?,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        let audit = AuditEvent::new(caller, patient_id, Action::CreateProfile, Outcome::Allowed)
            .under(access);
        self.store().create_profile(&profile, &audit).await?;
        tracing::info!(patient_id = %patient_id, actor = %caller.user_id, "profile created");
        Ok(profile)
    }

    pub async fn get(&self, caller: &Caller, patient_id: Uuid) -> Result<PatientProfile> {
        let access = self.allow(caller, Action::ReadProfile, patient_id).await?;
        let Some(profile) = self.store().get_profile(patient_id).await? else {
            return Err(self
                .not_found(caller, patient_id, Action::ReadProfile, access)
                .await);
        };
        let audit = AuditEvent::new(caller, patient_id, Action::ReadProfile, Outcome::Allowed)
            .under(access);
        self.store().record(&[audit]).await?;
        Ok(profile)
    }

    /// Applies a merge patch if the profile is still at `expected_version`.
    pub async fn update(
        &self,
        caller: &Caller,
        patient_id: Uuid,
        expected_version: u64,
        patch: &Value,
    ) -> Result<PatientProfile> {
        let access = self
            .allow(caller, Action::UpdateProfile, patient_id)
            .await?;
        let Some(current) = self.store().get_profile(patient_id).await? else {
            return Err(self
                .not_found(caller, patient_id, Action::UpdateProfile, access)
                .await);
        };
        if current.version != expected_version {
            return Err(Error::PreconditionFailed(
                "the profile changed since you read it; read it again and retry".into(),
            ));
        }
        let now = Utc::now();
        let updated = PatientProfile {
            fields: current.fields.patched(patch, now.date_naive())?,
            version: current.version + 1,
            updated_at: now,
            ..current
        };
        let audit = AuditEvent::new(caller, patient_id, Action::UpdateProfile, Outcome::Allowed)
            .under(access);
        // The store re-checks the version atomically: a concurrent writer loses with 412.
        self.store()
            .replace_profile(&updated, expected_version, &audit)
            .await?;
        Ok(updated)
    }

    /// Profiles the caller may list: every profile in name order for an admin; for a doctor,
    /// the patients in a care relationship with them, in patient-id order (the name prefix
    /// filters within them).
    pub async fn list(
        &self,
        caller: &Caller,
        name_prefix: Option<&str>,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<PatientProfile>> {
        let scope = policy::profile_list(caller)?;
        let page = match self.care.patients_in_scope(scope).await? {
            None => {
                self.store()
                    .list_profiles(name_prefix, limit, cursor)
                    .await?
            }
            Some(patients) => {
                self.store()
                    .profiles_among(&patients, name_prefix, limit, cursor)
                    .await?
            }
        };
        let audit: Vec<AuditEvent> = page
            .items
            .iter()
            .map(|p| AuditEvent::new(caller, p.patient_id, Action::ListProfiles, Outcome::Allowed))
            .collect();
        self.store().record(&audit).await?;
        Ok(page)
    }

    pub async fn add_history(
        &self,
        caller: &Caller,
        patient_id: Uuid,
        entry: NewHistoryEntry,
    ) -> Result<HistoryEntry> {
        let access = self.allow(caller, Action::AddHistory, patient_id).await?;
        let entry = entry.into_entry(patient_id, caller, Utc::now())?;
        let audit =
            AuditEvent::new(caller, patient_id, Action::AddHistory, Outcome::Allowed).under(access);
        match self.store().add_history(&entry, &audit).await {
            Err(Error::NotFound(_)) => Err(self
                .not_found(caller, patient_id, Action::AddHistory, access)
                .await),
            other => other.map(|()| entry),
        }
    }

    pub async fn history(
        &self,
        caller: &Caller,
        patient_id: Uuid,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<HistoryEntry>> {
        let access = self.allow(caller, Action::ReadHistory, patient_id).await?;
        if self.store().get_profile(patient_id).await?.is_none() {
            return Err(self
                .not_found(caller, patient_id, Action::ReadHistory, access)
                .await);
        }
        let page = self.store().list_history(patient_id, limit, cursor).await?;
        let audit = AuditEvent::new(caller, patient_id, Action::ReadHistory, Outcome::Allowed)
            .under(access);
        self.store().record(&[audit]).await?;
        Ok(page)
    }
}
