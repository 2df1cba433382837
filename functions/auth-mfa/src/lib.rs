//! The second factor of a staff login (public routes: the caller holds a challenge, not a token):
//! - `POST /auth/mfa/enroll` `{mfa_token}`: a new TOTP secret, shown once (`otpauth://` URI),
//!   for an account without a confirmed factor;
//! - `POST /auth/mfa/verify` `{mfa_token, code}` or `{mfa_token, recovery_code}`: tokens whose
//!   `amr` names the second factor; the first code of an enrolment confirms it and returns the
//!   ten recovery codes, once.

use careflow::auth::accounts::Sessions;
use careflow::auth::mfa::Proof;
use careflow::config::{ConfigError, FromVars as _, Vars};
use careflow::http::{DEFAULT_BODY_LIMIT, HttpHandler, client_ip, json_body, json_no_store};
use careflow::{Error, Result};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnrollRequest {
    mfa_token: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyRequest {
    mfa_token: String,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    recovery_code: Option<String>,
}

impl VerifyRequest {
    fn proof(&self) -> Result<Proof> {
        match (&self.code, &self.recovery_code) {
            (Some(code), None) => Ok(Proof::Totp(code.clone())),
            (None, Some(code)) => Ok(Proof::RecoveryCode(code.clone())),
            (Some(_), Some(_)) => Err(Error::invalid(
                "recovery_code",
                "send either code or recovery_code, not both",
            )),
            (None, None) => Err(Error::invalid(
                "code",
                "is required (or recovery_code instead)",
            )),
        }
    }
}

pub struct AuthMfa(Sessions);

impl AuthMfa {
    pub async fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        Sessions::build(&vars).await.map(Self)
    }
}

impl HttpHandler for AuthMfa {
    async fn handle(&self, req: Request) -> Result<Response<Body>> {
        match req.uri().path().rsplit('/').next() {
            Some("enroll") => {
                let body: EnrollRequest = json_body(&req, DEFAULT_BODY_LIMIT)?;
                let enrolment = self
                    .0
                    .accounts
                    .enroll_second_factor(&body.mfa_token)
                    .await?;
                json_no_store(200, &enrolment)
            }
            Some("verify") => {
                let body: VerifyRequest = json_body(&req, DEFAULT_BODY_LIMIT)?;
                let verified = self
                    .0
                    .verify_second_factor(&body.mfa_token, &body.proof()?, client_ip(&req))
                    .await?;
                json_no_store(200, &verified)
            }
            // API Gateway routes only the two paths above here.
            _ => Err(Error::NotFound("route")),
        }
    }
}
