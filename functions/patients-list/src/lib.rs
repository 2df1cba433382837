//! `GET /patients?limit=&cursor=&name_prefix=`: doctors and admins page through profiles in
//! name order.

use careflow::Result;
use careflow::auth::token::Verifier;
use careflow::config::ConfigError;
use careflow::config::Vars;
use careflow::http::{HttpHandler, authenticate, json_no_store, query_param};
use careflow::pagination::page_limit;
use careflow::patient::NAME_MAX;
use careflow::patient::service::Patients;
use careflow::patient::store::RecordsTable;
use careflow::validate::bounded_text;
use lambda_http::{Body, Request, Response};

pub struct PatientsList {
    patients: Patients,
    verifier: Verifier,
}

impl PatientsList {
    pub fn new(patients: Patients, verifier: Verifier) -> Self {
        Self { patients, verifier }
    }

    pub async fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        Ok(Self::new(
            Patients::new(RecordsTable::from_vars(&vars).await?),
            Verifier::from_vars(&vars)?,
        ))
    }
}

impl HttpHandler for PatientsList {
    async fn handle(&self, req: Request) -> Result<Response<Body>> {
        let caller = authenticate(&req, &self.verifier)?;
        let limit = page_limit(query_param(&req, "limit"), 50, 100)?;
        let prefix = query_param(&req, "name_prefix")
            .map(|p| bounded_text("name_prefix", p, NAME_MAX))
            .transpose()?;
        let page = self
            .patients
            .list(
                &caller,
                prefix.as_deref(),
                limit,
                query_param(&req, "cursor"),
            )
            .await?;
        json_no_store(200, &page)
    }
}
