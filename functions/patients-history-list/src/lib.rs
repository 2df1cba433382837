//! `GET /patients/{patientId}/history?limit=&cursor=`: newest first.

use careflow::Result;
use careflow::config::{ConfigError, FromVars as _, Vars};
use careflow::http::{HttpHandler, Protected, json_no_store, page_query, path_param};
use careflow::patient::service::Patients;
use lambda_http::{Body, Request, Response};
use uuid::Uuid;

pub struct PatientsHistoryList(Protected<Patients>);

impl PatientsHistoryList {
    pub async fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        Protected::build(&vars).await.map(Self)
    }
}

impl HttpHandler for PatientsHistoryList {
    async fn handle(&self, req: Request) -> Result<Response<Body>> {
        let caller = self.0.caller(&req)?;
        let patient_id: Uuid = path_param(&req, "patientId")?;
        let (limit, cursor) = page_query(&req, 50)?;
        let page = self
            .0
            .service
            .history(&caller, patient_id, limit, cursor)
            .await?;
        json_no_store(200, &page)
    }
}
