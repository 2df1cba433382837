//! `GET /analytics/appointments-per-minute?from=&to=`: appointments per one-minute window, all
//! partitions summed, oldest first (admins). Defaults to the last hour; at most one day.

use careflow::analytics::AnalyticsStore;
use careflow::auth::token::Verifier;
use careflow::config::ConfigError;
use careflow::config::Vars;
use careflow::db::DbConfig;
use careflow::http::{HttpHandler, authenticate, json_no_store, query_time};
use careflow::policy;
use careflow::{Error, Result};
use chrono::{Duration, Utc};
use lambda_http::{Body, Request, Response};
use serde_json::json;

pub struct AnalyticsPerMinute {
    store: AnalyticsStore,
    verifier: Verifier,
}

impl AnalyticsPerMinute {
    pub fn new(store: AnalyticsStore, verifier: Verifier) -> Self {
        Self { store, verifier }
    }

    pub async fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        let pool = DbConfig::from_vars(&vars).await?.pool()?;
        Ok(Self::new(
            AnalyticsStore::new(pool),
            Verifier::from_vars(&vars)?,
        ))
    }
}

impl HttpHandler for AnalyticsPerMinute {
    async fn handle(&self, req: Request) -> Result<Response<Body>> {
        let caller = authenticate(&req, &self.verifier)?;
        policy::read_analytics(&caller)?;
        let given_to = query_time(&req, "to")?;
        let to = given_to.unwrap_or_else(|| Utc::now() + Duration::minutes(1));
        let from = query_time(&req, "from")?.unwrap_or(to - Duration::hours(1));
        if from >= to {
            return Err(match given_to {
                Some(_) => Error::invalid("to", "must be after from"),
                None => Error::invalid("from", "must be before to (a minute from now by default)"),
            });
        }
        if to - from > Duration::days(1) {
            return Err(Error::invalid("from", "the range is at most one day"));
        }
        let windows = self.store.per_minute(from, to).await?;
        json_no_store(200, &json!({ "from": from, "to": to, "windows": windows }))
    }
}
