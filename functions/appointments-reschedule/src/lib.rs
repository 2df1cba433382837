//! `POST /appointments/{appointmentId}/reschedule` `{start_time}`: its patient, its doctor or an
//! admin moves it to another free time of the same doctor (same type). The new time is taken
//! and the old one freed in one transaction, or nothing changes (409 if the time is taken,
//! 400 if the doctor's availability does not offer it). `Idempotency-Key` makes a retried
//! request return the first result.

use careflow::Result;
use careflow::appointment::service::{Appointments, Booked};
use careflow::appointment::{RescheduleRequest, idempotency_key};
use careflow::auth::token::Verifier;
use careflow::config::{ConfigError, Vars};
use careflow::http::{
    DEFAULT_BODY_LIMIT, HttpHandler, Protected, header, json_body, json_no_store, path_param,
    with_header,
};
use lambda_http::{Body, Request, Response};
use uuid::Uuid;

pub struct AppointmentsReschedule(Protected<Appointments>);

impl AppointmentsReschedule {
    /// The producer is created here, once per cold start ([`Appointments::publishing`]).
    pub async fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        Ok(Self(Protected::new(
            Appointments::publishing(&vars).await?,
            Verifier::from_vars(&vars)?,
        )))
    }
}

impl HttpHandler for AppointmentsReschedule {
    async fn handle(&self, req: Request) -> Result<Response<Body>> {
        let caller = self.0.caller(&req)?;
        let id: Uuid = path_param(&req, "appointmentId")?;
        let request: RescheduleRequest = json_body(&req, DEFAULT_BODY_LIMIT)?;
        let key = idempotency_key(header(&req, "idempotency-key"))?;
        match self
            .0
            .service
            .reschedule(&caller, id, &request, key.as_deref())
            .await?
        {
            Booked::Created(moved) => json_no_store(200, &moved),
            Booked::Replayed(moved) => {
                with_header(json_no_store(200, &moved)?, "idempotent-replayed", "true")
            }
        }
    }
}
