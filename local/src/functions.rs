//! The registry: every function crate, built by its own `from_vars` (the constructor its `main`
//! calls) from the environment the template gives it, callable by name.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use careflow::appointment::service::Appointments;
use careflow::auth::accounts::Accounts;
use careflow::auth::token::{Jwks, SigningKey, TokenIssuer, TokenSettings, Verifier};
use careflow::billing::service::Billing;
use careflow::config::{ConfigError, Vars};
use careflow::http::{Edge, HttpHandler};

use crate::aws::AwsFunctions;

/// A type-erased HTTP function: API Gateway event JSON in, Lambda response JSON out.
pub type HttpFunction = Arc<
    dyn Fn(
            serde_json::Value,
        ) -> Pin<Box<dyn Future<Output = careflow::Result<serde_json::Value>> + Send>>
        + Send
        + Sync,
>;

/// The handler behind the edge its variables describe, as `careflow::http::start` runs it in
/// Lambda (no edge unless `CAREFLOW_EDGE_ORIGIN_SECRET_SHA256` is set).
fn erase<H: HttpHandler>(edge: Edge, handler: H) -> HttpFunction {
    let handler = Arc::new(handler);
    Arc::new(move |event| {
        Box::pin(careflow::http::invoke_through(
            edge.clone(),
            Arc::clone(&handler),
            event,
        ))
    })
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

/// A Kafka-triggered function as an [`EventFunction`].
fn erase_kafka<T, F, Fut, R>(function: T, handle: F) -> EventFunction
where
    T: Send + Sync + 'static,
    F: Fn(Arc<T>, aws_lambda_events::kafka::KafkaEvent) -> Fut + Send + Sync + Copy + 'static,
    Fut: Future<Output = careflow::Result<R>> + Send,
    R: serde::Serialize,
{
    let function = Arc::new(function);
    Arc::new(move |event| {
        let function = Arc::clone(&function);
        Box::pin(async move {
            let event: aws_lambda_events::kafka::KafkaEvent = serde_json::from_value(event)
                .map_err(|e| careflow::Error::invalid("event", e.to_string()))?;
            let response = handle(function, event).await?;
            serde_json::to_value(response).map_err(careflow::Error::internal)
        })
    })
}

/// The functions behind an API route.
pub const HTTP_FUNCTIONS: &[&str] = &[
    "analytics-per-minute",
    "appointments-attendance",
    "appointments-cancel",
    "appointments-create",
    "appointments-get",
    "appointments-list",
    "appointments-reschedule",
    "auth-jwks",
    "auth-login",
    "auth-logout",
    "auth-me",
    "auth-mfa",
    "auth-refresh",
    "auth-register",
    "auth-verify-email",
    "doctors-availability",
    "doctors-list",
    "doctors-slots",
    "emergency-access",
    "invoices-get",
    "invoices-list",
    "invoices-pay",
    "lab-results-get",
    "lab-results-list",
    "lab-review",
    "lab-upload-url",
    "patients-access-log",
    "patients-care-team",
    "patients-create",
    "patients-get",
    "patients-history-add",
    "patients-history-list",
    "patients-list",
    "patients-notifications",
    "patients-update",
    "users-create-doctor",
    "users-mfa-reset",
    "waitlist",
];

/// The Kafka-triggered functions.
pub const KAFKA_FUNCTIONS: &[&str] = &[
    "billing-consumer",
    "care-relationships",
    "analytics-sink",
    "scheduling-events",
];

/// Functions that have no HTTP route (invoked by the runner itself or by other event sources).
pub const NON_HTTP_FUNCTIONS: &[&str] = &[
    "migrate",
    "outbox-relay",
    "billing-consumer",
    "care-relationships",
    "lab-processor",
    "analytics-sink",
    "scheduling-events",
];

/// Builds the HTTP function `function` with its own `from_vars`.
pub async fn build_http(function: &str, vars: Vars) -> Result<HttpFunction, ConfigError> {
    let edge = Edge::from_vars(&vars)?;
    Ok(match function {
        "analytics-per-minute" => erase(
            edge.clone(),
            analytics_per_minute::AnalyticsPerMinute::from_vars(vars).await?,
        ),
        "appointments-cancel" => erase(
            edge.clone(),
            appointments_cancel::AppointmentsCancel::from_vars(vars).await?,
        ),
        "appointments-create" => erase(
            edge.clone(),
            appointments_create::AppointmentsCreate::from_vars(vars).await?,
        ),
        "appointments-get" => erase(
            edge.clone(),
            appointments_get::AppointmentsGet::from_vars(vars).await?,
        ),
        "appointments-list" => erase(
            edge.clone(),
            appointments_list::AppointmentsList::from_vars(vars).await?,
        ),
        "appointments-attendance" => erase(
            edge.clone(),
            appointments_attendance::AppointmentsAttendance::from_vars(vars).await?,
        ),
        "appointments-reschedule" => erase(
            edge.clone(),
            appointments_reschedule::AppointmentsReschedule::from_vars(vars).await?,
        ),
        "auth-jwks" => erase(edge.clone(), auth_jwks::AuthJwks::from_vars(vars).await?),
        "auth-login" => erase(edge.clone(), auth_login::AuthLogin::from_vars(vars).await?),
        "auth-logout" => erase(
            edge.clone(),
            auth_logout::AuthLogout::from_vars(vars).await?,
        ),
        "auth-me" => erase(edge.clone(), auth_me::AuthMe::from_vars(vars).await?),
        "auth-mfa" => erase(edge.clone(), auth_mfa::AuthMfa::from_vars(vars).await?),
        "auth-refresh" => erase(
            edge.clone(),
            auth_refresh::AuthRefresh::from_vars(vars).await?,
        ),
        "auth-register" => erase(
            edge.clone(),
            auth_register::AuthRegister::from_vars(vars).await?,
        ),
        "auth-verify-email" => erase(
            edge.clone(),
            auth_verify_email::AuthVerifyEmail::from_vars(vars).await?,
        ),
        "doctors-availability" => erase(
            edge.clone(),
            doctors_availability::DoctorsAvailability::from_vars(vars).await?,
        ),
        "doctors-slots" => erase(
            edge.clone(),
            doctors_slots::DoctorsSlots::from_vars(vars).await?,
        ),
        "doctors-list" => erase(
            edge.clone(),
            doctors_list::DoctorsList::from_vars(vars).await?,
        ),
        "emergency-access" => erase(
            edge.clone(),
            emergency_access::EmergencyAccess::from_vars(vars).await?,
        ),
        "invoices-get" => erase(
            edge.clone(),
            invoices_get::InvoicesGet::from_vars(vars).await?,
        ),
        "invoices-list" => erase(
            edge.clone(),
            invoices_list::InvoicesList::from_vars(vars).await?,
        ),
        "invoices-pay" => erase(
            edge.clone(),
            invoices_pay::InvoicesPay::from_vars(vars).await?,
        ),
        "lab-results-get" => erase(
            edge.clone(),
            lab_results_get::LabResultsGet::from_vars(vars).await?,
        ),
        "lab-review" => erase(edge.clone(), lab_review::LabReview::from_vars(vars).await?),
        "lab-results-list" => erase(
            edge.clone(),
            lab_results_list::LabResultsList::from_vars(vars).await?,
        ),
        "lab-upload-url" => erase(
            edge.clone(),
            lab_upload_url::LabUploadUrl::from_vars(vars).await?,
        ),
        "patients-access-log" => erase(
            edge.clone(),
            patients_access_log::PatientsAccessLog::from_vars(vars).await?,
        ),
        "patients-care-team" => erase(
            edge.clone(),
            patients_care_team::PatientsCareTeam::from_vars(vars).await?,
        ),
        "patients-create" => erase(
            edge.clone(),
            patients_create::PatientsCreate::from_vars(vars).await?,
        ),
        "patients-get" => erase(
            edge.clone(),
            patients_get::PatientsGet::from_vars(vars).await?,
        ),
        "patients-history-add" => erase(
            edge.clone(),
            patients_history_add::PatientsHistoryAdd::from_vars(vars).await?,
        ),
        "patients-history-list" => erase(
            edge.clone(),
            patients_history_list::PatientsHistoryList::from_vars(vars).await?,
        ),
        "patients-list" => erase(
            edge.clone(),
            patients_list::PatientsList::from_vars(vars).await?,
        ),
        "patients-update" => erase(
            edge.clone(),
            patients_update::PatientsUpdate::from_vars(vars).await?,
        ),
        "users-create-doctor" => erase(
            edge.clone(),
            users_create_doctor::UsersCreateDoctor::from_vars(vars).await?,
        ),
        "users-mfa-reset" => erase(
            edge.clone(),
            users_mfa_reset::UsersMfaReset::from_vars(vars).await?,
        ),
        "patients-notifications" => erase(
            edge.clone(),
            patients_notifications::PatientsNotifications::from_vars(vars).await?,
        ),
        "waitlist" => erase(edge.clone(), waitlist::WaitlistApi::from_vars(vars).await?),
        other => {
            return Err(ConfigError::Load {
                what: "an HTTP function",
                message: format!("{other} is not one: add it to careflow_local::functions"),
            });
        }
    })
}

/// Builds the Kafka-triggered function `function` with its own `from_vars`.
pub async fn build_kafka(function: &str, vars: Vars) -> Result<EventFunction, ConfigError> {
    Ok(match function {
        "billing-consumer" => erase_kafka(
            billing_consumer::BillingConsumer::from_vars(vars).await?,
            |f, event| async move { f.handle(event).await },
        ),
        "care-relationships" => erase_kafka(
            care_relationships::CareRelationships::from_vars(vars).await?,
            |f, event| async move { f.handle(event).await },
        ),
        "analytics-sink" => erase_kafka(
            analytics_sink::AnalyticsSink::from_vars(vars).await?,
            |f, event| async move { f.handle(event).await },
        ),
        "scheduling-events" => erase_kafka(
            scheduling_events::SchedulingEvents::from_vars(vars).await?,
            |f, event| async move { f.handle_kafka(event).await },
        ),
        other => {
            return Err(ConfigError::Load {
                what: "a Kafka-triggered function",
                message: format!("{other} is not one: add it to careflow_local::functions"),
            });
        }
    })
}

/// The function EventBridge Scheduler invokes (`scheduling-events`) as an [`EventFunction`]
/// taking a schedule's input.
pub async fn build_timer_target(vars: Vars) -> Result<EventFunction, ConfigError> {
    let function = Arc::new(scheduling_events::SchedulingEvents::from_vars(vars).await?);
    Ok(Arc::new(move |input| {
        let function = Arc::clone(&function);
        Box::pin(async move {
            let answer = function.handle(input).await?;
            serde_json::to_value(answer).map_err(careflow::Error::internal)
        })
    }))
}

/// Builds any function of the template exactly as its `main` does at cold start and drops it:
/// a missing or misspelt variable or a secret its role cannot read is the error, by name.
pub async fn start(function: &str, vars: Vars) -> Result<(), String> {
    let started = match function {
        "lab-processor" => lab_processor::LabProcessor::from_vars(vars).await.map(drop),
        "migrate" => migrate::Migrate::from_vars(vars).await.map(drop),
        "outbox-relay" => outbox_relay::OutboxRelay::from_vars(vars).await.map(drop),
        f if KAFKA_FUNCTIONS.contains(&f) => build_kafka(f, vars).await.map(drop),
        f => build_http(f, vars).await.map(drop),
    };
    started.map_err(|e| e.to_string())
}

/// Every HTTP function, each built from its own variables ([`crate::aws::FunctionIdentities::vars`]
/// with `local` on top).
pub async fn http_functions(
    aws: &AwsFunctions,
    local: &BTreeMap<String, String>,
) -> anyhow::Result<HashMap<&'static str, HttpFunction>> {
    let mut functions = HashMap::new();
    for &name in HTTP_FUNCTIONS {
        let vars = aws.identities.vars(name, local)?;
        let function = build_http(name, vars)
            .await
            .map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        functions.insert(name, function);
    }
    Ok(functions)
}

