//! `POST /appointments`: a patient books a doctor (an admin may book for a patient). The
//! database refuses overlaps, so of concurrent bookings of one slot exactly one wins (201) and
//! the rest get 409. `Idempotency-Key` makes a retried request return the first result.

use careflow::Result;
use careflow::appointment::service::{Appointments, Booked};
use careflow::appointment::{BookingRequest, idempotency_key};
use careflow::auth::token::Verifier;
use careflow::config::{ConfigError, Vars};
use careflow::http::{
    DEFAULT_BODY_LIMIT, HttpHandler, Protected, header, json_body, json_no_store, with_header,
};
use lambda_http::{Body, Request, Response};

pub struct AppointmentsCreate(Protected<Appointments>);

impl AppointmentsCreate {
    pub fn new(appointments: Appointments, verifier: Verifier) -> Self {
        Self(Protected::new(appointments, verifier))
    }

    /// The producer is created here, once per cold start ([`Appointments::publishing`]).
    pub async fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        Ok(Self::new(
            Appointments::publishing(&vars).await?,
            Verifier::from_vars(&vars)?,
        ))
    }
}

impl HttpHandler for AppointmentsCreate {
    async fn handle(&self, req: Request) -> Result<Response<Body>> {
        let caller = self.0.caller(&req)?;
        let request: BookingRequest = json_body(&req, DEFAULT_BODY_LIMIT)?;
        let key = idempotency_key(header(&req, "idempotency-key"))?;
        let (appointment, replayed) = match self
            .0
            .service
            .create(&caller, &request, key.as_deref())
            .await?
        {
            Booked::Created(a) => (a, false),
            Booked::Replayed(a) => (a, true),
        };
        let location = format!("/appointments/{}", appointment.appointment_id);
        let response = with_header(json_no_store(201, &appointment)?, "location", &location)?;
        if replayed {
            with_header(response, "idempotent-replayed", "true")
        } else {
            Ok(response)
        }
    }
}
