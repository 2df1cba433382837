//! Hostile query strings on every list endpoint: times outside what RFC 3339 and the stores can
//! hold, forged pagination cursors, silly limits. Each is a 400 problem+json naming the
//! parameter, never a 500 or a panic, for every caller who may use the list.

use careflow::auth::Role;
use serde_json::Value;
use uuid::Uuid;

use crate::support::*;

/// The list endpoints, their sample event, and the time and cursor parameters they take.
const LISTS: &[(&str, &str, &[&str])] = &[
    (
        "appointments-list",
        "appointments-list/list.json",
        &["from", "to"],
    ),
    ("invoices-list", "invoices-list/list.json", &["from", "to"]),
    (
        "analytics-per-minute",
        "analytics-per-minute/get.json",
        &["from", "to"],
    ),
    ("patients-list", "patients-list/list.json", &[]),
    (
        "patients-history-list",
        "patients-history-list/list.json",
        &[],
    ),
    ("lab-results-list", "lab-results-list/list.json", &[]),
];

fn b64(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

/// Cursors no list returned: not base64, not JSON, the wrong keys, keys of another patient's
/// partition, times out of range.
fn forged_cursors(patient: Uuid) -> Vec<String> {
    let other = Uuid::new_v4();
    vec![
        "%%%".into(),
        "bm90IGpzb24".into(),
        b64("{}"),
        b64(r#"{"pk":"PATIENT#x"}"#),
        b64(&format!(
            r#"{{"pk":"PATIENT#{other}","sk":"HISTORY#2026"}}"#
        )),
        b64(&format!(r#"{{"pk":"PATIENT#{other}","sk":"LAB#{other}"}}"#)),
        b64(&format!(r#"{{"pk":"PATIENT#{patient}","sk":"PROFILE"}}"#)),
        b64(&format!(
            r#"{{"pk":"PROFILE","sk":"x","gsi1pk":"PROFILES","gsi1sk":"{}"}}"#,
            "z".repeat(5000)
        )),
        b64(&format!("-5000-01-01T00:00:00Z|{other}")),
        b64(&format!("+10000-01-01T00:00:00Z|{other}")),
        b64("2026-01-01T00:00:00Z|not-a-uuid"),
        b64(&"A".repeat(20_000)),
    ]
}

const BAD_TIMES: &[&str] = &[
    "-5000-01-01T00:00:00Z",
    "+10000-01-01T00:00:00Z",
    "10000-01-01T00:00:00Z",
    "0000-01-01T00:00:00Z",
    "0001-01-01T00:00:00+01:00",
    "2026-02-30T00:00:00Z",
    "2026-01-01",
    "2026-01-01T00:00:00+25:00",
    "yesterday",
    "",
];

#[tokio::test]
async fn hostile_query_parameters_get_400_naming_the_parameter() {
    let env = TestEnv::new().await;
    let admin = Uuid::new_v4();
    insert_user(&env.db, admin, Role::Admin).await;
    let token = env.token(admin, Role::Admin);
    // A patient with a profile, whose lists exist: the cursor is what is wrong.
    let patient = Uuid::new_v4();
    env.create_profile(patient).await;
    let mut failures = Vec::new();
    for (function, sample, time_params) in LISTS {
        let mut base = with_token(event(sample), &token);
        if let Some(params) = base["pathParameters"].as_object_mut()
            && params.contains_key("patientId")
        {
            params.insert("patientId".into(), Value::String(patient.to_string()));
            let raw = base["rawPath"].as_str().unwrap().to_owned();
            let old = raw.split('/').nth(2).unwrap().to_owned();
            base["rawPath"] = Value::String(raw.replace(&old, &patient.to_string()));
        }
        let mut cases: Vec<(String, String)> = Vec::new();
        for param in *time_params {
            for value in BAD_TIMES {
                cases.push((param.to_string(), value.to_string()));
            }
        }
        if *function != "analytics-per-minute" {
            for cursor in forged_cursors(patient) {
                cases.push(("cursor".into(), cursor));
            }
            for limit in ["0", "-1", "101", "1e3", "18446744073709551616", "x"] {
                cases.push(("limit".into(), limit.into()));
            }
        }
        for (param, value) in cases {
            let reply = env
                .call(
                    function,
                    with_query(base.clone(), &[(param.as_str(), value.as_str())]),
                )
                .await;
            let ok = reply.status == 400
                && reply.header("content-type") == Some("application/problem+json")
                && reply.body["field"] == param.as_str();
            if !ok {
                failures.push(format!(
                    "{function} ?{param}={}: {} {}",
                    value.chars().take(60).collect::<String>(),
                    reply.status,
                    reply.body
                ));
            }
        }
    }
    // The extremes RFC 3339 allows are answered, not refused (a leap second included); the
    // analytics range, at most a day ending a minute from now unless `to` is given, excepted.
    for (function, sample, time_params) in LISTS {
        for param in *time_params {
            if (*function, *param) == ("analytics-per-minute", "from") {
                continue;
            }
            for value in ["0001-01-01T00:00:00Z", "9999-12-31T23:59:60Z"] {
                let reply = env
                    .call(
                        function,
                        with_query(with_token(event(sample), &token), &[(param, value)]),
                    )
                    .await;
                if reply.status != 200 {
                    failures.push(format!(
                        "{function} ?{param}={value}: {} {}",
                        reply.status, reply.body
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
