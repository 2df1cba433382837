//! `GET /me`: who the caller is (id, e-mail, role, name).

use careflow::auth::accounts::Accounts;
use careflow::config::{ConfigError, FromVars as _, Vars};
use careflow::http::{HttpHandler, Protected, json_no_store};
use careflow::{Error, Result};
use lambda_http::{Body, Request, Response};

pub struct AuthMe(Protected<Accounts>);

impl AuthMe {
    pub async fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        Protected::build(&vars).await.map(Self)
    }
}

impl HttpHandler for AuthMe {
    async fn handle(&self, req: Request) -> Result<Response<Body>> {
        let caller = self.0.caller(&req)?;
        // A valid token for a deleted account is no longer a valid identity.
        let user = self
            .0
            .service
            .get_user(caller.user_id)
            .await
            .map_err(|e| match e {
                Error::NotFound(_) => Error::Unauthenticated("account no longer exists".into()),
                other => other,
            })?;
        json_no_store(200, &user)
    }
}
