//! `GET /invoices/{invoiceId}`: for its patient, its appointment's doctor and admins (404 for
//! anyone else).

use careflow::Result;
use careflow::auth::token::Verifier;
use careflow::billing::BillingSettings;
use careflow::billing::service::Billing;
use careflow::config::ConfigError;
use careflow::config::Vars;
use careflow::db::DbConfig;
use careflow::http::{HttpHandler, authenticate, json_no_store, path_param};
use lambda_http::{Body, Request, Response};
use uuid::Uuid;

pub struct InvoicesGet {
    billing: Billing,
    verifier: Verifier,
}

impl InvoicesGet {
    pub fn new(billing: Billing, verifier: Verifier) -> Self {
        Self { billing, verifier }
    }

    pub async fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        let pool = DbConfig::from_vars(&vars).await?.pool()?;
        Ok(Self::new(
            Billing::new(pool, BillingSettings::default()),
            Verifier::from_vars(&vars)?,
        ))
    }
}

impl HttpHandler for InvoicesGet {
    async fn handle(&self, req: Request) -> Result<Response<Body>> {
        let caller = authenticate(&req, &self.verifier)?;
        let id: Uuid = path_param(&req, "invoiceId")?;
        json_no_store(200, &self.billing.get(&caller, id).await?)
    }
}
