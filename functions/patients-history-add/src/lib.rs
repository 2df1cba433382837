//! `POST /patients/{patientId}/history`: a doctor or admin adds an immutable history entry.

use careflow::Result;
use careflow::config::{ConfigError, FromVars as _, Vars};
use careflow::http::{
    DEFAULT_BODY_LIMIT, HttpHandler, Protected, json_body, json_no_store, path_param,
};
use careflow::patient::NewHistoryEntry;
use careflow::patient::service::Patients;
use lambda_http::{Body, Request, Response};
use uuid::Uuid;

pub struct PatientsHistoryAdd(Protected<Patients>);

impl PatientsHistoryAdd {
    pub async fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        Protected::build(&vars).await.map(Self)
    }
}

impl HttpHandler for PatientsHistoryAdd {
    async fn handle(&self, req: Request) -> Result<Response<Body>> {
        let caller = self.0.caller(&req)?;
        let patient_id: Uuid = path_param(&req, "patientId")?;
        let entry: NewHistoryEntry = json_body(&req, DEFAULT_BODY_LIMIT)?;
        let entry = self
            .0
            .service
            .add_history(&caller, patient_id, entry)
            .await?;
        json_no_store(201, &entry)
    }
}
