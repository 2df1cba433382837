//! Free start times, for anyone signed in:
//! - `GET /doctors/{doctorId}/slots?from=&to=&type=`: one doctor's, with the doctor's time
//!   zone (to show them in local time);
//! - `GET /slots?specialty=&from=&to=&type=&limit=&cursor=`: across doctors (of a specialty),
//!   in time order, paged.
//!
//! `from` defaults to now and `to` to a week after `from`, at most 31 days; `type` to a
//! consultation. A slot answered free can still be booked by someone else first (409).

use careflow::appointment::AppointmentType;
use careflow::appointment::availability::slot_range;
use careflow::appointment::schedule::{Schedules, Slot};
use careflow::config::{ConfigError, FromVars as _, Vars};
use careflow::http::{
    HttpHandler, Protected, json_no_store, page_query, path_param, query_param, query_parsed,
    query_time,
};
use careflow::{Result, validate};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use uuid::Uuid;

pub struct DoctorsSlots(Protected<Schedules>);

impl DoctorsSlots {
    pub async fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        Ok(Self(Protected::build(&vars).await?))
    }

    /// From parts already built (the benchmark).
    pub fn new(schedules: Schedules, verifier: careflow::auth::token::Verifier) -> Self {
        Self(Protected::new(schedules, verifier))
    }
}

#[derive(Serialize)]
struct DoctorSlots {
    doctor_id: Uuid,
    appointment_type: AppointmentType,
    time_zone: String,
    slots: Vec<Slot>,
}

impl HttpHandler for DoctorsSlots {
    async fn handle(&self, req: Request) -> Result<Response<Body>> {
        self.0.caller(&req)?;
        let kind: AppointmentType = query_parsed(&req, "type", "an appointment type")?
            .unwrap_or(AppointmentType::Consultation);
        let (from, to) = slot_range(
            query_time(&req, "from")?,
            query_time(&req, "to")?,
            chrono::Utc::now(),
        )?;
        let schedules = &self.0.service;
        let by_doctor = req
            .path_parameters_ref()
            .and_then(|p| p.first("doctorId"))
            .is_some();
        if by_doctor {
            let doctor: Uuid = path_param(&req, "doctorId")?;
            let (time_zone, slots) = schedules.doctor_slots(doctor, kind, from, to).await?;
            return json_no_store(
                200,
                &DoctorSlots {
                    doctor_id: doctor,
                    appointment_type: kind,
                    time_zone,
                    slots,
                },
            );
        }
        let specialty = query_param(&req, "specialty")
            .map(|s| validate::optional_text("specialty", Some(s), 100))
            .transpose()?
            .flatten();
        let (limit, cursor) = page_query(&req, 100)?;
        let page = schedules
            .search(specialty.as_deref(), kind, from, to, limit, cursor)
            .await?;
        json_no_store(200, &page)
    }
}
