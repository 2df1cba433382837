//! `POST /auth/refresh`: trades a refresh token for a new access token and a new refresh token.
//! The old refresh token stops working; presenting it again revokes the whole family.

use careflow::Result;
use careflow::auth::accounts::{Accounts, Sessions};
use careflow::auth::token::TokenIssuer;
use careflow::config::{ConfigError, FromVars as _, Vars};
use careflow::http::{DEFAULT_BODY_LIMIT, HttpHandler, client_ip, json_body, json_no_store};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RefreshRequest {
    refresh_token: String,
}

pub struct AuthRefresh(Sessions);

impl AuthRefresh {
    pub fn new(accounts: Accounts, issuer: TokenIssuer) -> Self {
        Self(Sessions { accounts, issuer })
    }

    pub async fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        Sessions::build(&vars).await.map(Self)
    }
}

impl HttpHandler for AuthRefresh {
    async fn handle(&self, req: Request) -> Result<Response<Body>> {
        let body: RefreshRequest = json_body(&req, DEFAULT_BODY_LIMIT)?;
        let tokens = self.0.refresh(&body.refresh_token, client_ip(&req)).await?;
        json_no_store(200, &tokens)
    }
}
