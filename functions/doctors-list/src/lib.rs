//! `GET /doctors`: the doctors a patient can book, by name (no contact details).

use careflow::Result;
use careflow::auth::accounts::Accounts;
use careflow::auth::token::Verifier;
use careflow::config::ConfigError;
use careflow::config::Vars;
use careflow::http::{HttpHandler, authenticate, json};
use lambda_http::{Body, Request, Response};
use serde_json::json;

pub struct DoctorsList {
    accounts: Accounts,
    verifier: Verifier,
}

impl DoctorsList {
    pub fn new(accounts: Accounts, verifier: Verifier) -> Self {
        Self { accounts, verifier }
    }

    pub async fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        Ok(Self::new(
            Accounts::from_vars(&vars).await?,
            Verifier::from_vars(&vars)?,
        ))
    }
}

impl HttpHandler for DoctorsList {
    async fn handle(&self, req: Request) -> Result<Response<Body>> {
        authenticate(&req, &self.verifier)?;
        json(200, &json!({ "items": self.accounts.doctors().await? }))
    }
}
