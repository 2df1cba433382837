//! `GET /me`: who the caller is (id, e-mail, role, name).

use careflow::auth::accounts::Accounts;
use careflow::auth::token::Verifier;
use careflow::config::ConfigError;
use careflow::config::Vars;
use careflow::http::{HttpHandler, authenticate, json_no_store};
use careflow::{Error, Result};
use lambda_http::{Body, Request, Response};

pub struct AuthMe {
    accounts: Accounts,
    verifier: Verifier,
}

impl AuthMe {
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

impl HttpHandler for AuthMe {
    async fn handle(&self, req: Request) -> Result<Response<Body>> {
        let caller = authenticate(&req, &self.verifier)?;
        // A valid token for a deleted account is no longer a valid identity.
        let user = self
            .accounts
            .get_user(caller.user_id)
            .await
            .map_err(|e| match e {
                Error::NotFound(_) => Error::Unauthenticated("account no longer exists".into()),
                other => other,
            })?;
        json_no_store(200, &user)
    }
}
