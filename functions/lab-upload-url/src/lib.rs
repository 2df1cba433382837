//! `POST /patients/{patientId}/lab-reports/upload-url` with `{filename, content_type,
//! size_bytes}`: records a pending lab report and returns a presigned POST (201) that uploads
//! exactly one PDF of at most the configured size to `lab-reports/{patientId}/{reportId}.pdf`.

use careflow::Result;
use careflow::auth::token::Verifier;
use careflow::config::FromVars;
use careflow::config::{ConfigError, Vars};
use careflow::http::{HttpHandler, authenticate, json_body, json_no_store, path_param};
use careflow::lab::UploadRequest;
use careflow::lab::service::{LabReports, UploadSettings};
use lambda_http::{Body, Request, Response};
use uuid::Uuid;

pub struct LabUploadUrl {
    reports: LabReports,
    uploads: UploadSettings,
    verifier: Verifier,
}

impl LabUploadUrl {
    pub fn new(reports: LabReports, uploads: UploadSettings, verifier: Verifier) -> Self {
        Self {
            reports,
            uploads,
            verifier,
        }
    }

    pub async fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        Ok(Self::new(
            LabReports::build(&vars).await?,
            UploadSettings::from_vars(&vars).await?,
            Verifier::from_vars(&vars)?,
        ))
    }
}

impl HttpHandler for LabUploadUrl {
    async fn handle(&self, req: Request) -> Result<Response<Body>> {
        let caller = authenticate(&req, &self.verifier)?;
        let patient_id: Uuid = path_param(&req, "patientId")?;
        let body: UploadRequest = json_body(&req, 4 * 1024)?;
        let grant = self
            .reports
            .request_upload(&caller, patient_id, &body, &self.uploads)
            .await?;
        json_no_store(201, &grant)
    }
}
