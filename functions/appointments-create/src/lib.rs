//! `POST /appointments`: a patient books a doctor (an admin may book for a patient). The
//! database refuses overlaps, so of concurrent bookings of one slot exactly one wins (201) and
//! the rest get 409. `Idempotency-Key` makes a retried request return the first result.

use careflow::Result;
use careflow::appointment::service::{Appointments, Booked};
use careflow::appointment::{BookingRequest, idempotency_key};
use careflow::auth::token::Verifier;
use careflow::config::ConfigError;
use careflow::config::Vars;
use careflow::db::DbConfig;
use careflow::http::{
    DEFAULT_BODY_LIMIT, HttpHandler, authenticate, header, json_body, json_no_store, with_header,
};
use careflow::outbox::Publisher;
use lambda_http::{Body, Request, Response};

pub struct AppointmentsCreate {
    appointments: Appointments,
    verifier: Verifier,
}

impl AppointmentsCreate {
    pub fn new(appointments: Appointments, verifier: Verifier) -> Self {
        Self {
            appointments,
            verifier,
        }
    }

    /// The producer is created here, once per cold start. `KAFKA_PUBLISH_TIMEOUT_MS` (default
    /// 2000) bounds how long a booking waits for the broker before leaving its event to the relay.
    pub async fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        let pool = DbConfig::from_vars(&vars).await?.pool()?;
        let publisher = Publisher::from_vars(&vars, 2000).await?;
        Ok(Self::new(
            Appointments::with_publisher(pool, publisher),
            Verifier::from_vars(&vars)?,
        ))
    }
}

impl HttpHandler for AppointmentsCreate {
    async fn handle(&self, req: Request) -> Result<Response<Body>> {
        let caller = authenticate(&req, &self.verifier)?;
        let request: BookingRequest = json_body(&req, DEFAULT_BODY_LIMIT)?;
        let key = idempotency_key(header(&req, "idempotency-key"))?;
        let (appointment, replayed) = match self
            .appointments
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
