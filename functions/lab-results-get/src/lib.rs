//! `GET /patients/{patientId}/lab-reports/{reportId}`: one report, its status, reason and values.

use careflow::Result;
use careflow::auth::token::Verifier;
use careflow::config::ConfigError;
use careflow::config::Vars;
use careflow::http::{HttpHandler, authenticate, json_no_store, path_param};
use careflow::lab::service::LabReports;
use careflow::patient::store::RecordsTable;
use lambda_http::{Body, Request, Response};
use uuid::Uuid;

pub struct LabResultsGet {
    reports: LabReports,
    verifier: Verifier,
}

impl LabResultsGet {
    pub fn new(reports: LabReports, verifier: Verifier) -> Self {
        Self { reports, verifier }
    }

    pub async fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        Ok(Self::new(
            LabReports::new(RecordsTable::from_vars(&vars).await?),
            Verifier::from_vars(&vars)?,
        ))
    }
}

impl HttpHandler for LabResultsGet {
    async fn handle(&self, req: Request) -> Result<Response<Body>> {
        let caller = authenticate(&req, &self.verifier)?;
        let patient_id: Uuid = path_param(&req, "patientId")?;
        let report_id: Uuid = path_param(&req, "reportId")?;
        let report = self.reports.get(&caller, patient_id, report_id).await?;
        json_no_store(200, &report)
    }
}
