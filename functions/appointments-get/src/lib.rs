//! `GET /appointments/{appointmentId}`: for its patient, its doctor and admins (404 for anyone
//! else, so existence is not revealed).

use careflow::Result;
use careflow::appointment::service::Appointments;
use careflow::auth::token::Verifier;
use careflow::config::ConfigError;
use careflow::config::Vars;
use careflow::db::DbConfig;
use careflow::http::{HttpHandler, authenticate, json_no_store, path_param};
use lambda_http::{Body, Request, Response};
use uuid::Uuid;

pub struct AppointmentsGet {
    appointments: Appointments,
    verifier: Verifier,
}

impl AppointmentsGet {
    pub fn new(appointments: Appointments, verifier: Verifier) -> Self {
        Self {
            appointments,
            verifier,
        }
    }

    pub async fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        let pool = DbConfig::from_vars(&vars).await?.pool()?;
        Ok(Self::new(
            Appointments::new(pool),
            Verifier::from_vars(&vars)?,
        ))
    }
}

impl HttpHandler for AppointmentsGet {
    async fn handle(&self, req: Request) -> Result<Response<Body>> {
        let caller = authenticate(&req, &self.verifier)?;
        let id: Uuid = path_param(&req, "appointmentId")?;
        json_no_store(200, &self.appointments.get(&caller, id).await?)
    }
}
