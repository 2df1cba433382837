//! `GET /doctors`: the doctors a patient can book, by name (no contact details).

use careflow::Result;
use careflow::auth::accounts::Accounts;
use careflow::config::{ConfigError, FromVars as _, Vars};
use careflow::http::{HttpHandler, Protected, json};
use lambda_http::{Body, Request, Response};
use serde_json::json;

pub struct DoctorsList(Protected<Accounts>);

impl DoctorsList {
    pub async fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        Protected::build(&vars).await.map(Self)
    }
}

impl HttpHandler for DoctorsList {
    async fn handle(&self, req: Request) -> Result<Response<Body>> {
        self.0.caller(&req)?;
        json(200, &json!({ "items": self.0.service.doctors().await? }))
    }
}
