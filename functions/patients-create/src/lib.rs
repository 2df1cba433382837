//! `POST /patients`: a patient creates their own profile once; an admin may create one for any
//! patient account (naming it in `patient_id`).

use careflow::auth::accounts::Accounts;
use careflow::auth::token::Verifier;
use careflow::auth::{Caller, Role};
use careflow::config::ConfigError;
use careflow::http::{
    DEFAULT_BODY_LIMIT, HttpHandler, authenticate, json_body, json_no_store, with_header,
};
use careflow::patient::service::Patients;
use careflow::patient::store::RecordsTable;
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

    pub async fn from_env() -> Result<Self, ConfigError> {
        Ok(Self::new(
            Patients::new(RecordsTable::from_env().await?),
            Accounts::from_env().await?,
            Verifier::from_env()?,
        ))
    }

    /// Whose profile this is: the caller's own, or, for an admin, the patient account named in
    /// `patient_id` (which must exist and be a patient's).
    async fn subject(&self, caller: &Caller, body: &mut Map<String, Value>) -> Result<Uuid> {
        let parse = |v: Value| -> Result<Uuid> {
            serde_json::from_value(v).map_err(|_| Error::invalid("patient_id", "must be a UUID"))
        };
        match (caller.role, body.remove("patient_id")) {
            (Role::Admin, None) => Err(Error::invalid(
                "patient_id",
                "is required when an admin creates a profile",
            )),
            (Role::Admin, Some(named)) => {
                let id = parse(named)?;
                match self.accounts.get_user(id).await {
                    Ok(user) if user.role == Role::Patient => Ok(id),
                    Ok(_) | Err(Error::NotFound(_)) => Err(Error::NotFound("patient account")),
                    Err(e) => Err(e),
                }
            }
            // Anyone else creates their own; naming another id is refused by the access rules.
            (_, None) => Ok(caller.user_id),
            (_, Some(named)) => parse(named),
        }
    }
}

impl HttpHandler for PatientsCreate {
    async fn handle(&self, req: Request) -> Result<Response<Body>> {
        let caller = authenticate(&req, &self.verifier)?;
        let mut body: Map<String, Value> = json_body(&req, DEFAULT_BODY_LIMIT)?;
        let patient_id = self.subject(&caller, &mut body).await?;
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
