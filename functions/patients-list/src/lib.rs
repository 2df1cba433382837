//! `GET /patients?limit=&cursor=&name_prefix=`: doctors and admins page through profiles in
//! name order.

use careflow::Result;
use careflow::config::{ConfigError, FromVars as _, Vars};
use careflow::http::{HttpHandler, Protected, json_no_store, page_query, query_param};
use careflow::patient::NAME_MAX;
use careflow::patient::service::Patients;
use careflow::validate::name;
use lambda_http::{Body, Request, Response};

pub struct PatientsList(Protected<Patients>);

impl PatientsList {
    pub async fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        Protected::build(&vars).await.map(Self)
    }
}

impl HttpHandler for PatientsList {
    async fn handle(&self, req: Request) -> Result<Response<Body>> {
        let caller = self.0.caller(&req)?;
        let (limit, cursor) = page_query(&req, 50)?;
        let prefix = query_param(&req, "name_prefix")
            .map(|p| name("name_prefix", p, NAME_MAX))
            .transpose()?;
        let page = self
            .0
            .service
            .list(&caller, prefix.as_deref(), limit, cursor)
            .await?;
        json_no_store(200, &page)
    }
}
