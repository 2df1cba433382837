//! `DELETE /users/{userId}/mfa`: an admin resets another account's second factor (a lost
//! phone). The factor and recovery codes are removed and the account's sessions end; its next
//! login enrols again. Recorded in `account_events`.

use careflow::Result;
use careflow::auth::accounts::Accounts;
use careflow::config::{ConfigError, FromVars as _, Vars};
use careflow::http::{HttpHandler, Protected, empty, path_param};
use lambda_http::{Body, Request, Response};
use uuid::Uuid;

pub struct UsersMfaReset(Protected<Accounts>);

impl UsersMfaReset {
    pub async fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        Protected::build(&vars).await.map(Self)
    }
}

impl HttpHandler for UsersMfaReset {
    async fn handle(&self, req: Request) -> Result<Response<Body>> {
        let caller = self.0.caller(&req)?;
        let user: Uuid = path_param(&req, "userId")?;
        self.0.service.reset_second_factor(&caller, user).await?;
        empty(204)
    }
}
