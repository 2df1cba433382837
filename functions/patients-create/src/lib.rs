//! `POST /patients`: a patient creates their own profile once; an admin may create one for any
//! patient account (naming it in `patient_id`).

use careflow::auth::accounts::Accounts;
use careflow::auth::token::Verifier;
use careflow::config::FromVars;
use careflow::config::{ConfigError, Vars};
use careflow::http::{
    DEFAULT_BODY_LIMIT, HttpHandler, authenticate, json_body, json_no_store, with_header,
};
use careflow::patient::service::Patients;
use careflow::policy;
use careflow::{Error, Result};
use lambda_http::{Body, Request, Response};
use serde_json::{Map, Value};
use uuid::Uuid;

pub struct PatientsCreate {
    patients: Patients,
    accounts: Accounts,
    verifier: Verifier,
}

impl PatientsCreate {
    pub fn new(patients: Patients, accounts: Accounts, verifier: Verifier) -> Self {
        Self {
            patients,
            accounts,
            verifier,
        }
    }

    pub async fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        Ok(Self::new(
            Patients::build(&vars).await?,
            Accounts::from_vars(&vars).await?,
            Verifier::from_vars(&vars)?,
        ))
    }
}

impl HttpHandler for PatientsCreate {
    async fn handle(&self, req: Request) -> Result<Response<Body>> {
        let caller = authenticate(&req, &self.verifier)?;
        let mut body: Map<String, Value> = json_body(&req, DEFAULT_BODY_LIMIT)?;
        let named = body
            .remove("patient_id")
            .map(|v| {
                serde_json::from_value::<Uuid>(v)
                    .map_err(|_| Error::invalid("patient_id", "must be a UUID"))
            })
            .transpose()?;
        let subject = policy::profile_subject(&caller, named)?;
        if subject.named_account {
            self.accounts
                .require_patient_account(subject.patient)
                .await?;
        }
        let patient_id = subject.patient;
        let profile = self.patients.create(&caller, patient_id, body).await?;
        let response = json_no_store(201, &profile)?;
        let response = with_header(response, "etag", &profile.etag())?;
        with_header(
            response,
            "location",
            &format!("/patients/{}", profile.patient_id),
        )
    }
}
