//! `GET /appointments?from=&to=&doctor_id=&patient_id=&limit=&cursor=`: a patient's own
//! appointments, a doctor's schedule for a date range, or everything for admins; start order.

use careflow::Result;
use careflow::appointment::service::{Appointments, ListFilter};
use careflow::config::{ConfigError, FromVars as _, Vars};
use careflow::http::{HttpHandler, Protected, json_no_store, page_query, query_parsed, query_time};
use lambda_http::{Body, Request, Response};
use uuid::Uuid;

pub struct AppointmentsList(Protected<Appointments>);

impl AppointmentsList {
    pub async fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        Protected::build(&vars).await.map(Self)
    }
}

impl HttpHandler for AppointmentsList {
    async fn handle(&self, req: Request) -> Result<Response<Body>> {
        let caller = self.0.caller(&req)?;
        let filter = ListFilter {
            from: query_time(&req, "from")?,
            to: query_time(&req, "to")?,
            doctor_id: query_parsed::<Uuid>(&req, "doctor_id", "a UUID")?,
            patient_id: query_parsed::<Uuid>(&req, "patient_id", "a UUID")?,
        };
        let (limit, cursor) = page_query(&req, 50)?;
        let page = self.0.service.list(&caller, &filter, limit, cursor).await?;
        json_no_store(200, &page)
    }
}
