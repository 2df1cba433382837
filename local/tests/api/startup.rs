//! Every function starts as Lambda starts it: its `from_env` (the one composition root `main`
//! calls) with exactly the environment `template.yaml` gives it and its own role's credentials.
//! A variable the code reads under another name than the template sets, a value that does not
//! parse, or a secret the role cannot read fails here, not at the first deploy.

use std::collections::BTreeMap;

use careflow::auth::token::{Jwks, SigningKey};
use careflow_local::aws::CREDENTIALS_ENV;
use serde_json::{Value, json};

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
        if let Err(e) = careflow_local::functions::start_from_env(function).await {
            failures.push(format!("{function}: {e}"));
        }
        // A variable the template did not set is what a misspelt name looks like: the
        // function must refuse to start, naming it.
        if function == "patients-get" {
            // SAFETY: as above.
            unsafe { std::env::remove_var("CAREFLOW_TABLE") };
            let refused = careflow_local::functions::start_from_env(function)
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
