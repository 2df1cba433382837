//! Break-the-glass: `POST /patients/{patientId}/emergency-access` `{reason}` opens a grant for
//! the calling doctor on a patient outside their care relationships (for
//! `CAREFLOW_EMERGENCY_ACCESS_MINUTES`); the grant and every access under it are audited as
//! emergency. `GET /emergency-access?limit=&cursor=` lists every grant, newest first (admins).

use careflow::config::{ConfigError, FromVars as _, Vars};
use careflow::http::{
    DEFAULT_BODY_LIMIT, HttpHandler, Protected, json_body, json_no_store, page_query, path_param,
    with_header,
};
use careflow::patient::care::Care;
use careflow::{Error, Result};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use uuid::Uuid;

pub struct EmergencyAccess(Protected<Care>);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OpenGrant {
    reason: String,
}

impl EmergencyAccess {
    pub async fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        Protected::build(&vars).await.map(Self)
    }
}

impl HttpHandler for EmergencyAccess {
    async fn handle(&self, req: Request) -> Result<Response<Body>> {
        let caller = self.0.caller(&req)?;
        match req.method().as_str() {
            "POST" => {
                let patient_id: Uuid = path_param(&req, "patientId")?;
                // Before the body is read: a non-doctor gets 403 whatever they sent.
                self.0
                    .service
                    .require_emergency_opener(&caller, patient_id)
                    .await?;
                let body: OpenGrant = json_body(&req, DEFAULT_BODY_LIMIT)?;
                let grant = self
                    .0
                    .service
                    .open_emergency(&caller, patient_id, &body.reason)
                    .await?;
                let response = json_no_store(201, &grant)?;
                with_header(
                    response,
                    "location",
                    &format!("/patients/{patient_id}/care-team"),
                )
            }
            "GET" => {
                let (limit, cursor) = page_query(&req, 50)?;
                let page = self
                    .0
                    .service
                    .emergency_grants(&caller, limit, cursor)
                    .await?;
                json_no_store(200, &page)
            }
            // API Gateway routes only the methods above here.
            _ => Err(Error::NotFound("route")),
        }
    }
}
