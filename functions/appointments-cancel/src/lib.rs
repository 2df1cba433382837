//! `POST /appointments/{appointmentId}/cancel` with an empty body or `{reason}`: by its
//! patient, its doctor or an admin; not once it has started; idempotent.

use careflow::Result;
use careflow::appointment::CancelRequest;
use careflow::appointment::service::Appointments;
use careflow::auth::token::Verifier;
use careflow::config::ConfigError;
use careflow::config::Vars;
use careflow::db::DbConfig;
use careflow::http::{
    DEFAULT_BODY_LIMIT, HttpHandler, authenticate, json_no_store, optional_json_body, path_param,
};
use careflow::outbox::Publisher;
use lambda_http::{Body, Request, Response};
use uuid::Uuid;

pub struct AppointmentsCancel {
    appointments: Appointments,
    verifier: Verifier,
}

impl AppointmentsCancel {
    pub fn new(appointments: Appointments, verifier: Verifier) -> Self {
        Self {
            appointments,
            verifier,
        }
    }

    pub async fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        let pool = DbConfig::from_vars(&vars).await?.pool()?;
        let publisher = Publisher::from_vars(&vars, 2000).await?;
        Ok(Self::new(
            Appointments::with_publisher(pool, publisher),
            Verifier::from_vars(&vars)?,
        ))
    }
}

impl HttpHandler for AppointmentsCancel {
    async fn handle(&self, req: Request) -> Result<Response<Body>> {
        let caller = authenticate(&req, &self.verifier)?;
        let id: Uuid = path_param(&req, "appointmentId")?;
        let body: CancelRequest = optional_json_body(&req, DEFAULT_BODY_LIMIT)?;
        json_no_store(
            200,
            &self.appointments.cancel(&caller, id, body.reason).await?,
        )
    }
}
