//! patients-* functions against DynamoDB in the emulator, through the real SDK client.

use std::collections::HashSet;

use careflow::auth::{Caller, Role};
use careflow::patient::{Action, Outcome};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::*;

const PATIENT: &str = "11111111-1111-4111-8111-111111111111";

fn profile_body(name: &str) -> Value {
    json!({"full_name": name, "date_of_birth": "1985-06-15", "sex": "female",
           "phone": "+15555550100", "allergies": ["latex"], "blood_type": "O+"})
}

/// An event for `route_sample`, aimed at `patient`, called with `token`.
fn aimed(sample: &str, patient: Uuid, token: Option<&careflow::auth::token::AccessToken>) -> Value {
    let mut ev = event(sample);
    if ev.get("pathParameters").is_some() {
        let old = ev["pathParameters"]["patientId"]
            .as_str()
            .unwrap()
            .to_owned();
        ev["pathParameters"]["patientId"] = json!(patient.to_string());
        let raw = ev["rawPath"]
            .as_str()
            .unwrap()
            .replace(&old, &patient.to_string());
        ev["rawPath"] = json!(raw);
        ev["requestContext"]["http"]["path"] = json!(raw);
    }
    match token {
        Some(t) => with_token(ev, t),
        None => with_authorization(ev, ""),
    }
}