/// What the local stack gives every function instead of the deployment's values: its database,
/// broker and token key, and this stage's table and bucket. The local stack has no database or
/// broker password and signs with a key it holds, so those secrets' ARNs are unset.
pub struct LocalEnvironment<'a> {
    pub database_url: &'a str,
    pub kafka_bootstrap_servers: &'a str,
    pub tokens: &'a TokenSettings,
    pub key: &'a SigningKey,
    pub aws: &'a AwsFunctions,
    /// Where links in e-mails point: the runner's own portal.
    pub portal_url: &'a str,
}

impl LocalEnvironment<'_> {
    pub fn variables(&self) -> anyhow::Result<BTreeMap<String, String>> {
        let jwks = Jwks {
            keys: vec![self.key.public_jwk().clone()],
        };
        let mut vars = self.aws.stage_environment();
        vars.extend(
            [
                ("DATABASE_URL", self.database_url.to_owned()),
                ("DATABASE_SECRET_ARN", String::new()),
                (
                    "KAFKA_BOOTSTRAP_SERVERS",
                    self.kafka_bootstrap_servers.to_owned(),
                ),
                ("KAFKA_SASL_SECRET_ARN", String::new()),
                ("CAREFLOW_JWT_ISSUER", self.tokens.issuer.clone()),
                ("CAREFLOW_JWT_AUDIENCE", self.tokens.audience.clone()),
                ("CAREFLOW_JWT_PUBLIC_JWKS", serde_json::to_string(&jwks)?),
                (
                    "CAREFLOW_JWT_SIGNING_KEY",
                    serde_json::to_string(&self.key.to_document())?,
                ),
                ("CAREFLOW_JWT_SIGNING_KEY_SECRET_ARN", String::new()),
                ("CAREFLOW_PORTAL_URL", self.portal_url.to_owned()),
            ]
            .map(|(k, v)| (k.to_owned(), v)),
        );
        Ok(vars)
    }
}

/// The runner's own services (the first admin, the authorizer, the outbox schedule) and the
/// tests' fixtures. The functions do not share them: each builds its own from its variables.
#[derive(Clone)]
pub struct Deps {
    pub accounts: Accounts,
    pub issuer: TokenIssuer,
    pub verifier: Verifier,
    pub jwks: Jwks,
    pub settings: TokenSettings,
    pub appointments: Appointments,
    pub billing: Billing,
    /// The DynamoDB and S3 side and each function's identity and environment.
    pub aws: AwsFunctions,
    /// What every function gets on top of its template environment ([`LocalEnvironment`]).
    pub local: BTreeMap<String, String>,
}
