//! `GET /patients/{patientId}/lab-reports/{reportId}`: one report, its status, reason and values;
//! to `Accept: application/fhir+json`, the same report as a FHIR R4 DiagnosticReport with its
//! Observations.

use careflow::Result;
use careflow::config::{ConfigError, FromVars as _, Vars};
use careflow::http::{HttpHandler, Protected, header, json_no_store, path_param, with_header};
use careflow::lab::fhir::{FHIR_JSON, diagnostic_report};
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
        let fhir = header(&req, "accept").is_some_and(|a| {
            a.split(',')
                .any(|t| t.split(';').next().unwrap_or_default().trim() == FHIR_JSON)
        });
        if fhir {
            let response = json_no_store(200, &diagnostic_report(&report))?;
            return with_header(response, "content-type", FHIR_JSON);
        }
        json_no_store(200, &report)
    }
}
