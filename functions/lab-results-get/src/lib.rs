//! `GET /patients/{patientId}/lab-reports/{reportId}`: one report, its status, reason and values.

use careflow::Result;
use careflow::config::{ConfigError, FromVars as _, Vars};
use careflow::http::{HttpHandler, Protected, json_no_store, path_param};
use careflow::lab::service::LabReports;
use lambda_http::{Body, Request, Response};
use uuid::Uuid;

pub struct LabResultsGet(Protected<LabReports>);

impl LabResultsGet {
    pub async fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        Protected::build(&vars).await.map(Self)
    }
}

impl HttpHandler for LabResultsGet {
    async fn handle(&self, req: Request) -> Result<Response<Body>> {
        let caller = self.0.caller(&req)?;
        let patient_id: Uuid = path_param(&req, "patientId")?;
        let report_id: Uuid = path_param(&req, "reportId")?;
        let report = self.0.service.get(&caller, patient_id, report_id).await?;
        json_no_store(200, &report)
    }
}
