//! `GET /patients/{patientId}`: a profile and its ETag (the version a PATCH must name).

use careflow::Result;
use careflow::auth::token::Verifier;
use careflow::config::{ConfigError, FromVars as _, Vars};
use careflow::http::{HttpHandler, Protected, json_no_store, path_param, with_header};
use careflow::patient::service::Patients;
use lambda_http::{Body, Request, Response};
use uuid::Uuid;

pub struct PatientsGet(Protected<Patients>);

impl PatientsGet {
    pub fn new(patients: Patients, verifier: Verifier) -> Self {
        Self(Protected::new(patients, verifier))
    }

    pub async fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        Protected::build(&vars).await.map(Self)
    }
}

impl HttpHandler for PatientsGet {
    async fn handle(&self, req: Request) -> Result<Response<Body>> {
        let caller = self.0.caller(&req)?;
        let patient_id: Uuid = path_param(&req, "patientId")?;
        let profile = self.0.service.get(&caller, patient_id).await?;
        with_header(json_no_store(200, &profile)?, "etag", &profile.etag())
    }
}
