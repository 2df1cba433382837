//! `GET /analytics/appointments-per-minute?from=&to=`: appointments per one-minute window, all
//! partitions summed, oldest first (admins). Defaults to the last hour; at most one day.

use careflow::Result;
use careflow::analytics::AnalyticsStore;
use careflow::config::{ConfigError, FromVars as _, Vars};
use careflow::http::{HttpHandler, Protected, json_no_store, query_time};
use lambda_http::{Body, Request, Response};

pub struct AnalyticsPerMinute(Protected<AnalyticsStore>);

impl AnalyticsPerMinute {
    pub async fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        Protected::build(&vars).await.map(Self)
    }
}

impl HttpHandler for AnalyticsPerMinute {
    async fn handle(&self, req: Request) -> Result<Response<Body>> {
        let caller = self.0.caller(&req)?;
        let range = || Ok((query_time(&req, "from")?, query_time(&req, "to")?));
        json_no_store(200, &self.0.service.per_minute_for(&caller, range).await?)
    }
}
