//! `GET /appointments?from=&to=&doctor_id=&patient_id=&limit=&cursor=`: a patient's own
//! appointments, a doctor's schedule for a date range, or everything for admins; start order.

use careflow::appointment::service::{Appointments, ListFilter};
use careflow::auth::token::Verifier;
use careflow::config::ConfigError;
use careflow::config::Vars;
use careflow::db::DbConfig;
use careflow::http::{
    HttpHandler, authenticate, json_no_store, query_param, query_parsed, query_time,
};
use careflow::pagination::page_limit;
use careflow::{Error, Result};
use lambda_http::{Body, Request, Response};
use uuid::Uuid;

pub struct AppointmentsList {
    appointments: Appointments,
    verifier: Verifier,
}

impl AppointmentsList {
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

impl HttpHandler for AppointmentsList {
    async fn handle(&self, req: Request) -> Result<Response<Body>> {
        let caller = authenticate(&req, &self.verifier)?;
        let filter = ListFilter {
            from: query_time(&req, "from")?,
            to: query_time(&req, "to")?,
            doctor_id: query_parsed::<Uuid>(&req, "doctor_id", "a UUID")?,
            patient_id: query_parsed::<Uuid>(&req, "patient_id", "a UUID")?,
        };
        if filter
            .from
            .zip(filter.to)
            .is_some_and(|(from, to)| to <= from)
        {
            return Err(Error::invalid("to", "must be after from"));
        }
        let limit = page_limit(query_param(&req, "limit"), 50, 100)?;
        let page = self
            .appointments
            .list(&caller, &filter, limit, query_param(&req, "cursor"))
            .await?;
        json_no_store(200, &page)
    }
}