async fn seed_profile(env: &TestEnv, patient: Uuid, name: &str) {
    let caller = Caller {
        user_id: patient,
        role: Role::Patient,
    };
    env.admin_patients()
        .await
        .create(
            &caller,
            patient,
            profile_body(name).as_object().unwrap().clone(),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn sample_events_drive_every_patients_function() {
    let env = TestEnv::new().await;
    let patient: Uuid = PATIENT.parse().unwrap();
    let me = env.token(patient, Role::Patient);
    let doctor_id = Uuid::new_v4();
    env.assign(doctor_id, patient).await;
    let doctor = env.token(doctor_id, Role::Doctor);

    let created = env
        .call(
            "patients-create",
            with_token(event("patients-create/create.json"), &me),
        )
        .await;
    assert_eq!(created.status, 201, "{created:?}");
    assert_eq!(created.header("etag"), Some("\"1\""));
    assert_eq!(
        created.header("location").unwrap(),
        format!("/patients/{PATIENT}")
    );
    assert_eq!(created.body["patient_id"], PATIENT);
    assert_eq!(created.body["version"], 1);

    let got = env
        .call(
            "patients-get",
            with_token(event("patients-get/get.json"), &me),
        )
        .await;
    assert_eq!(got.status, 200, "{got:?}");
    assert_eq!(got.body, created.body);

    let updated = env
        .call(
            "patients-update",
            with_token(event("patients-update/update.json"), &me),
        )
        .await;
    assert_eq!(updated.status, 200, "{updated:?}");
    assert_eq!(updated.header("etag"), Some("\"2\""));
    assert_eq!(updated.body["phone"], "+15555550123");
    assert_eq!(updated.body["allergies"], json!(["penicillin"]));
    assert_eq!(updated.body["full_name"], created.body["full_name"]);

    let added = env
        .call(
            "patients-history-add",
            with_token(event("patients-history-add/add.json"), &doctor),
        )
        .await;
    assert_eq!(added.status, 201, "{added:?}");
    assert_eq!(added.body["author_role"], "doctor");
    assert_eq!(added.body["author_id"], doctor.claims.sub.to_string());

    let history = env
        .call(
            "patients-history-list",
            with_token(event("patients-history-list/list.json"), &me),
        )
        .await;
    assert_eq!(history.status, 200, "{history:?}");
    assert_eq!(history.body["items"][0]["entry_id"], added.body["entry_id"]);

    let list = env
        .call(
            "patients-list",
            with_token(event("patients-list/list.json"), &doctor),
        )
        .await;
    assert_eq!(list.status, 200, "{list:?}");
    let sent_prefix = event("patients-list/list.json")["queryStringParameters"]["name_prefix"]
        .as_str()
        .unwrap()
        .to_lowercase();
    let expect_match = created.body["full_name"]
        .as_str()
        .unwrap()
        .to_lowercase()
        .starts_with(&sent_prefix);
    assert_eq!(
        list.body["items"].as_array().unwrap().len(),
        usize::from(expect_match)
    );
}

#[tokio::test]
async fn admin_creates_profiles_only_for_existing_patient_accounts() {
    let env = TestEnv::new().await;
    let admin = env
        .user(
            "root@clinic.example",
            "an operator passphrase 9",
            Role::Admin,
        )
        .await;
    let doctor = env
        .user(
            "doc@clinic.example",
            "a clinician passphrase 9",
            Role::Doctor,
        )
        .await;
    let token = env.token_for(&admin);
    // The sample names 11111111-…, which has no account yet.
    let sample = with_token(event("patients-create/create-by-admin.json"), &token);
    env.call("patients-create", sample.clone())
        .await
        .assert_problem(404, None);
    env.db
        .client()
        .await
        .execute(
            "INSERT INTO users (id, email, password_hash, full_name, role) VALUES ($1, 'jo@example.com', 'x', 'Jo', 'patient')",
            &[&PATIENT.parse::<Uuid>().unwrap()],
        )
        .await
        .unwrap();
    let reply = env.call("patients-create", sample.clone()).await;
    assert_eq!(reply.status, 201, "{reply:?}");
    env.call("patients-create", sample)
        .await
        .assert_problem(409, None);

    let mut body = body_of(&event("patients-create/create-by-admin.json"));
    body["patient_id"] = json!(doctor.user_id.to_string());
    let for_doctor = with_body(
        with_token(event("patients-create/create-by-admin.json"), &token),
        &body,
    );
    env.call("patients-create", for_doctor)
        .await
        .assert_problem(404, None);
    body.as_object_mut().unwrap().remove("patient_id");
    let unnamed = with_body(
        with_token(event("patients-create/create-by-admin.json"), &token),
        &body,
    );
    env.call("patients-create", unnamed)
        .await
        .assert_problem(400, Some("patient_id"));
}

/// Counts what a denial must not change: the profile's version and the number of history entries.
async fn snapshot(env: &TestEnv, patient: Uuid) -> (u64, usize) {
    let store = env.admin_records().await;
    let version = store
        .get_profile(patient)
        .await
        .unwrap()
        .map_or(0, |p| p.version);
    let history = store
        .list_history(patient, 100, None)
        .await
        .unwrap()
        .items
        .len();
    (version, history)
}

#[tokio::test]
async fn every_endpoint_by_every_role() {
    let env = TestEnv::new().await;
    let patient = Uuid::new_v4();
    seed_profile(&env, patient, "Jo Example").await;
    // The account behind the profile, which an admin's create checks.
    env.db
        .client()
        .await
        .execute(
            "INSERT INTO users (id, email, password_hash, full_name, role) VALUES ($1, 'jo@example.com', 'x', 'Jo', 'patient')",
            &[&patient],
        )
        .await
        .unwrap();
    // Doctors by relationship to the patient: on the care team, under an emergency grant,
    // and none.
    let care_doctor = Uuid::new_v4();
    env.assign(care_doctor, patient).await;
    let emergency_doctor = Uuid::new_v4();
    let grant = env
        .admin_care()
        .await
        .open_emergency(
            &Caller {
                user_id: emergency_doctor,
                role: Role::Doctor,
            },
            patient,
            "Unconscious in the emergency department",
        )
        .await
        .unwrap();
    let unrelated_doctor = Uuid::new_v4();
    let ids = [
        ("self", Some(env.token(patient, Role::Patient))),
        (
            "other patient",
            Some(env.token(Uuid::new_v4(), Role::Patient)),
        ),
        ("care doctor", Some(env.token(care_doctor, Role::Doctor))),
        (
            "emergency doctor",
            Some(env.token(emergency_doctor, Role::Doctor)),
        ),
        (
            "unrelated doctor",
            Some(env.token(unrelated_doctor, Role::Doctor)),
        ),
        ("admin", Some(env.token(Uuid::new_v4(), Role::Admin))),
        ("no token", None),
    ];
    // (function, sample, expected status for each of `ids`)
    let matrix: [(&str, &str, [u16; 7]); 6] = [
        (
            "patients-get",
            "patients-get/get.json",
            [200, 403, 200, 200, 403, 200, 401],
        ),
        (
            "patients-update",
            "patients-update/update.json",
            [200, 403, 403, 403, 403, 200, 401],
        ),
        (
            "patients-list",
            "patients-list/list.json",
            [403, 403, 200, 200, 200, 200, 401],
        ),
        (
            "patients-history-add",
            "patients-history-add/add.json",
            [403, 403, 201, 201, 403, 201, 401],
        ),
        (
            "patients-history-list",
            "patients-history-list/list.json",
            [200, 403, 200, 200, 403, 200, 401],
        ),
        (
            "patients-create",
            "patients-create/create.json",
            [409, 403, 403, 403, 403, 409, 401],
        ),
    ];
    for (function, sample, expected) in matrix {
        for ((who, token), want) in ids.iter().zip(expected) {
            let before = snapshot(&env, patient).await;
            let mut ev = aimed(sample, patient, token.as_ref());
            if function == "patients-update" {
                ev["headers"]["if-match"] = json!(format!("\"{}\"", before.0));
            }
            if function == "patients-create" && *who != "self" {
                let mut body = body_of(&ev);
                body["patient_id"] = json!(patient.to_string());
                ev = with_body(ev, &body);
            }
            let reply = env.call(function, ev).await;
            assert_eq!(reply.status, want, "{function} as {who}: {reply:?}");
            if want >= 400 {
                reply.assert_problem(want, None);
                assert_eq!(
                    snapshot(&env, patient).await,
                    before,
                    "{function} as {who} changed data"
                );
            }
        }
    }
    // A denial looks the same whether or not the record exists.
    let stranger = env.token(Uuid::new_v4(), Role::Patient);
    let missing = env
        .call(
            "patients-get",
            aimed("patients-get/get.json", Uuid::new_v4(), Some(&stranger)),
        )
        .await;
    let existing = env
        .call(
            "patients-get",
            aimed("patients-get/get.json", patient, Some(&stranger)),
        )
        .await;
    assert_eq!((missing.status, &missing.body), (403, &existing.body));
    // A doctor outside the relationship gets exactly the answer a missing record gets, on
    // every patient endpoint.
    let unrelated = ids[4].1.as_ref().unwrap();
    for (function, sample) in [
        ("patients-get", "patients-get/get.json"),
        ("patients-history-list", "patients-history-list/list.json"),
        ("patients-history-add", "patients-history-add/add.json"),
    ] {
        let on_existing = env
            .call(function, aimed(sample, patient, Some(unrelated)))
            .await;
        let on_missing = env
            .call(function, aimed(sample, Uuid::new_v4(), Some(unrelated)))
            .await;
        assert_eq!(
            (on_existing.status, &on_existing.body),
            (on_missing.status, &on_missing.body),
            "{function}"
        );
    }
    // A doctor's list holds their care patients only (not emergency grants).
    for (who, listed) in [(2, true), (3, false), (4, false)] {
        let reply = env
            .call(
                "patients-list",
                aimed("patients-list/list.json", patient, ids[who].1.as_ref()),
            )
            .await;
        let found = reply.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["patient_id"] == patient.to_string());
        assert_eq!(found, listed, "{}: {reply:?}", ids[who].0);
    }
    // Every access under the grant is in the trail as emergency, and only those.
    let trail = env.audit_trail(patient).await;
    let emergency: Vec<_> = trail
        .iter()
        .filter(|e| e.emergency_grant == Some(grant.grant_id))
        .collect();
    assert!(
        emergency.iter().all(|e| e.actor_id == emergency_doctor),
        "{emergency:?}"
    );
    let actions: HashSet<Action> = emergency.iter().map(|e| e.action).collect();
    for action in [
        Action::EmergencyAccess,
        Action::ReadProfile,
        Action::AddHistory,
        Action::ReadHistory,
    ] {
        assert!(
            actions.contains(&action),
            "{action:?} not audited as emergency"
        );
    }
    assert!(
        trail
            .iter()
            .filter(|e| e.actor_id == care_doctor)
            .all(|e| e.emergency_grant.is_none())
    );
    // Those allowed to know get 404 for a missing patient: admins, and a doctor assigned to it.
    let missing = Uuid::new_v4();
    env.assign(care_doctor, missing).await;
    for token in [ids[2].1.as_ref(), ids[5].1.as_ref()] {
        for (function, sample) in [
            ("patients-get", "patients-get/get.json"),
            ("patients-history-list", "patients-history-list/list.json"),
            ("patients-history-add", "patients-history-add/add.json"),
        ] {
            let reply = env.call(function, aimed(sample, missing, token)).await;
            reply.assert_problem(404, None);
        }
    }
}

#[tokio::test]
async fn concurrent_updates_with_one_version_have_one_winner() {
    let env = TestEnv::new().await;
    let patient = Uuid::new_v4();
    seed_profile(&env, patient, "Race Example").await;
    let token = env.token(patient, Role::Patient);
    let update = |phone: &str| {
        let ev = aimed("patients-update/update.json", patient, Some(&token));
        let mut ev = with_body(ev, &json!({"phone": phone}));
        ev["headers"]["if-match"] = json!("\"1\"");
        ev
    };
    let phones = [
        "+15555550001",
        "+15555550002",
        "+15555550003",
        "+15555550004",
    ];
    let replies = futures::future::join_all(
        phones
            .iter()
            .map(|p| env.call("patients-update", update(p))),
    )
    .await;
    let winners: Vec<_> = replies.iter().filter(|r| r.status == 200).collect();
    assert_eq!(winners.len(), 1, "{replies:?}");
    for loser in replies.iter().filter(|r| r.status != 200) {
        loser.assert_problem(412, None);
    }
    let stored = env
        .admin_records()
        .await
        .get_profile(patient)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.version, 2);
    assert_eq!(
        stored.fields.phone,
        winners[0].body["phone"].as_str().map(str::to_owned)
    );

    // Stale and missing preconditions.
    let reply = env.call("patients-update", update("+15555550009")).await;
    reply.assert_problem(412, None);
    let mut no_if_match = update("+15555550009");
    no_if_match["headers"]
        .as_object_mut()
        .unwrap()
        .remove("if-match");
    env.call("patients-update", no_if_match)
        .await
        .assert_problem(428, Some("if-match"));
    assert_eq!(
        env.admin_records()
            .await
            .get_profile(patient)
            .await
            .unwrap()
            .unwrap()
            .version,
        2
    );
}

