//! `POST /users/doctors`: an admin creates a doctor account.

use careflow::Result;
use careflow::auth::accounts::{Accounts, NewDoctor};
use careflow::config::{ConfigError, FromVars as _, Vars};
use careflow::http::{DEFAULT_BODY_LIMIT, HttpHandler, Protected, json_body, json_no_store};
use lambda_http::{Body, Request, Response};

pub struct UsersCreateDoctor(Protected<Accounts>);

impl UsersCreateDoctor {
    pub async fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        Protected::build(&vars).await.map(Self)
    }
}

impl HttpHandler for UsersCreateDoctor {
    async fn handle(&self, req: Request) -> Result<Response<Body>> {
        let caller = self.0.caller(&req)?;
        let doctor = self
            .0
            .service
            .create_doctor(&caller, || json_body::<NewDoctor>(&req, DEFAULT_BODY_LIMIT))
            .await?;
        json_no_store(201, &doctor)
    }
}
