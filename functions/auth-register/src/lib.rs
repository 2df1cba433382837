//! `POST /auth/register`: a patient asks for an account. The answer is the same 202 whether or
//! not the address has one (a link goes to a new address, a notice to a taken one's owner); the
//! account is created by the link (`auth-verify-email`).

use careflow::Result;
use careflow::auth::accounts::{Accounts, NewUser};
use careflow::config::{ConfigError, Vars};
use careflow::email::Mailer;
use careflow::http::{DEFAULT_BODY_LIMIT, HttpHandler, client_ip, json_body, json_no_store};
use careflow::policy;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterRequest {
    email: String,
    password: String,
    full_name: String,
}

pub struct AuthRegister {
    accounts: Accounts,
    mailer: Mailer,
}

impl AuthRegister {
    pub fn new(accounts: Accounts, mailer: Mailer) -> Self {
        Self { accounts, mailer }
    }

    pub async fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        Ok(Self::new(
            Accounts::from_vars(&vars).await?,
            Mailer::from_vars(&vars).await?,
        ))
    }
}

impl HttpHandler for AuthRegister {
    async fn handle(&self, req: Request) -> Result<Response<Body>> {
        let body: RegisterRequest = json_body(&req, DEFAULT_BODY_LIMIT)?;
        let new = NewUser {
            email: body.email,
            password: body.password,
            full_name: body.full_name,
            role: policy::REGISTERED_ROLE,
            specialty: None,
        };
        let accepted = self
            .accounts
            .register(new, client_ip(&req), &self.mailer)
            .await?;
        json_no_store(202, &accepted)
    }
}
