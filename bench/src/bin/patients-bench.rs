//! Issue-3 benchmark: the `patients-get` handler in process against DynamoDB in the emulator
//! (the real SDK over HTTP to moto), p50/p99 over sequential reads of seeded profiles.
//!
//! Run through `scripts/bench-patients.sh`, which starts the emulator.

use std::sync::Arc;
use std::time::{Duration, Instant};

use careflow::auth::token::{Jwks, SigningKey, TokenIssuer, TokenSettings, Verifier};
use careflow::auth::{Caller, Role};
use careflow::patient::service::Patients;
use careflow::patient::store::RecordsTable;
use careflow_bench::summary;
use careflow_local::resources;
use careflow_local::template::Template;
use serde_json::json;
use uuid::Uuid;

const PROFILES: usize = 100;
const READS: usize = 500;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let template = Template::load(&root.join("template.yaml"))?;
    let table = template
        .tables
        .iter()
        .find(|t| t.logical_id == "RecordsTable")
        .ok_or_else(|| anyhow::anyhow!("no RecordsTable"))?;
    let client = resources::dynamodb_client().await;
    let name = format!("bench-records-{}", Uuid::new_v4().simple());
    resources::create_table(&client, table, &name).await?;
    let patients = Patients::new(careflow::patient::care::Care::new(
        RecordsTable::new(client, name),
        careflow::policy::CareRules::default(),
    ));

    let mut ids = Vec::with_capacity(PROFILES);
    for i in 0..PROFILES {
        let id = Uuid::new_v4();
        let body = json!({"full_name": format!("Bench Patient {i}"), "date_of_birth": "1980-01-01", "sex": "other",
                          "phone": "+15555550100", "allergies": ["latex", "penicillin"], "blood_type": "A+",
                          "address": {"line1": "1 Example Street", "city": "Springfield", "country": "US"}});
        patients
            .create(
                &Caller {
                    user_id: id,
                    role: Role::Patient,
                },
                id,
                body.as_object().unwrap().clone(),
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        ids.push(id);
    }

    let key = SigningKey::generate()?;
    let settings = TokenSettings {
        issuer: "https://api.careflow.example".into(),
        audience: "careflow-api".into(),
    };
    let verifier = Verifier::new(
        &Jwks {
            keys: vec![key.public_jwk().clone()],
        },
        &settings,
    )?;
    let issuer = TokenIssuer::new(key, settings, Duration::from_secs(900));
    let doctor_id = Uuid::new_v4();
    // The doctor reads patients in their care (a care-team assignment each), as in a clinic.
    let admin = Caller {
        user_id: Uuid::new_v4(),
        role: Role::Admin,
    };
    let until = chrono::Utc::now() + chrono::Duration::days(1);
    for id in &ids {
        patients
            .care()
            .assign(&admin, *id, doctor_id, until, None)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let doctor = issuer.issue(
        doctor_id,
        Role::Doctor,
        careflow::auth::Amr::PasswordAndTotp,
    )?;
    let handler = Arc::new(patients_get::PatientsGet::new(patients, verifier));
    let sample: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(
        root.join("events/patients-get/get.json"),
    )?)?;

    let mut latencies = Vec::with_capacity(READS);
    for i in 0..READS + 20 {
        let id = ids[i % ids.len()].to_string();
        let mut event = sample.clone();
        event["pathParameters"]["patientId"] = json!(id);
        event["rawPath"] = json!(format!("/patients/{id}"));
        event["headers"]["authorization"] = json!(format!("Bearer {}", doctor.token));
        event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] =
            json!(doctor.claims.sub.to_string());
        let start = Instant::now();
        let response = careflow::http::invoke(handler.clone(), event).await?;
        let took = start.elapsed();
        anyhow::ensure!(response["statusCode"] == 200, "read failed: {response}");
        if i >= 20 {
            latencies.push(took);
        }
    }
    let (p50, p99, mean) = summary(&mut latencies);
    println!(
        "patients-get handler in-process against the DynamoDB emulator ({READS} reads of {PROFILES} profiles, warm): \
         p50 {p50:.2} ms, p99 {p99:.2} ms, mean {mean:.2} ms"
    );
    println!(
        "(each read: token verification, one consistent Query of the doctor's care links, one consistent GetItem, one audit PutItem via BatchWriteItem)"
    );
    Ok(())
}
