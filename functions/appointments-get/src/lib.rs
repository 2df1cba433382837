//! `GET /appointments/{appointmentId}`: for its patient, its doctor and admins (404 for anyone
//! else, so existence is not revealed). `GET /appointments/{appointmentId}.ics` (the same
//! route: API Gateway matches whole path segments) answers it as a calendar file.

use careflow::Result;
use careflow::appointment::calendar;
use careflow::appointment::service::Appointments;
use careflow::auth::token::Verifier;
use careflow::config::{ConfigError, FromVars as _, Vars};
use careflow::http::{HttpHandler, Protected, json_no_store, path_param};
use lambda_http::{Body, Request, Response};
use uuid::Uuid;

pub struct AppointmentsGet {
    inner: Protected<Appointments>,
    /// Where the calendar file's description points (`CAREFLOW_PORTAL_URL`).
    portal_url: String,
}

impl AppointmentsGet {
    pub async fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        Ok(Self {
            inner: Protected::new(
                Appointments::build(&vars).await?,
                Verifier::from_vars(&vars)?,
            ),
            portal_url: vars.required("CAREFLOW_PORTAL_URL")?,
        })
    }
}

impl HttpHandler for AppointmentsGet {
    async fn handle(&self, req: Request) -> Result<Response<Body>> {
        let caller = self.inner.caller(&req)?;
        let raw: String = path_param(&req, "appointmentId")?;
        let (id, as_calendar) = match raw.strip_suffix(".ics") {
            Some(id) => (id, true),
            None => (raw.as_str(), false),
        };
        let id: Uuid = id.parse().map_err(|_| {
            careflow::Error::invalid(
                "appointmentId",
                "must be a UUID, optionally followed by .ics",
            )
        })?;
        let appointment = self.inner.service.get(&caller, id).await?;
        if !as_calendar {
            return json_no_store(200, &appointment);
        }
        Response::builder()
            .status(200)
            .header("content-type", "text/calendar; charset=utf-8")
            .header(
                "content-disposition",
                "attachment; filename=\"appointment.ics\"",
            )
            .header("cache-control", "no-store")
            .body(Body::Text(calendar::ics(&appointment, &self.portal_url)))
            .map_err(careflow::Error::internal)
    }
}
