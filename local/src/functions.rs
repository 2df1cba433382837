//! The registry: every function crate, built once with shared clients, callable by name.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use careflow::appointment::service::Appointments;
use careflow::auth::accounts::Accounts;
use careflow::auth::token::{Jwks, TokenIssuer, TokenSettings, Verifier};
use careflow::billing::service::Billing;
use careflow::http::HttpHandler;

use crate::aws::AwsFunctions;

/// A type-erased HTTP function: API Gateway event JSON in, Lambda response JSON out.
pub type HttpFunction = Arc<
    dyn Fn(
            serde_json::Value,
        ) -> Pin<Box<dyn Future<Output = careflow::Result<serde_json::Value>> + Send>>
        + Send
        + Sync,
>;

fn erase<H: HttpHandler>(handler: H) -> HttpFunction {
    let handler = Arc::new(handler);
    Arc::new(move |event| Box::pin(careflow::http::invoke(Arc::clone(&handler), event)))
}

/// A type-erased event function: the event JSON AWS would send in, the JSON response out
/// (deserialised and serialised as the Lambda runtime would).
pub type EventFunction = Arc<
    dyn Fn(
            serde_json::Value,
        ) -> Pin<Box<dyn Future<Output = careflow::Result<serde_json::Value>> + Send>>
        + Send
        + Sync,
>;

/// The Kafka-triggered functions by crate name.
pub fn event_functions(deps: &Deps) -> HashMap<&'static str, EventFunction> {
    let consumer = Arc::new(billing_consumer::BillingConsumer::new(
        deps.billing.clone(),
        true,
    ));
    let billing: EventFunction = Arc::new(move |event| {
        let consumer = Arc::clone(&consumer);
        Box::pin(async move {
            let event: aws_lambda_events::kafka::KafkaEvent = serde_json::from_value(event)
                .map_err(|e| careflow::Error::invalid("event", e.to_string()))?;
            let response = consumer.handle(event).await?;
            serde_json::to_value(response).map_err(careflow::Error::internal)
        })
    });
    let sink = Arc::new(analytics_sink::AnalyticsSink::new(
        careflow::analytics::AnalyticsStore::new(deps.accounts.pool().clone()),
        true,
    ));
    let analytics: EventFunction = Arc::new(move |event| {
        let sink = Arc::clone(&sink);
        Box::pin(async move {
            let event: aws_lambda_events::kafka::KafkaEvent = serde_json::from_value(event)
                .map_err(|e| careflow::Error::invalid("event", e.to_string()))?;
            let response = sink.handle(event).await?;
            serde_json::to_value(response).map_err(careflow::Error::internal)
        })
    });
    HashMap::from([("billing-consumer", billing), ("analytics-sink", analytics)])
}

/// What the functions share, built once (as each Lambda's `main` would from its environment).
#[derive(Clone)]
pub struct Deps {
    pub accounts: Accounts,
    pub issuer: TokenIssuer,
    pub verifier: Verifier,
    pub jwks: Jwks,
    pub settings: TokenSettings,
    /// With a publisher: bookings and cancellations publish their events at once.
    pub appointments: Appointments,
    pub billing: Billing,
    /// The DynamoDB and S3 side: each function reaches it with its own role's credentials.
    pub aws: AwsFunctions,
}

/// Every HTTP function by crate name. Fails when a function that calls AWS has no role
/// credentials.
pub fn http_functions(deps: &Deps) -> anyhow::Result<HashMap<&'static str, HttpFunction>> {
    let d = deps.clone();
    let aws = &d.aws;
    Ok(HashMap::from([
        (
            "lab-upload-url",
            erase(lab_upload_url::LabUploadUrl::new(
                aws.lab("lab-upload-url")?,
                aws.uploads("lab-upload-url")?,
                d.verifier.clone(),
            )),
        ),
        (
            "lab-results-list",
            erase(lab_results_list::LabResultsList::new(
                aws.lab("lab-results-list")?,
                d.verifier.clone(),
            )),
        ),
        (
            "lab-results-get",
            erase(lab_results_get::LabResultsGet::new(
                aws.lab("lab-results-get")?,
                d.verifier.clone(),
            )),
        ),
        (
            "auth-register",
            erase(auth_register::AuthRegister::new(d.accounts.clone())),
        ),
        (
            "auth-login",
            erase(auth_login::AuthLogin::new(
                d.accounts.clone(),
                d.issuer.clone(),
            )),
        ),
        (
            "auth-refresh",
            erase(auth_refresh::AuthRefresh::new(
                d.accounts.clone(),
                d.issuer.clone(),
            )),
        ),
        (
            "auth-logout",
            erase(auth_logout::AuthLogout::new(
                d.accounts.clone(),
                d.verifier.clone(),
            )),
        ),
        (
            "auth-me",
            erase(auth_me::AuthMe::new(d.accounts.clone(), d.verifier.clone())),
        ),
        (
            "auth-jwks",
            erase(auth_jwks::AuthJwks::new(&d.jwks, &d.settings)),
        ),
        (
            "users-create-doctor",
            erase(users_create_doctor::UsersCreateDoctor::new(
                d.accounts.clone(),
                d.verifier.clone(),
            )),
        ),
        (
            "appointments-create",
            erase(appointments_create::AppointmentsCreate::new(
                d.appointments.clone(),
                d.verifier.clone(),
            )),
        ),
        (
            "appointments-get",
            erase(appointments_get::AppointmentsGet::new(
                d.appointments.clone(),
                d.verifier.clone(),
            )),
        ),
        (
            "appointments-list",
            erase(appointments_list::AppointmentsList::new(
                d.appointments.clone(),
                d.verifier.clone(),
            )),
        ),
        (
            "appointments-cancel",
            erase(appointments_cancel::AppointmentsCancel::new(
                d.appointments.clone(),
                d.verifier.clone(),
            )),
        ),
        (
            "doctors-list",
            erase(doctors_list::DoctorsList::new(
                d.accounts.clone(),
                d.verifier.clone(),
            )),
        ),
        (
            "analytics-per-minute",
            erase(analytics_per_minute::AnalyticsPerMinute::new(
                careflow::analytics::AnalyticsStore::new(d.accounts.pool().clone()),
                d.verifier.clone(),
            )),
        ),
        (
            "invoices-list",
            erase(invoices_list::InvoicesList::new(
                d.billing.clone(),
                d.verifier.clone(),
            )),
        ),
        (
            "invoices-get",
            erase(invoices_get::InvoicesGet::new(
                d.billing.clone(),
                d.verifier.clone(),
            )),
        ),
        (
            "invoices-pay",
            erase(invoices_pay::InvoicesPay::new(
                d.billing.clone(),
                d.verifier.clone(),
            )),
        ),
        (
            "patients-create",
            erase(patients_create::PatientsCreate::new(
                aws.patients("patients-create")?,
                d.accounts.clone(),
                d.verifier.clone(),
            )),
        ),
        (
            "patients-get",
            erase(patients_get::PatientsGet::new(
                aws.patients("patients-get")?,
                d.verifier.clone(),
            )),
        ),
        (
            "patients-update",
            erase(patients_update::PatientsUpdate::new(
                aws.patients("patients-update")?,
                d.verifier.clone(),
            )),
        ),
        (
            "patients-list",
            erase(patients_list::PatientsList::new(
                aws.patients("patients-list")?,
                d.verifier.clone(),
            )),
        ),
        (
            "patients-history-add",
            erase(patients_history_add::PatientsHistoryAdd::new(
                aws.patients("patients-history-add")?,
                d.verifier.clone(),
            )),
        ),
        (
            "patients-history-list",
            erase(patients_history_list::PatientsHistoryList::new(
                aws.patients("patients-history-list")?,
                d.verifier.clone(),
            )),
        ),
    ]))
}

