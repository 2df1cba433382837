//! The care team of a patient:
//! - `GET /patients/{patientId}/care-team`: every doctor linked to the patient (appointments,
//!   assignments, emergency grants), each with whether it holds now; the patient and admins;
//! - `PUT /patients/{patientId}/care-team/{doctorId}` `{until, reason?}`: an admin assigns a
//!   doctor until a time (again to extend or shorten);
//! - `DELETE /patients/{patientId}/care-team/{doctorId}`: an admin ends the assignment now.

use careflow::auth::accounts::Accounts;
use careflow::config::{ConfigError, FromVars as _, Vars};
use careflow::http::{
    DEFAULT_BODY_LIMIT, HttpHandler, Protected, empty, json_body, json_no_store, path_param,
};
use careflow::patient::care::Care;
use careflow::{Error, Result};
use chrono::{DateTime, Utc};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use uuid::Uuid;

pub struct PatientsCareTeam {
    care: Protected<Care>,
    accounts: Accounts,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Assignment {
    until: DateTime<Utc>,
    #[serde(default)]
    reason: Option<String>,
}

impl PatientsCareTeam {
    pub async fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        Ok(Self {
            care: Protected::build(&vars).await?,
            accounts: Accounts::from_vars(&vars).await?,
        })
    }
}

impl HttpHandler for PatientsCareTeam {
    async fn handle(&self, req: Request) -> Result<Response<Body>> {
        let caller = self.care.caller(&req)?;
        let patient_id: Uuid = path_param(&req, "patientId")?;
        let care = &self.care.service;
        match req.method().as_str() {
            "GET" => {
                let items = care.team(&caller, patient_id).await?;
                json_no_store(200, &serde_json_items(items))
            }
            "PUT" => {
                // Before the body is read or the account looked up: a stranger learns nothing.
                care.require_manager(&caller, patient_id).await?;
                let doctor_id: Uuid = path_param(&req, "doctorId")?;
                let body: Assignment = json_body(&req, DEFAULT_BODY_LIMIT)?;
                self.accounts
                    .require_doctor_account(doctor_id, "doctorId")
                    .await?;
                let entry = care
                    .assign(
                        &caller,
                        patient_id,
                        doctor_id,
                        body.until,
                        body.reason.as_deref(),
                    )
                    .await?;
                json_no_store(200, &entry)
            }
            "DELETE" => {
                let doctor_id: Uuid = path_param(&req, "doctorId")?;
                care.end_assignment(&caller, patient_id, doctor_id).await?;
                empty(204)
            }
            // API Gateway routes only the methods above here.
            _ => Err(Error::NotFound("route")),
        }
    }
}

/// The list answer: `{items}` (a care team is short, so it is not paged).
fn serde_json_items<T: serde::Serialize>(items: Vec<T>) -> Items<T> {
    Items { items }
}

#[derive(serde::Serialize)]
struct Items<T> {
    items: Vec<T>,
}
