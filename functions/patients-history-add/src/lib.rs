//! `POST /patients/{patientId}/history`: a doctor or admin adds an immutable history entry.

use careflow::Result;
use careflow::auth::token::Verifier;
use careflow::config::ConfigError;
use careflow::config::Vars;
use careflow::http::{
    DEFAULT_BODY_LIMIT, HttpHandler, authenticate, json_body, json_no_store, path_param,
};
use careflow::patient::NewHistoryEntry;
use careflow::patient::service::Patients;
use careflow::patient::store::RecordsTable;
use lambda_http::{Body, Request, Response};
use uuid::Uuid;

pub struct PatientsHistoryAdd {
    patients: Patients,
    verifier: Verifier,
}

impl PatientsHistoryAdd {
    pub fn new(patients: Patients, verifier: Verifier) -> Self {
        Self { patients, verifier }
    }

    pub async fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        Ok(Self::new(
            Patients::new(RecordsTable::from_vars(&vars).await?),
            Verifier::from_vars(&vars)?,
        ))
    }
}

impl HttpHandler for PatientsHistoryAdd {
    async fn handle(&self, req: Request) -> Result<Response<Body>> {
        let caller = authenticate(&req, &self.verifier)?;
        let patient_id: Uuid = path_param(&req, "patientId")?;
        let entry: NewHistoryEntry = json_body(&req, DEFAULT_BODY_LIMIT)?;
        let entry = self
            .patients
            .add_history(&caller, patient_id, entry)
            .await?;
        json_no_store(201, &entry)
    }
}
