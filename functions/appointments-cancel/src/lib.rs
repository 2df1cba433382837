//! `POST /appointments/{appointmentId}/cancel` with an empty body or `{reason, reason_code}`
//! (`patient`, `clinic`, `illness` or `other`, the default): by its
//! patient, its doctor or an admin; not once it has started; idempotent.

use careflow::Result;
use careflow::appointment::CancelRequest;
use careflow::appointment::service::Appointments;
use careflow::auth::token::Verifier;
use careflow::config::{ConfigError, Vars};
use careflow::http::{
    DEFAULT_BODY_LIMIT, HttpHandler, Protected, json_no_store, optional_json_body, path_param,
};
use lambda_http::{Body, Request, Response};
use uuid::Uuid;

pub struct AppointmentsCancel(Protected<Appointments>);

impl AppointmentsCancel {
    /// The producer is created here, once per cold start ([`Appointments::publishing`]).
    pub async fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        let appointments = Appointments::publishing(&vars).await?;
        Ok(Self(Protected::new(
            appointments,
            Verifier::from_vars(&vars)?,
        )))
    }
}

impl HttpHandler for AppointmentsCancel {
    async fn handle(&self, req: Request) -> Result<Response<Body>> {
        let caller = self.0.caller(&req)?;
        let id: Uuid = path_param(&req, "appointmentId")?;
        let body: CancelRequest = optional_json_body(&req, DEFAULT_BODY_LIMIT)?;
        json_no_store(
            200,
            &self
                .0
                .service
                .cancel(&caller, id, body.reason, body.reason_code)
                .await?,
        )
    }
}
