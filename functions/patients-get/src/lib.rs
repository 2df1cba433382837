//! `GET /patients/{patientId}`: a profile and its ETag (the version a PATCH must name).

use careflow::Result;
use careflow::auth::token::Verifier;
use careflow::config::ConfigError;
use careflow::config::Vars;
use careflow::http::{HttpHandler, authenticate, json_no_store, path_param, with_header};
use careflow::patient::service::Patients;
use careflow::patient::store::RecordsTable;
use lambda_http::{Body, Request, Response};
use uuid::Uuid;

pub struct PatientsGet {
    patients: Patients,
    verifier: Verifier,
}

impl PatientsGet {
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

impl HttpHandler for PatientsGet {
    async fn handle(&self, req: Request) -> Result<Response<Body>> {
        let caller = authenticate(&req, &self.verifier)?;
        let patient_id: Uuid = path_param(&req, "patientId")?;
        let profile = self.patients.get(&caller, patient_id).await?;
        with_header(json_no_store(200, &profile)?, "etag", &profile.etag())
    }
}
