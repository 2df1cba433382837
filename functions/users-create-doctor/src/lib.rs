//! `POST /users/doctors`: an admin creates a doctor account.

use careflow::Result;
use careflow::auth::Role;
use careflow::auth::accounts::{Accounts, NewUser};
use careflow::auth::token::Verifier;
use careflow::config::ConfigError;
use careflow::config::Vars;
use careflow::http::{DEFAULT_BODY_LIMIT, HttpHandler, authenticate, json_body, json_no_store};
use careflow::policy;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateDoctorRequest {
    email: String,
    password: String,
    full_name: String,
    specialty: String,
}

pub struct UsersCreateDoctor {
    accounts: Accounts,
    verifier: Verifier,
}

impl UsersCreateDoctor {
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

impl HttpHandler for UsersCreateDoctor {
    async fn handle(&self, req: Request) -> Result<Response<Body>> {
        let caller = authenticate(&req, &self.verifier)?;
        policy::create_doctor(&caller)?;
        let body: CreateDoctorRequest = json_body(&req, DEFAULT_BODY_LIMIT)?;
        let doctor = self
            .accounts
            .create_user(NewUser {
                email: body.email,
                password: body.password,
                full_name: body.full_name,
                role: Role::Doctor,
                specialty: Some(body.specialty),
            })
            .await?;
        tracing::info!(admin = %caller.user_id, doctor = %doctor.user_id, "doctor created");
        json_no_store(201, &doctor)
    }
}
