//! IAM as AWS enforces it: every function runs with its template role (support.rs), and a
//! permission missing from the template fails the handler here as it would in AWS.

use std::path::{Path, PathBuf};
use std::process::Command;

use careflow::auth::Role;
use careflow_local::aws::{CREDENTIALS_ENV, FunctionIdentities};
use careflow_local::functions::build_http;
use serde_json::json;
use uuid::Uuid;

use crate::support::*;

fn venv_python(venv: &str) -> PathBuf {
    repo_root().join(".local").join(venv).join("bin/python")
}

fn run(program: &Path, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .current_dir(repo_root())
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", program.display()));
    assert!(
        out.status.success(),
        "{} {args:?}: {}",
        program.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `template.yaml` with one action taken out of one function's role.
fn template_without(function_logical_id: &str, action: &str) -> String {
    let text = std::fs::read_to_string(repo_root().join("template.yaml")).unwrap();
    let start = text
        .find(&format!("\n  {function_logical_id}:\n"))
        .expect("the function in template.yaml");
    let end = start
        + 1
        + text[start + 1..]
            .find("\n  # ----")
            .unwrap_or(text.len() - start - 1);
    let section = &text[start..end];
    let line = format!("                - {action}\n");
    assert!(
        section.contains(&line),
        "{function_logical_id} allows {action}"
    );
    format!(
        "{}{}{}",
        &text[..start],
        section.replacen(&line, "", 1),
        &text[end..]
    )
}

/// The credentials of `function`'s role as `template` defines it, created in the emulator the
/// way scripts/test.sh creates every role (translate, create the role, assume it).
fn role_from(template: &str, function: &str, dir: &Path) -> PathBuf {
    let template_path = dir.join("template.yaml");
    std::fs::write(&template_path, template).unwrap();
    let translated = dir.join("translated.json");
    run(
        &venv_python("sam-venv"),
        &[
            "scripts/sam_translate.py",
            template_path.to_str().unwrap(),
            "--out",
            translated.to_str().unwrap(),
        ],
    );
    let credentials = dir.join("credentials.json");
    let all = std::env::var(CREDENTIALS_ENV).expect("scripts/test.sh exports the credentials");
    let prefix = format!("careflow-cut-{}", &Uuid::new_v4().simple().to_string()[..8]);
    run(
        &venv_python("venv"),
        &[
            "scripts/function_roles.py",
            "--translated",
            translated.to_str().unwrap(),
            "--out",
            credentials.to_str().unwrap(),
            "--role-prefix",
            &prefix,
            "--parameters-from",
            &all,
            "--function",
            function,
        ],
    );
    credentials
}

/// `function` built from its own variables as everywhere, but running with the role `template`
/// (a cut copy) gives it; and that role's SDK configuration.
async fn with_role_of(
    env: &TestEnv,
    function: &str,
    template: &str,
) -> (
    careflow_local::functions::HttpFunction,
    aws_config::SdkConfig,
) {
    let dir = std::env::temp_dir().join(format!("careflow-iam-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let credentials = role_from(template, function, &dir);
    let cut = FunctionIdentities::load(&credentials).await.unwrap();
    std::fs::remove_dir_all(&dir).ok();
    let mut local = env.deps.local.clone();
    let cut_environment = cut.environment(function).unwrap();
    for name in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    ] {
        local.insert(name.into(), cut_environment[name].clone());
    }
    let vars = env.deps.aws.identities.vars(function, &local).unwrap();
    let built = build_http(function, vars).await.unwrap();
    (built, cut.sdk(function).unwrap().clone())
}

/// patients-get audits every read with BatchWriteItem. With that action removed from a copy of
/// the template its role cannot, and the read fails as it would in AWS; with the template as it
/// is, the same read succeeds. (The emulator refuses the call itself, shown directly too.)
#[tokio::test]
async fn a_permission_removed_from_the_template_fails_the_handler() {
    let env = TestEnv::new().await;
    let patient = Uuid::new_v4();
    env.create_profile(patient).await;
    let token = env.token(patient, Role::Patient);
    let mut read = with_token(event("patients-get/get.json"), &token);
    read["pathParameters"]["patientId"] = json!(patient.to_string());
    read["rawPath"] = json!(format!("/patients/{patient}"));
    assert_eq!(env.call("patients-get", read.clone()).await.status, 200);

    let cut = template_without("PatientsGetFunction", "dynamodb:BatchWriteItem");
    let (patients_get, cut_sdk) = with_role_of(&env, "patients-get", &cut).await;
    let response = patients_get(read).await.unwrap();
    assert_eq!(response["statusCode"], 500, "{response}");

    let denied = aws_sdk_dynamodb::Client::new(&cut_sdk)
        .batch_write_item()
        .request_items(
            &env.deps.aws.records_table,
            vec![
                aws_sdk_dynamodb::types::WriteRequest::builder()
                    .put_request(
                        aws_sdk_dynamodb::types::PutRequest::builder()
                            .item("pk", aws_sdk_dynamodb::types::AttributeValue::S("x".into()))
                            .item("sk", aws_sdk_dynamodb::types::AttributeValue::S("y".into()))
                            .build()
                            .unwrap(),
                    )
                    .build(),
            ],
        )
        .send()
        .await
        .unwrap_err();
    let code = denied.as_service_error().and_then(|e| {
        use aws_sdk_dynamodb::error::ProvideErrorMetadata;
        e.code().map(str::to_owned)
    });
    assert_eq!(code.as_deref(), Some("AccessDeniedException"), "{denied:?}");
}

/// auth-register mails through SES with its role's `ses:SendEmail` on the sender's identity:
/// without it (a copy of the template) the emulator refuses the send as SES would, and the
/// registration answers 503 with nothing half-done that a retry cannot redo.
#[tokio::test]
async fn registration_mail_needs_its_ses_grant() {
    let env = TestEnv::new().await;
    let register = |email: &str| {
        with_body(
            event("auth-register/register.json"),
            &json!({"email": email, "password": "a long passphrase 42", "full_name": "Pat"}),
        )
    };
    let granted = unique_email("granted");
    assert_eq!(
        env.call("auth-register", register(&granted)).await.status,
        202
    );
    assert_eq!(sent_emails(&granted).await.len(), 1);

    // The statement's only action, swapped for a harmless one (an empty Action is malformed).
    let text = std::fs::read_to_string(repo_root().join("template.yaml")).unwrap();
    let grant = "Sid: SendRegistrationEmail\n              Effect: Allow\n              Action:\n                - ses:SendEmail\n";
    assert_eq!(text.matches(grant).count(), 1);
    let cut = text.replace(grant, &grant.replace("ses:SendEmail", "ses:GetAccount"));
    let (auth_register, _) = with_role_of(&env, "auth-register", &cut).await;
    let refused = unique_email("refused");
    let response = auth_register(register(&refused)).await.unwrap();
    assert_eq!(response["statusCode"], 503, "{response}");
    assert!(sent_emails(&refused).await.is_empty());
}

/// Every secret a function is configured with (`*_SECRET_ARN` in the environment the template
/// gives it) is readable with that function's role; a role without the grant is refused.
#[tokio::test]
async fn every_function_reads_its_secrets_with_its_own_role() {
    let path = std::env::var(CREDENTIALS_ENV).expect("scripts/test.sh exports the credentials");
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let identities = FunctionIdentities::from_env().await.unwrap();
    let mut read = 0;
    for (function, entry) in file["functions"].as_object().unwrap() {
        for (name, arn) in entry["environment"].as_object().unwrap() {
            if !name.ends_with("_SECRET_ARN") {
                continue;
            }
            let sdk = identities.sdk(function).unwrap();
            careflow::secrets::get_string_with(sdk, arn.as_str().unwrap())
                .await
                .unwrap_or_else(|e| panic!("{function} cannot read {name}: {e}"));
            read += 1;
        }
    }
    // 20 functions reach PostgreSQL, two sign tokens, three publish to Kafka.
    assert!(read >= 25, "only {read} secrets were configured");

    let database_secret = file["parameters"]["DatabaseSecretArn"].as_str().unwrap();
    let refused = careflow::secrets::get_string_with(
        identities.sdk("patients-get").unwrap(),
        database_secret,
    )
    .await
    .unwrap_err();
    assert!(refused.to_string().contains("AccessDenied"), "{refused}");
}