#[tokio::test]
async fn pagination_over_250_patients_returns_each_once_even_with_concurrent_inserts() {
    let env = TestEnv::new().await;
    let mut expected = HashSet::new();
    let seeds: Vec<Uuid> = (0..250).map(|_| Uuid::new_v4()).collect();
    for chunk in seeds.chunks(25) {
        futures::future::join_all(chunk.iter().enumerate().map(|(i, id)| {
            seed_profile(
                &env,
                *id,
                if i % 2 == 0 {
                    "Alex Sample"
                } else {
                    "Sam Sample"
                },
            )
        }))
        .await;
        expected.extend(chunk.iter().copied());
    }
    let admin = env.token(Uuid::new_v4(), Role::Admin);
    let mut seen: Vec<Uuid> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let ev = aimed("patients-list/list.json", Uuid::nil(), Some(&admin));
        let ev = match &cursor {
            Some(c) => with_query(ev, &[("limit", "37"), ("cursor", c)]),
            None => with_query(ev, &[("limit", "37")]),
        };
        let reply = env.call("patients-list", ev).await;
        assert_eq!(reply.status, 200, "{reply:?}");
        seen.extend(
            reply.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["patient_id"].as_str().unwrap().parse::<Uuid>().unwrap()),
        );
        pages += 1;
        // Others register while we page.
        seed_profile(
            &env,
            Uuid::new_v4(),
            if pages % 2 == 0 {
                "Aaron Late"
            } else {
                "Zed Late"
            },
        )
        .await;
        match reply.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
        assert!(pages < 50, "pagination does not end");
    }
    let unique: HashSet<Uuid> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "a profile was returned twice");
    assert!(
        expected.is_subset(&unique),
        "missing {} seeded profiles",
        expected.difference(&unique).count()
    );

    // A doctor pages through their care patients only, each once, the name prefix applied.
    let doctor_id = Uuid::new_v4();
    let mine = &seeds[..60];
    for chunk in mine.chunks(20) {
        futures::future::join_all(chunk.iter().map(|p| env.assign(doctor_id, *p))).await;
    }
    let doctor = env.token(doctor_id, Role::Doctor);
    let (mut listed, mut cursor, mut pages) = (Vec::new(), None::<String>, 0);
    loop {
        let mut query = vec![("limit", "7"), ("name_prefix", "alex")];
        if let Some(c) = &cursor {
            query.push(("cursor", c));
        }
        let ev = with_query(
            aimed("patients-list/list.json", Uuid::nil(), Some(&doctor)),
            &query,
        );
        let reply = env.call("patients-list", ev).await;
        assert_eq!(reply.status, 200, "{reply:?}");
        let items = reply.body["items"].as_array().unwrap();
        assert!(items.len() <= 7);
        listed.extend(items.iter().map(|p| {
            assert_eq!(p["full_name"], "Alex Sample");
            p["patient_id"].as_str().unwrap().parse::<Uuid>().unwrap()
        }));
        pages += 1;
        match reply.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
        assert!(pages < 30, "pagination does not end");
    }
    // Seeded in chunks of 25, alternating names within each chunk.
    let alexes: HashSet<Uuid> = mine
        .iter()
        .enumerate()
        .filter(|(g, _)| (g % 25) % 2 == 0)
        .map(|(_, id)| *id)
        .collect();
    assert_eq!(
        listed.len(),
        alexes.len(),
        "a care patient was listed twice"
    );
    assert_eq!(listed.iter().copied().collect::<HashSet<_>>(), alexes);

    // A cursor from elsewhere, or garbage, is a 400 naming it; so is a bad limit.
    for token in [&admin, &doctor] {
        for (field, value) in [("cursor", "garbage"), ("limit", "0"), ("limit", "101")] {
            let ev = with_query(
                aimed("patients-list/list.json", Uuid::nil(), Some(token)),
                &[(field, value)],
            );
            env.call("patients-list", ev)
                .await
                .assert_problem(400, Some(field));
        }
    }
}

