//! `GET /patients/{patientId}/access-log?limit=&cursor=`: every access to the patient's records
//! (who, role, what, when, outcome, emergency or not), newest first. The patient (own) and
//! admins; reading it is itself logged.

use careflow::Result;
use careflow::config::{ConfigError, FromVars as _, Vars};
use careflow::http::{HttpHandler, Protected, json_no_store, page_query, path_param};
use careflow::patient::care::Care;
use lambda_http::{Body, Request, Response};
use uuid::Uuid;

pub struct PatientsAccessLog(Protected<Care>);

impl PatientsAccessLog {
    pub async fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        Protected::build(&vars).await.map(Self)
    }
}

impl HttpHandler for PatientsAccessLog {
    async fn handle(&self, req: Request) -> Result<Response<Body>> {
        let caller = self.0.caller(&req)?;
        let patient_id: Uuid = path_param(&req, "patientId")?;
        let (limit, cursor) = page_query(&req, 50)?;
        let page = self
            .0
            .service
            .access_log(&caller, patient_id, limit, cursor)
            .await?;
        json_no_store(200, &page)
    }
}
