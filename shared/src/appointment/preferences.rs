//! Patients' notification preferences, per channel (`GET`/`PUT
//! /patients/{patientId}/notification-preferences`). E-mail is the one channel today; without
//! a stored choice it is on (see migration 0012).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::Caller;
use crate::db::{self, PgPool, column};
use crate::policy;
use crate::{Error, Result};

/// What a patient receives: confirmations, changes, reminders and waitlist offers by e-mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preferences {
    pub email: bool,
    /// When the patient last chose (`null`: never, so the default).
    pub updated_at: Option<DateTime<Utc>>,
}

/// The body of a `PUT`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreferencesUpdate {
    pub email: bool,
}

#[derive(Clone)]
pub struct NotificationPreferences {
    pool: PgPool,
}

impl crate::config::FromVars for NotificationPreferences {
    async fn build(vars: &crate::config::Vars) -> Result<Self, crate::config::ConfigError> {
        Ok(Self::new(db::DbConfig::from_vars(vars).await?.pool()?))
    }
}

impl NotificationPreferences {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    pub async fn get(&self, caller: &Caller, patient: Uuid) -> Result<Preferences> {
        policy::notification_preferences(caller, patient)?;
        let client = db::client(&self.pool).await?;
        let row = client
            .query_opt(
                "SELECT u.role, p.email, p.updated_at FROM users u
                 LEFT JOIN notification_preferences p ON p.user_id = u.id WHERE u.id = $1",
                &[&patient],
            )
            .await?
            .ok_or(Error::NotFound("patient"))?;
        if column::<String>(&row, "role")? != "patient" {
            return Err(Error::NotFound("patient"));
        }
        Ok(Preferences {
            email: column::<Option<bool>>(&row, "email")?.unwrap_or(true),
            updated_at: column(&row, "updated_at")?,
        })
    }

    pub async fn set(
        &self,
        caller: &Caller,
        patient: Uuid,
        update: &PreferencesUpdate,
    ) -> Result<Preferences> {
        policy::notification_preferences(caller, patient)?;
        let client = db::client(&self.pool).await?;
        let row = client
            .query_opt(
                "INSERT INTO notification_preferences (user_id, email)
                 SELECT id, $2 FROM users WHERE id = $1 AND role = 'patient'
                 ON CONFLICT (user_id) DO UPDATE SET email = excluded.email, updated_at = now()
                 RETURNING email, updated_at",
                &[&patient, &update.email],
            )
            .await?
            .ok_or(Error::NotFound("patient"))?;
        Ok(Preferences {
            email: column(&row, "email")?,
            updated_at: column(&row, "updated_at")?,
        })
    }
}
