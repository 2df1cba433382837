//! `POST /auth/verify-email` `{token, password}` (public): completes a registration. The token
//! from the e-mailed link proves the mailbox, the password proves it is the registration of
//! whoever chose it; together they create the patient's account, answered with its first
//! tokens (201).

use careflow::Result;
use careflow::auth::accounts::Sessions;
use careflow::config::{ConfigError, FromVars as _, Vars};
use careflow::http::{DEFAULT_BODY_LIMIT, HttpHandler, client_ip, json_body, json_no_store};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyRequest {
    token: String,
    password: String,
}

pub struct AuthVerifyEmail(Sessions);

impl AuthVerifyEmail {
    pub async fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        Sessions::build(&vars).await.map(Self)
    }
}

impl HttpHandler for AuthVerifyEmail {
    async fn handle(&self, req: Request) -> Result<Response<Body>> {
        let body: VerifyRequest = json_body(&req, DEFAULT_BODY_LIMIT)?;
        let registered = self
            .0
            .accounts
            .complete_registration(&self.0.issuer, &body.token, &body.password, client_ip(&req))
            .await?;
        json_no_store(201, &registered)
    }
}
