//! Every function starts as Lambda starts it: its `from_env` (the one composition root `main`
//! calls) with exactly the environment `template.yaml` gives it and its own role's credentials.
//! A variable the code reads under another name than the template sets, a value that does not
//! parse, or a secret the role cannot read fails here, not at the first deploy.

use std::collections::BTreeMap;
use std::future::Future;

use careflow::auth::token::{Jwks, SigningKey};
use careflow_local::aws::CREDENTIALS_ENV;
use serde_json::{Value, json};

/// Runs one `from_env`, reporting its error by name.
async fn started<T, E: std::fmt::Display>(
    f: impl Future<Output = Result<T, E>>,
) -> Result<(), String> {
    f.await.map(drop).map_err(|e| e.to_string())
}

async fn start(function: &str) -> Result<(), String> {
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

#[tokio::test(flavor = "current_thread")]
async fn every_function_starts_from_its_template_environment_and_role() {
    let path = std::env::var(CREDENTIALS_ENV).expect("scripts/test.sh exports the credentials");
    let file: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let functions = file["functions"].as_object().unwrap();

    // The secrets hold what a deployment stores in them (the deployer's part).
    let key = SigningKey::generate().unwrap();
    let admin = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let secrets = aws_sdk_secretsmanager::Client::new(&admin);
    let values = [
        (
            "DatabaseSecretArn",
            json!({"username": "careflow", "password": "not used"}),
        ),
        (
            "SigningKeySecretArn",
            serde_json::to_value(key.to_document()).unwrap(),
        ),
        (
            "KafkaCredentialsSecretArn",
            json!({"username": "api-key", "password": "api-secret"}),
        ),
    ];
    for (parameter, value) in values {
        secrets
            .put_secret_value()
            .secret_id(file["parameters"][parameter].as_str().unwrap())
            .secret_string(value.to_string())
            .send()
            .await
            .unwrap();
    }
    // Parameters the deployer supplies: a real JWKS (the roles were made with an empty one).
    let jwks = serde_json::to_string(&Jwks {
        keys: vec![key.public_jwk().clone()],
    })
    .unwrap();

    // Every variable any function is given, cleared between functions, so each starts with
    // its own environment only; the emulator's endpoint and region stay, as Lambda's region does.
    let mut names: Vec<String> = functions
        .values()
        .flat_map(|f| f["environment"].as_object().unwrap().keys().cloned())
        .collect();
    names.extend(
        [
            "CAREFLOW_JWT_SIGNING_KEY",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
        ]
        .map(String::from),
    );
    let saved: BTreeMap<String, String> = std::env::vars().collect();
    let mut failures = Vec::new();
    for (function, entry) in functions {
        let mut environment: BTreeMap<String, String> = entry["environment"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect();
        if environment.contains_key("CAREFLOW_JWT_PUBLIC_JWKS") {
            environment.insert("CAREFLOW_JWT_PUBLIC_JWKS".into(), jwks.clone());
        }
        environment.insert(
            "AWS_ACCESS_KEY_ID".into(),
            entry["access_key_id"].as_str().unwrap().into(),
        );
        environment.insert(
            "AWS_SECRET_ACCESS_KEY".into(),
            entry["secret_access_key"].as_str().unwrap().into(),
        );
        environment.insert(
            "AWS_SESSION_TOKEN".into(),
            entry["session_token"].as_str().unwrap().into(),
        );
        // SAFETY: this test runs in a process of its own (nextest) on a current-thread runtime;
        // nothing else reads the environment while it changes.
        unsafe {
            for name in &names {
                std::env::remove_var(name);
            }
            for (name, value) in &environment {
                std::env::set_var(name, value);
            }
        }
        if let Err(e) = start(function).await {
            failures.push(format!("{function}: {e}"));
        }
        // A variable the template did not set is what a misspelt name looks like: the
        // function must refuse to start, naming it.
        if function == "patients-get" {
            // SAFETY: as above.
            unsafe { std::env::remove_var("CAREFLOW_TABLE") };
            let refused = start(function)
                .await
                .expect_err("patients-get without CAREFLOW_TABLE");
            assert!(refused.contains("CAREFLOW_TABLE"), "{refused}");
        }
    }
    // SAFETY: as above.
    unsafe {
        for name in &names {
            std::env::remove_var(name);
        }
        for (name, value) in &saved {
            std::env::set_var(name, value);
        }
    }
    assert_eq!(
        functions.len(),
        30,
        "every function of template.yaml is started"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
