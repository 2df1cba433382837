//! `POST /auth/login`: e-mail and password in; a short-lived access token and a refresh token
//! out, or, for staff (doctors and admins), a second-factor challenge (`auth-mfa` turns it into
//! tokens).

use careflow::Result;
use careflow::auth::accounts::{Accounts, Sessions};
use careflow::auth::token::TokenIssuer;
use careflow::config::{ConfigError, FromVars as _, Vars};
use careflow::http::{DEFAULT_BODY_LIMIT, HttpHandler, client_ip, json_body, json_no_store};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginRequest {
    email: String,
    password: String,
}

pub struct AuthLogin(Sessions);

impl AuthLogin {
    pub fn new(accounts: Accounts, issuer: TokenIssuer) -> Self {
        Self(Sessions { accounts, issuer })
    }

    pub async fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        Sessions::build(&vars).await.map(Self)
    }
}

impl HttpHandler for AuthLogin {
    async fn handle(&self, req: Request) -> Result<Response<Body>> {
        let body: LoginRequest = json_body(&req, DEFAULT_BODY_LIMIT)?;
        let outcome = self
            .0
            .login(&body.email, &body.password, client_ip(&req))
            .await?;
        json_no_store(200, &outcome)
    }
}
