//! Clinician review of lab reports (doctors in the care relationship; admins see the queue):
//! - `GET /lab-reports/review-queue`: reports waiting for review, critical values first, then
//!   oldest first (a doctor's: patients in their care);
//! - `POST /patients/{patientId}/lab-reports/{reportId}/review` `{revision, corrections,
//!   sign_off}`: corrects values and/or signs the report off; the report as it now is (412
//!   when `revision` is not the report's, 409 once it is signed off);
//! - `GET /patients/{patientId}/lab-reports/{reportId}/revisions`: every version of the values
//!   (the extraction, then each review with what it changed, who and when).

use careflow::config::{ConfigError, FromVars as _, Vars};
use careflow::http::{HttpHandler, Protected, json_body, json_no_store, page_query, path_param};
use careflow::lab::review::ReviewRequest;
use careflow::lab::service::LabReports;
use careflow::{Error, Result};
use lambda_http::{Body, Request, Response};
use uuid::Uuid;

/// A review carries at most 1,000 corrections of a few fields each.
const BODY_LIMIT: usize = 256 * 1024;

pub struct LabReview(Protected<LabReports>);

impl LabReview {
    pub async fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        Protected::build(&vars).await.map(Self)
    }
}

impl HttpHandler for LabReview {
    async fn handle(&self, req: Request) -> Result<Response<Body>> {
        let caller = self.0.caller(&req)?;
        let reports = &self.0.service;
        let path = req.uri().path().trim_end_matches('/');
        match req.method().as_str() {
            "GET" if path.ends_with("/review-queue") => {
                let (limit, cursor) = page_query(&req, 20)?;
                json_no_store(200, &reports.review_queue(&caller, limit, cursor).await?)
            }
            "GET" if path.ends_with("/revisions") => {
                let patient: Uuid = path_param(&req, "patientId")?;
                let report: Uuid = path_param(&req, "reportId")?;
                let revisions = reports.revisions(&caller, patient, report).await?;
                json_no_store(200, &serde_json::json!({ "items": revisions }))
            }
            "POST" => {
                let patient: Uuid = path_param(&req, "patientId")?;
                let report: Uuid = path_param(&req, "reportId")?;
                let request: ReviewRequest = json_body(&req, BODY_LIMIT)?;
                json_no_store(
                    200,
                    &reports.review(&caller, patient, report, &request).await?,
                )
            }
            // API Gateway routes only the methods above here.
            _ => Err(Error::NotFound("route")),
        }
    }
}
