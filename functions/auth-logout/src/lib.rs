//! `POST /auth/logout`: revokes the caller's refresh-token family (this device's session).

use careflow::Result;
use careflow::auth::accounts::Accounts;
use careflow::config::{ConfigError, FromVars as _, Vars};
use careflow::http::{DEFAULT_BODY_LIMIT, HttpHandler, Protected, empty, json_body};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogoutRequest {
    refresh_token: String,
}

pub struct AuthLogout(Protected<Accounts>);

impl AuthLogout {
    pub async fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        Protected::build(&vars).await.map(Self)
    }
}

impl HttpHandler for AuthLogout {
    async fn handle(&self, req: Request) -> Result<Response<Body>> {
        let caller = self.0.caller(&req)?;
        let body: LogoutRequest = json_body(&req, DEFAULT_BODY_LIMIT)?;
        self.0
            .service
            .logout(caller.user_id, &body.refresh_token)
            .await?;
        empty(204)
    }
}
