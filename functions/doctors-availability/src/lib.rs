//! A doctor's availability:
//! - `GET /doctors/{doctorId}/availability`: anyone signed in (patients see which types a
//!   doctor offers); the version comes back as `ETag`;
//! - `PUT /doctors/{doctorId}/availability`: the doctor or an admin replaces it whole; with
//!   `If-Match` only if it is still that version (412 otherwise).

use careflow::appointment::availability::AvailabilityDocument;
use careflow::appointment::schedule::{Schedules, Versioned};
use careflow::config::{ConfigError, FromVars as _, Vars};
use careflow::http::{
    HttpHandler, Protected, header, json_body, json_no_store, path_param, with_header,
};
use careflow::{Error, Result, policy};
use lambda_http::{Body, Request, Response};
use uuid::Uuid;

/// A week of hours with exceptions for a year fits easily.
const BODY_LIMIT: usize = 64 * 1024;

pub struct DoctorsAvailability(Protected<Schedules>);

impl DoctorsAvailability {
    pub async fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        Ok(Self(Protected::build(&vars).await?))
    }
}

fn answer(versioned: &Versioned) -> Result<Response<Body>> {
    with_header(
        json_no_store(200, &versioned.document)?,
        "etag",
        &format!("\"{}\"", versioned.version),
    )
}

/// `If-Match: "3"` (or `3`); absent: an unconditional replace.
fn if_match(req: &Request) -> Result<Option<i32>> {
    header(req, "if-match")
        .map(|raw| {
            raw.trim()
                .trim_start_matches("W/")
                .trim_matches('"')
                .parse()
                .map_err(|_| Error::invalid("if-match", "must be the ETag this resource returned"))
        })
        .transpose()
}

impl HttpHandler for DoctorsAvailability {
    async fn handle(&self, req: Request) -> Result<Response<Body>> {
        let caller = self.0.caller(&req)?;
        let doctor: Uuid = path_param(&req, "doctorId")?;
        let schedules = &self.0.service;
        match req.method().as_str() {
            "GET" => answer(&schedules.availability(doctor).await?),
            "PUT" => {
                // Before the body is read: a stranger learns nothing from its errors.
                policy::manage_availability(&caller, doctor)?;
                let expected = if_match(&req)?;
                let document: AvailabilityDocument = json_body(&req, BODY_LIMIT)?;
                answer(
                    &schedules
                        .replace(&caller, doctor, &document, expected)
                        .await?,
                )
            }
            // API Gateway routes only the methods above here.
            _ => Err(Error::NotFound("route")),
        }
    }
}