#[tokio::test]
async fn history_is_newest_first_paginated_and_immutable() {
    let env = TestEnv::new().await;
    let patient = Uuid::new_v4();
    seed_profile(&env, patient, "Hist Example").await;
    let doctor_id = Uuid::new_v4();
    env.assign(doctor_id, patient).await;
    let doctor = env.token(doctor_id, Role::Doctor);
    for i in 0..5 {
        let ev = with_body(
            aimed("patients-history-add/add.json", patient, Some(&doctor)),
            &json!({"diagnosis": format!("visit {i}")}),
        );
        assert_eq!(env.call("patients-history-add", ev).await.status, 201);
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let me = env.token(patient, Role::Patient);
    let ev = aimed("patients-history-list/list.json", patient, Some(&me));
    let first = env
        .call(
            "patients-history-list",
            with_query(ev.clone(), &[("limit", "3")]),
        )
        .await;
    let names: Vec<&str> = first.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["diagnosis"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["visit 4", "visit 3", "visit 2"]);
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let second = env
        .call(
            "patients-history-list",
            with_query(ev, &[("limit", "3"), ("cursor", cursor)]),
        )
        .await;
    let names: Vec<&str> = second.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["diagnosis"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["visit 1", "visit 0"]);

    // Bad entries name their field and write nothing.
    for (body, field) in [
        (json!({}), "diagnosis"),
        (
            json!({"diagnosis": "x", "notes": "n".repeat(4001)}),
            "notes",
        ),
        (json!({"diagnosis": "x", "author_id": "me"}), "author_id"),
    ] {
        let ev = with_body(
            aimed("patients-history-add/add.json", patient, Some(&doctor)),
            &body,
        );
        env.call("patients-history-add", ev)
            .await
            .assert_problem(400, Some(field));
    }
    assert_eq!(snapshot(&env, patient).await.1, 5);
}

#[tokio::test]
async fn every_access_lands_in_the_patients_audit_trail() {
    let env = TestEnv::new().await;
    let patient = Uuid::new_v4();
    seed_profile(&env, patient, "Audit Example").await;
    let me = env.token(patient, Role::Patient);
    let doctor_id = Uuid::new_v4();
    env.assign(doctor_id, patient).await;
    let doctor = env.token(doctor_id, Role::Doctor);
    let snoop = env.token(Uuid::new_v4(), Role::Patient);
    let (get, add) = ("patients-get/get.json", "patients-history-add/add.json");
    for (function, sample, token, status) in [
        ("patients-get", get, &me, 200),
        ("patients-get", get, &doctor, 200),
        ("patients-get", get, &snoop, 403),
        ("patients-history-add", add, &doctor, 201),
    ] {
        let reply = env
            .call(function, aimed(sample, patient, Some(token)))
            .await;
        assert_eq!(reply.status, status, "{function}: {reply:?}");
    }

    let trail = env.audit_trail(patient).await;
    let summary: Vec<(Uuid, Action, Outcome)> = trail
        .iter()
        // The doctor's care-team assignment (the set-up) is audited too, by its admin.
        .filter(|e| e.action != Action::ManageCareTeam)
        .map(|e| (e.actor_id, e.action, e.outcome))
        .collect();
    assert_eq!(
        summary,
        vec![
            (patient, Action::CreateProfile, Outcome::Allowed),
            (patient, Action::ReadProfile, Outcome::Allowed),
            (doctor.claims.sub, Action::ReadProfile, Outcome::Allowed),
            (snoop.claims.sub, Action::ReadProfile, Outcome::Denied),
            (doctor.claims.sub, Action::AddHistory, Outcome::Allowed),
        ]
    );
    assert!(trail.iter().all(|e| e.patient_id == patient));
}

#[tokio::test]
async fn profile_validation_names_fields_and_limits_size() {
    let env = TestEnv::new().await;
    let patient = Uuid::new_v4();
    let me = env.token(patient, Role::Patient);
    let create =
        |body: Value| with_body(with_token(event("patients-create/create.json"), &me), &body);
    let mut future = profile_body("Jo");
    future["date_of_birth"] = json!("2999-01-01");
    env.call("patients-create", create(future))
        .await
        .assert_problem(400, Some("date_of_birth"));
    let mut phone = profile_body("Jo");
    phone["phone"] = json!("12345");
    env.call("patients-create", create(phone))
        .await
        .assert_problem(400, Some("phone"));
    let mut email = profile_body("Jo");
    email["email"] = json!("not-an-email");
    env.call("patients-create", create(email))
        .await
        .assert_problem(400, Some("email"));
    let mut huge = profile_body("Jo");
    huge["allergies"] = json!(vec!["x".repeat(90); 200]);
    env.call("patients-create", create(huge))
        .await
        .assert_problem(413, None);
    let mut other = profile_body("Jo");
    other["patient_id"] = json!(Uuid::new_v4().to_string());
    env.call("patients-create", create(other))
        .await
        .assert_problem(403, None);
    assert!(
        env.admin_records()
            .await
            .get_profile(patient)
            .await
            .unwrap()
            .is_none()
    );
    let mut bad_id = aimed("patients-get/get.json", patient, Some(&me));
    bad_id["pathParameters"]["patientId"] = json!("not-a-uuid");
    env.call("patients-get", bad_id)
        .await
        .assert_problem(400, Some("patientId"));
}
