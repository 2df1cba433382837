//! Every function starts as Lambda starts it: its `from_vars` (the one constructor `main` calls)
//! with exactly the environment `template.yaml` gives it and its own role's credentials, handed
//! over as a map. A variable the code reads under another name than the template sets, a value
//! that does not parse, or a secret the role cannot read fails here, not at the first deploy.

use std::collections::{BTreeMap, BTreeSet};

use careflow::auth::token::{Jwks, SigningKey};
use careflow_local::aws::{CREDENTIALS_ENV, FunctionIdentities};
use careflow_local::functions::{HTTP_FUNCTIONS, NON_HTTP_FUNCTIONS, start};
use serde_json::{Value, json};

#[tokio::test]
async fn every_function_starts_from_its_template_environment_and_role() {
    let path = std::env::var(CREDENTIALS_ENV).expect("scripts/test.sh exports the credentials");
    let file: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let functions = file["functions"].as_object().unwrap();
    let identities = FunctionIdentities::from_env().await.unwrap();

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
    // A parameter the deployer supplies: a real JWKS (the roles were made with an empty one).
    let jwks = serde_json::to_string(&Jwks {
        keys: vec![key.public_jwk().clone()],
    })
    .unwrap();
    let deployed = BTreeMap::from([("CAREFLOW_JWT_PUBLIC_JWKS".to_owned(), jwks)]);

    let mut failures = Vec::new();
    let mut asked_by_any = BTreeSet::new();
    let set_for = |function: &str| -> BTreeSet<String> {
        functions[function]["environment"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    };
    // What `Globals` gives every function; the rest is the function's own.
    let global: BTreeSet<String> = functions
        .keys()
        .map(|f| set_for(f))
        .reduce(|a, b| &a & &b)
        .unwrap();
    for function in functions.keys() {
        let vars = identities.vars(function, &deployed).unwrap();
        if let Err(e) = start(function, vars.clone()).await {
            failures.push(format!("{function}: {e}"));
        }
        // A variable the template sets under a name the function never asks for is a typo
        // (an optional one would silently fall back to its default) or dead configuration.
        let asked = vars.asked();
        for name in set_for(function).difference(&global) {
            if !asked.contains(name) {
                failures.push(format!("{function}: template.yaml sets {name}, never read"));
            }
        }
        asked_by_any.extend(asked);
    }
    // RUST_LOG is read by the log subscriber from the process environment, not through Vars.
    for name in &global {
        if name != "RUST_LOG" && !asked_by_any.contains(name) {
            failures.push(format!("Globals sets {name}, which no function reads"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // A variable the template did not set is what a misspelt name looks like: the function
    // must refuse to start, naming it.
    let mut misspelt = deployed.clone();
    misspelt.insert("CAREFLOW_TABLE".into(), String::new());
    let refused = start(
        "patients-get",
        identities.vars("patients-get", &misspelt).unwrap(),
    )
    .await
    .expect_err("patients-get without CAREFLOW_TABLE");
    assert!(refused.contains("CAREFLOW_TABLE"), "{refused}");

    // The template's functions are exactly the ones the registry knows.
    let mut known: Vec<&str> = HTTP_FUNCTIONS
        .iter()
        .chain(NON_HTTP_FUNCTIONS)
        .copied()
        .collect();
    known.sort_unstable();
    let mut declared: Vec<&str> = functions.keys().map(String::as_str).collect();
    declared.sort_unstable();
    assert_eq!(declared, known);
}
