//! `GET /invoices/{invoiceId}`: for its patient, its appointment's doctor and admins (404 for
//! anyone else).

use careflow::Result;
use careflow::billing::service::Billing;
use careflow::config::{ConfigError, FromVars as _, Vars};
use careflow::http::{HttpHandler, Protected, json_no_store, path_param};
use lambda_http::{Body, Request, Response};
use uuid::Uuid;

pub struct InvoicesGet(Protected<Billing>);

impl InvoicesGet {
    pub async fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        Protected::build(&vars).await.map(Self)
    }
}

impl HttpHandler for InvoicesGet {
    async fn handle(&self, req: Request) -> Result<Response<Body>> {
        let caller = self.0.caller(&req)?;
        let id: Uuid = path_param(&req, "invoiceId")?;
        json_no_store(200, &self.0.service.get(&caller, id).await?)
    }
}
