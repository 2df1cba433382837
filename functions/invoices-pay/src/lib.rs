//! `POST /invoices/{invoiceId}/pay` (empty body or `{reason}`): an admin marks an open invoice
//! paid. Idempotent; a void invoice cannot be paid (409), and a paid one is never voided.

use careflow::Result;
use careflow::billing::service::Billing;
use careflow::config::{ConfigError, FromVars as _, Vars};
use careflow::http::{
    DEFAULT_BODY_LIMIT, HttpHandler, Protected, json_no_store, optional_json_body, path_param,
};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use uuid::Uuid;

/// The payment happens outside CareFlow; `reason` records its reference or a note.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PayRequest {
    #[serde(default)]
    reason: Option<String>,
}

pub struct InvoicesPay(Protected<Billing>);

impl InvoicesPay {
    pub async fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        Protected::build(&vars).await.map(Self)
    }
}

impl HttpHandler for InvoicesPay {
    async fn handle(&self, req: Request) -> Result<Response<Body>> {
        let caller = self.0.caller(&req)?;
        let id: Uuid = path_param(&req, "invoiceId")?;
        let body: PayRequest = optional_json_body(&req, DEFAULT_BODY_LIMIT)?;
        json_no_store(
            200,
            &self
                .0
                .service
                .pay(&caller, id, body.reason.as_deref())
                .await?,
        )
    }
}