/// Functions that have no HTTP route (invoked by the runner itself or by other event sources).
pub const NON_HTTP_FUNCTIONS: &[&str] = &[
    "migrate",
    "outbox-relay",
    "billing-consumer",
    "lab-processor",
    "analytics-sink",
];

/// Runs one `from_env`, reporting its error by name.
async fn started<T, E: std::fmt::Display>(
    f: impl Future<Output = Result<T, E>>,
) -> Result<(), String> {
    f.await.map(drop).map_err(|e| e.to_string())
}

/// Builds `function` exactly as its `main` does at cold start (its `from_env`, the one
/// composition root), from the process environment, and drops it: a missing or misspelt
/// variable or a secret its role cannot read is the error, by name. The startup test runs every
/// function of template.yaml through it with the environment the template gives each.
pub async fn start_from_env(function: &str) -> Result<(), String> {
    match function {
        "analytics-per-minute" => {
            started(analytics_per_minute::AnalyticsPerMinute::from_env()).await
        }
        "analytics-sink" => started(analytics_sink::AnalyticsSink::from_env()).await,
        "appointments-cancel" => started(appointments_cancel::AppointmentsCancel::from_env()).await,
        "appointments-create" => started(appointments_create::AppointmentsCreate::from_env()).await,
        "appointments-get" => started(appointments_get::AppointmentsGet::from_env()).await,
        "appointments-list" => started(appointments_list::AppointmentsList::from_env()).await,
        "auth-jwks" => started(auth_jwks::AuthJwks::from_env()).await,
        "auth-login" => started(auth_login::AuthLogin::from_env()).await,
        "auth-logout" => started(auth_logout::AuthLogout::from_env()).await,
        "auth-me" => started(auth_me::AuthMe::from_env()).await,
        "auth-refresh" => started(auth_refresh::AuthRefresh::from_env()).await,
        "auth-register" => started(auth_register::AuthRegister::from_env()).await,
        "billing-consumer" => started(billing_consumer::BillingConsumer::from_env()).await,
        "doctors-list" => started(doctors_list::DoctorsList::from_env()).await,
        "invoices-get" => started(invoices_get::InvoicesGet::from_env()).await,
        "invoices-list" => started(invoices_list::InvoicesList::from_env()).await,
        "invoices-pay" => started(invoices_pay::InvoicesPay::from_env()).await,
        "lab-processor" => started(lab_processor::LabProcessor::from_env()).await,
        "lab-results-get" => started(lab_results_get::LabResultsGet::from_env()).await,
        "lab-results-list" => started(lab_results_list::LabResultsList::from_env()).await,
        "lab-upload-url" => started(lab_upload_url::LabUploadUrl::from_env()).await,
        "migrate" => started(migrate::Migrate::from_env()).await,
        "outbox-relay" => started(outbox_relay::OutboxRelay::from_env()).await,
        "patients-create" => started(patients_create::PatientsCreate::from_env()).await,
        "patients-get" => started(patients_get::PatientsGet::from_env()).await,
        "patients-history-add" => {
            started(patients_history_add::PatientsHistoryAdd::from_env()).await
        }
        "patients-history-list" => {
            started(patients_history_list::PatientsHistoryList::from_env()).await
        }
        "patients-list" => started(patients_list::PatientsList::from_env()).await,
        "patients-update" => started(patients_update::PatientsUpdate::from_env()).await,
        "users-create-doctor" => started(users_create_doctor::UsersCreateDoctor::from_env()).await,
        other => Err(format!(
            "the test does not know how to start {other}: add it here"
        )),
    }
}
