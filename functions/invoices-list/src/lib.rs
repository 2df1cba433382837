//! `GET /invoices?status=&from=&to=&limit=&cursor=`: a patient's own invoices, those of a
//! doctor's appointments, or all (admins); in issue order.

use careflow::Result;
use careflow::auth::token::Verifier;
use careflow::billing::service::{Billing, InvoiceFilter};
use careflow::billing::{BillingSettings, InvoiceStatus};
use careflow::config::ConfigError;
use careflow::config::Vars;
use careflow::db::DbConfig;
use careflow::http::{HttpHandler, authenticate, json_no_store, query_param, query_time};
use careflow::pagination::page_limit;
use lambda_http::{Body, Request, Response};

pub struct InvoicesList {
    billing: Billing,
    verifier: Verifier,
}

impl InvoicesList {
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

impl HttpHandler for InvoicesList {
    async fn handle(&self, req: Request) -> Result<Response<Body>> {
        let caller = authenticate(&req, &self.verifier)?;
        let filter = InvoiceFilter {
            status: query_param(&req, "status")
                .map(str::parse::<InvoiceStatus>)
                .transpose()?,
            from: query_time(&req, "from")?,
            to: query_time(&req, "to")?,
        };
        let limit = page_limit(query_param(&req, "limit"), 50, 100)?;
        let page = self
            .billing
            .list(&caller, &filter, limit, query_param(&req, "cursor"))
            .await?;
        json_no_store(200, &page)
    }
}
