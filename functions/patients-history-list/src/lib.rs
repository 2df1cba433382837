//! `GET /patients/{patientId}/history?limit=&cursor=`: newest first.

use careflow::Result;
use careflow::auth::token::Verifier;
use careflow::config::ConfigError;
use careflow::config::Vars;
use careflow::http::{HttpHandler, authenticate, json_no_store, path_param, query_param};
use careflow::pagination::page_limit;
use careflow::patient::service::Patients;
use careflow::patient::store::RecordsTable;
use lambda_http::{Body, Request, Response};
use uuid::Uuid;

pub struct PatientsHistoryList {
    patients: Patients,
    verifier: Verifier,
}

impl PatientsHistoryList {
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

impl HttpHandler for PatientsHistoryList {
    async fn handle(&self, req: Request) -> Result<Response<Body>> {
        let caller = authenticate(&req, &self.verifier)?;
        let patient_id: Uuid = path_param(&req, "patientId")?;
        let limit = page_limit(query_param(&req, "limit"), 50, 100)?;
        let page = self
            .patients
            .history(&caller, patient_id, limit, query_param(&req, "cursor"))
            .await?;
        json_no_store(200, &page)
    }
}
