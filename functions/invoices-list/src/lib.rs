//! `GET /invoices?status=&from=&to=&limit=&cursor=`: a patient's own invoices, those of a
//! doctor's appointments, or all (admins); in issue order.

use careflow::Result;
use careflow::billing::InvoiceStatus;
use careflow::billing::service::{Billing, InvoiceFilter};
use careflow::config::{ConfigError, FromVars as _, Vars};
use careflow::http::{HttpHandler, Protected, json_no_store, page_query, query_param, query_time};
use lambda_http::{Body, Request, Response};

pub struct InvoicesList(Protected<Billing>);

impl InvoicesList {
    pub async fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        Protected::build(&vars).await.map(Self)
    }
}

impl HttpHandler for InvoicesList {
    async fn handle(&self, req: Request) -> Result<Response<Body>> {
        let caller = self.0.caller(&req)?;
        let filter = InvoiceFilter {
            status: query_param(&req, "status")
                .map(str::parse::<InvoiceStatus>)
                .transpose()?,
            from: query_time(&req, "from")?,
            to: query_time(&req, "to")?,
        };
        let (limit, cursor) = page_query(&req, 50)?;
        let page = self.0.service.list(&caller, &filter, limit, cursor).await?;
        json_no_store(200, &page)
    }
}
