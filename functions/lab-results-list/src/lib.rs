//! `GET /patients/{patientId}/lab-reports?limit=&cursor=`: newest first.

use careflow::Result;
use careflow::auth::token::Verifier;
use careflow::config::ConfigError;
use careflow::config::Vars;
use careflow::http::{HttpHandler, authenticate, json_no_store, path_param, query_param};
use careflow::lab::service::LabReports;
use careflow::pagination::page_limit;
use careflow::patient::store::RecordsTable;
use lambda_http::{Body, Request, Response};
use uuid::Uuid;

pub struct LabResultsList {
    reports: LabReports,
    verifier: Verifier,
}

impl LabResultsList {
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

impl HttpHandler for LabResultsList {
    async fn handle(&self, req: Request) -> Result<Response<Body>> {
        let caller = authenticate(&req, &self.verifier)?;
        let patient_id: Uuid = path_param(&req, "patientId")?;
        let limit = page_limit(query_param(&req, "limit"), 20, 100)?;
        let page = self
            .reports
            .list(&caller, patient_id, limit, query_param(&req, "cursor"))
            .await?;
        json_no_store(200, &page)
    }
}
