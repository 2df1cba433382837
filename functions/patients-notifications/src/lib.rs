//! `GET` and `PUT /patients/{patientId}/notification-preferences`: whether the patient gets
//! booking confirmations, changes, reminders and waitlist offers by e-mail (`{email}`). The
//! patient and admins.

use careflow::appointment::preferences::{NotificationPreferences, PreferencesUpdate};
use careflow::config::{ConfigError, FromVars as _, Vars};
use careflow::http::{
    DEFAULT_BODY_LIMIT, HttpHandler, Protected, json_body, json_no_store, path_param,
};
use careflow::{Error, Result};
use lambda_http::{Body, Request, Response};
use uuid::Uuid;

pub struct PatientsNotifications(Protected<NotificationPreferences>);

impl PatientsNotifications {
    pub async fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        Ok(Self(Protected::build(&vars).await?))
    }
}

impl HttpHandler for PatientsNotifications {
    async fn handle(&self, req: Request) -> Result<Response<Body>> {
        let caller = self.0.caller(&req)?;
        let patient: Uuid = path_param(&req, "patientId")?;
        let preferences = &self.0.service;
        match req.method().as_str() {
            "GET" => json_no_store(200, &preferences.get(&caller, patient).await?),
            "PUT" => {
                careflow::policy::notification_preferences(&caller, patient)?;
                let update: PreferencesUpdate = json_body(&req, DEFAULT_BODY_LIMIT)?;
                json_no_store(200, &preferences.set(&caller, patient, &update).await?)
            }
            // API Gateway routes only the methods above here.
            _ => Err(Error::NotFound("route")),
        }
    }
}
