//! `POST /appointments/{appointmentId}/attendance` `{outcome}` (`attended` or `no_show`): the
//! appointment's doctor or an admin, once it has started. The same outcome again changes
//! nothing; publishes `AppointmentAttended` or `AppointmentNoShow`.

use careflow::Result;
use careflow::appointment::AttendanceRequest;
use careflow::appointment::service::Appointments;
use careflow::auth::token::Verifier;
use careflow::config::{ConfigError, Vars};
use careflow::http::{
    DEFAULT_BODY_LIMIT, HttpHandler, Protected, json_body, json_no_store, path_param,
};
use lambda_http::{Body, Request, Response};
use uuid::Uuid;

pub struct AppointmentsAttendance(Protected<Appointments>);

impl AppointmentsAttendance {
    /// The producer is created here, once per cold start ([`Appointments::publishing`]).
    pub async fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        Ok(Self(Protected::new(
            Appointments::publishing(&vars).await?,
            Verifier::from_vars(&vars)?,
        )))
    }
}

impl HttpHandler for AppointmentsAttendance {
    async fn handle(&self, req: Request) -> Result<Response<Body>> {
        let caller = self.0.caller(&req)?;
        let id: Uuid = path_param(&req, "appointmentId")?;
        let body: AttendanceRequest = json_body(&req, DEFAULT_BODY_LIMIT)?;
        json_no_store(
            200,
            &self
                .0
                .service
                .mark_attendance(&caller, id, body.outcome)
                .await?,
        )
    }
}
