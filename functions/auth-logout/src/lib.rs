//! `POST /auth/logout`: revokes the caller's refresh-token family (this device's session).

use careflow::Result;
use careflow::auth::accounts::Accounts;
use careflow::auth::token::Verifier;
use careflow::config::ConfigError;
use careflow::config::Vars;
use careflow::http::{DEFAULT_BODY_LIMIT, HttpHandler, authenticate, empty, json_body};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogoutRequest {
    refresh_token: String,
}

pub struct AuthLogout {
    accounts: Accounts,
    verifier: Verifier,
}

impl AuthLogout {
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

impl HttpHandler for AuthLogout {
    async fn handle(&self, req: Request) -> Result<Response<Body>> {
        let caller = authenticate(&req, &self.verifier)?;
        let body: LogoutRequest = json_body(&req, DEFAULT_BODY_LIMIT)?;
        self.accounts
            .logout(caller.user_id, &body.refresh_token)
            .await?;
        empty(204)
    }
}
