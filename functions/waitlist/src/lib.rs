//! The waitlist (patients, and admins for them):
//! - `POST /waitlist` `{doctor_id | specialty, appointment_type, from, to}`: join (201);
//! - `GET /waitlist`: my entries, newest first, each with its open offer (admins: anyone's,
//!   `?patient_id=`);
//! - `DELETE /waitlist/{entryId}`: leave (204); an open offer passes to the next patient;
//! - `POST /waitlist/offers/{offerId}/accept`: book the held time (201, the appointment; again:
//!   the same, `Idempotent-Replayed: true`); 409 once the offer expired or closed otherwise;
//! - `POST /waitlist/offers/{offerId}/decline`: pass it on (204).
//!
//! Offers are made by `scheduling-events` when a cancellation or a move frees a time.

use careflow::appointment::service::Booked;
use careflow::appointment::waitlist::{JoinRequest, Waitlist};
use careflow::config::{ConfigError, FromVars as _, Vars};
use careflow::http::{
    DEFAULT_BODY_LIMIT, HttpHandler, Protected, empty, json_body, json_no_store, page_query,
    path_param, query_parsed, with_header,
};
use careflow::{Error, Result};
use lambda_http::{Body, Request, Response};
use uuid::Uuid;

pub struct WaitlistApi(Protected<Waitlist>);

impl WaitlistApi {
    pub async fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        Ok(Self(Protected::build(&vars).await?))
    }
}

impl HttpHandler for WaitlistApi {
    async fn handle(&self, req: Request) -> Result<Response<Body>> {
        let caller = self.0.caller(&req)?;
        let waitlist = &self.0.service;
        let path = req.uri().path().trim_end_matches('/');
        match req.method().as_str() {
            "POST" if path.ends_with("/accept") => {
                let offer: Uuid = path_param(&req, "offerId")?;
                let (appointment, replayed) = match waitlist.accept(&caller, offer).await? {
                    Booked::Created(a) => (a, false),
                    Booked::Replayed(a) => (a, true),
                };
                let location = format!("/appointments/{}", appointment.appointment_id);
                let response =
                    with_header(json_no_store(201, &appointment)?, "location", &location)?;
                if replayed {
                    with_header(response, "idempotent-replayed", "true")
                } else {
                    Ok(response)
                }
            }
            "POST" if path.ends_with("/decline") => {
                let offer: Uuid = path_param(&req, "offerId")?;
                waitlist.decline(&caller, offer).await?;
                empty(204)
            }
            "POST" => {
                let request: JoinRequest = json_body(&req, DEFAULT_BODY_LIMIT)?;
                let entry = waitlist.join(&caller, &request).await?;
                let location = format!("/waitlist/{}", entry.entry_id);
                with_header(json_no_store(201, &entry)?, "location", &location)
            }
            "GET" => {
                let (limit, cursor) = page_query(&req, 20)?;
                let patient: Option<Uuid> = query_parsed(&req, "patient_id", "a UUID")?;
                json_no_store(200, &waitlist.list(&caller, patient, limit, cursor).await?)
            }
            "DELETE" => {
                let entry: Uuid = path_param(&req, "entryId")?;
                waitlist.leave(&caller, entry).await?;
                empty(204)
            }
            // API Gateway routes only the methods above here.
            _ => Err(Error::NotFound("route")),
        }
    }
}
