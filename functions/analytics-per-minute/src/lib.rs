//! `GET /analytics/appointments-per-minute?from=&to=`: appointments per one-minute window, all
//! partitions summed, oldest first (admins). Defaults to the last hour; at most one day.

use careflow::analytics::AnalyticsStore;
use careflow::auth::Role;
use careflow::auth::token::Verifier;
use careflow::config::ConfigError;
use careflow::db::DbConfig;
use careflow::http::{HttpHandler, authenticate, json_no_store, query_param};
use careflow::{Error, Result};
use chrono::{DateTime, Duration, Utc};
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

    pub async fn from_env() -> Result<Self, ConfigError> {
        let pool = DbConfig::from_env().await?.pool()?;
        Ok(Self::new(AnalyticsStore::new(pool), Verifier::from_env()?))
    }
}

fn time(req: &Request, name: &str) -> Result<Option<DateTime<Utc>>> {
    query_param(req, name)
        .map(|v| {
            v.parse()
                .map_err(|_| Error::invalid(name, "must be an RFC 3339 time"))
        })
        .transpose()
}

impl HttpHandler for AnalyticsPerMinute {
    async fn handle(&self, req: Request) -> Result<Response<Body>> {
        let caller = authenticate(&req, &self.verifier)?;
        caller.require(&[Role::Admin])?;
        let to = time(&req, "to")?.unwrap_or_else(|| Utc::now() + Duration::minutes(1));
        let from = time(&req, "from")?.unwrap_or(to - Duration::hours(1));
        if from >= to {
            return Err(Error::invalid("to", "must be after from"));
        }
        if to - from > Duration::days(1) {
            return Err(Error::invalid("from", "the range is at most one day"));
        }
        let windows = self.store.per_minute(from, to).await?;
        json_no_store(200, &json!({ "from": from, "to": to, "windows": windows }))
    }
}
