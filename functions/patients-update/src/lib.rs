//! `PATCH /patients/{patientId}`: a JSON Merge Patch (RFC 7396), applied only if `If-Match`
//! names the current version; a stale version gets 412 and nothing is overwritten.

use careflow::Result;
use careflow::config::{ConfigError, FromVars as _, Vars};
use careflow::http::{
    DEFAULT_BODY_LIMIT, HttpHandler, Protected, header, json_body, json_no_store, path_param,
    with_header,
};
use careflow::patient::parse_if_match;
use careflow::patient::service::Patients;
use lambda_http::{Body, Request, Response};
use serde_json::Value;
use uuid::Uuid;

pub struct PatientsUpdate(Protected<Patients>);

impl PatientsUpdate {
    pub async fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        Protected::build(&vars).await.map(Self)
    }
}

impl HttpHandler for PatientsUpdate {
    async fn handle(&self, req: Request) -> Result<Response<Body>> {
        let caller = self.0.caller(&req)?;
        let patient_id: Uuid = path_param(&req, "patientId")?;
        let patch: Value = json_body(&req, DEFAULT_BODY_LIMIT)?;
        let version = parse_if_match(header(&req, "if-match"))?;
        let profile = self
            .0
            .service
            .update(&caller, patient_id, version, &patch)
            .await?;
        with_header(json_no_store(200, &profile)?, "etag", &profile.etag())
    }
}
