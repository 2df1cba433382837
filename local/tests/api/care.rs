//! Care relationships end to end: the appointment projection (care-relationships, built from
//! its template environment and role), care-team assignments, break-the-glass and the access
//! log, each through the functions a client calls.

use careflow::auth::Role;
use careflow::events::EventPayload as _;
use careflow::events::appointment::{AppointmentCancelled, AppointmentCreated};
use chrono::{Duration, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::*;

/// The ids the sample events name, replaced by each test's own.
const SAMPLE_PATIENT: &str = "11111111-1111-4111-8111-111111111111";
const SAMPLE_DOCTOR: &str = "22222222-2222-4222-8222-222222222222";

/// A sample event of `function`, aimed at `patient` (and `doctor`), called with `token`.
fn sample(
    relative: &str,
    patient: Uuid,
    doctor: Uuid,
    token: &careflow::auth::token::AccessToken,
) -> Value {
    let text = event(relative)
        .to_string()
        .replace(SAMPLE_PATIENT, &patient.to_string())
        .replace(SAMPLE_DOCTOR, &doctor.to_string());
    with_token(serde_json::from_str(&text).unwrap(), token)
}

fn get_profile(patient: Uuid, token: &careflow::auth::token::AccessToken) -> Value {
    sample("patients-get/get.json", patient, Uuid::nil(), token)
}

fn booked(patient: Uuid, doctor: Uuid, starts_in: Duration) -> Value {
    let start = Utc::now() + starts_in;
    let e = AppointmentCreated {
        appointment_id: Uuid::new_v4(),
        patient_id: patient,
        doctor_id: doctor,
        appointment_type: "consultation".into(),
        start_time: start,
        end_time: start + Duration::minutes(30),
        duration_minutes: 30,
    };
    serde_json::to_value(e.envelope(Utc::now())).unwrap()
}

fn cancelled(of: &Value) -> Value {
    let created: AppointmentCreated = serde_json::from_value(of["data"].clone()).unwrap();
    let e = AppointmentCancelled {
        appointment_id: created.appointment_id,
        patient_id: created.patient_id,
        doctor_id: created.doctor_id,
        appointment_type: created.appointment_type,
        start_time: created.start_time,
        end_time: created.end_time,
        duration_minutes: created.duration_minutes,
        cancelled_by: "patient".into(),
        reason_code: Some("illness".into()),
    };
    serde_json::to_value(e.envelope(Utc::now())).unwrap()
}

/// care-relationships as Lambda runs it: its template environment and its role's credentials.
async fn projection(env: &TestEnv) -> careflow_local::functions::EventFunction {
    let vars = env
        .deps
        .aws
        .identities
        .vars("care-relationships", &env.deps.local)
        .unwrap();
    careflow_local::functions::build_kafka("care-relationships", vars)
        .await
        .unwrap()
}

async fn deliver(f: &careflow_local::functions::EventFunction, values: &[Value], first: i64) {
    let response = f(kafka_event(values, first)).await.unwrap();
    assert_eq!(response, json!({"batchItemFailures": []}));
}

#[tokio::test]
async fn appointments_open_and_close_a_doctors_access_through_the_projection() {
    let env = TestEnv::new().await;
    let f = projection(&env).await;
    let (patient, doctor) = (Uuid::new_v4(), Uuid::new_v4());
    env.create_profile(patient).await;
    let token = env.token(doctor, Role::Doctor);
    let status = |reply: Reply| reply.status;
    assert_eq!(
        status(env.call("patients-get", get_profile(patient, &token)).await),
        403
    );

    // An upcoming appointment opens the record; redelivery changes nothing.
    let upcoming = booked(patient, doctor, Duration::days(2));
    deliver(&f, std::slice::from_ref(&upcoming), 0).await;
    deliver(&f, std::slice::from_ref(&upcoming), 0).await;
    assert_eq!(
        status(env.call("patients-get", get_profile(patient, &token)).await),
        200
    );
    // Its cancellation closes it, and a redelivered booking cannot reopen it.
    deliver(&f, &[cancelled(&upcoming)], 1).await;
    assert_eq!(
        status(env.call("patients-get", get_profile(patient, &token)).await),
        403
    );
    deliver(&f, &[upcoming.clone(), cancelled(&upcoming), upcoming], 0).await;
    assert_eq!(
        status(env.call("patients-get", get_profile(patient, &token)).await),
        403
    );

    // Past appointments count for the care window (365 days in the template), not after.
    deliver(&f, &[booked(patient, doctor, Duration::days(-400))], 3).await;
    assert_eq!(
        status(env.call("patients-get", get_profile(patient, &token)).await),
        403
    );
    deliver(&f, &[booked(patient, doctor, Duration::days(-300))], 4).await;
    assert_eq!(
        status(env.call("patients-get", get_profile(patient, &token)).await),
        200
    );
    // Another doctor's appointment gives this one nothing, and poison is stored, not fatal.
    let (other_patient, other_doctor) = (Uuid::new_v4(), Uuid::new_v4());
    env.create_profile(other_patient).await;
    deliver(
        &f,
        &[
            json!({"not": "an event"}),
            booked(other_patient, other_doctor, Duration::days(1)),
        ],
        5,
    )
    .await;
    assert_eq!(
        status(
            env.call("patients-get", get_profile(other_patient, &token))
                .await
        ),
        403
    );
    assert_eq!(
        env.db
            .count("SELECT count(*) FROM failed_events WHERE \"offset\" = 5")
            .await,
        1
    );
    // The doctor's list follows the same links.
    let list = env
        .call(
            "patients-list",
            with_token(event("patients-list/list.json"), &token),
        )
        .await;
    let ids: Vec<&str> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["patient_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [patient.to_string()]);
}

#[tokio::test]
async fn admins_assign_and_end_care_team_membership() {
    let env = TestEnv::new().await;
    let (patient, doctor) = (Uuid::new_v4(), Uuid::new_v4());
    env.create_profile(patient).await;
    insert_user(&env.db, doctor, Role::Doctor).await;
    let not_a_doctor = Uuid::new_v4();
    insert_user(&env.db, not_a_doctor, Role::Patient).await;
    let admin = env.token(Uuid::new_v4(), Role::Admin);
    let me = env.token(patient, Role::Patient);
    let doctor_token = env.token(doctor, Role::Doctor);
    let until = (Utc::now() + Duration::days(30)).to_rfc3339();
    let assign = |who: &careflow::auth::token::AccessToken, doctor: Uuid, body: Value| {
        with_body(
            sample("patients-care-team/assign.json", patient, doctor, who),
            &body,
        )
    };

    // Only admins assign, only doctors can be assigned, only until a future time.
    for (token, target, body, status, field) in [
        (&doctor_token, doctor, json!({"until": until}), 403, None),
        (&me, doctor, json!({"until": until}), 403, None),
        (
            &admin,
            not_a_doctor,
            json!({"until": until}),
            400,
            Some("doctorId"),
        ),
        (
            &admin,
            doctor,
            json!({"until": "2020-01-01T00:00:00Z"}),
            400,
            Some("until"),
        ),
        (&admin, doctor, json!({"until": "soon"}), 400, Some("until")),
        (
            &admin,
            doctor,
            json!({"until": until, "role": "x"}),
            400,
            Some("role"),
        ),
    ] {
        env.call("patients-care-team", assign(token, target, body))
            .await
            .assert_problem(status, field);
    }
    assert_eq!(
        env.call("patients-get", get_profile(patient, &doctor_token))
            .await
            .status,
        403
    );

    let reply = env
        .call(
            "patients-care-team",
            assign(
                &admin,
                doctor,
                json!({"until": until, "reason": "Diabetes programme"}),
            ),
        )
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        (&reply.body["kind"], reply.body["active"].as_bool()),
        (&json!("care_team"), Some(true))
    );
    assert_eq!(
        env.call("patients-get", get_profile(patient, &doctor_token))
            .await
            .status,
        200
    );
    // The patient sees who is on their team; nobody else but admins does.
    let team = env
        .call(
            "patients-care-team",
            sample("patients-care-team/list.json", patient, doctor, &me),
        )
        .await;
    assert_eq!(team.status, 200, "{team:?}");
    assert_eq!(team.body["items"][0]["doctor_id"], doctor.to_string());
    assert_eq!(team.body["items"][0]["active"], true);
    for token in [&doctor_token, &env.token(Uuid::new_v4(), Role::Patient)] {
        env.call(
            "patients-care-team",
            sample("patients-care-team/list.json", patient, doctor, token),
        )
        .await
        .assert_problem(403, None);
    }

    // Ending it closes the record at once; ending it twice is a 404.
    let end = sample("patients-care-team/end.json", patient, doctor, &admin);
    assert_eq!(
        env.call("patients-care-team", end.clone()).await.status,
        204
    );
    assert_eq!(
        env.call("patients-get", get_profile(patient, &doctor_token))
            .await
            .status,
        403
    );
    env.call("patients-care-team", end)
        .await
        .assert_problem(404, None);
    let team = env
        .call(
            "patients-care-team",
            sample("patients-care-team/list.json", patient, doctor, &admin),
        )
        .await;
    assert_eq!(team.body["items"][0]["active"], false);
}

#[tokio::test]
async fn break_the_glass_is_open_audited_and_visible_to_the_patient() {
    let env = TestEnv::new().await;
    let patient = Uuid::new_v4();
    env.create_profile(patient).await;
    let doctor = Uuid::new_v4();
    let doctor_token = env.token(doctor, Role::Doctor);
    let me = env.token(patient, Role::Patient);
    let admin = env.token(Uuid::new_v4(), Role::Admin);
    let open = |token, body: Value| {
        with_body(
            sample("emergency-access/open.json", patient, doctor, token),
            &body,
        )
    };
    let reason = "Unconscious in the emergency department";
    for (token, body, status, field) in [
        (&me, json!({"reason": reason}), 403, None),
        (&admin, json!({"reason": reason}), 403, None),
        (
            &doctor_token,
            json!({"reason": "because"}),
            400,
            Some("reason"),
        ),
        (&doctor_token, json!({}), 400, Some("reason")),
        (
            &doctor_token,
            json!({"reason": "x".repeat(501)}),
            400,
            Some("reason"),
        ),
    ] {
        env.call("emergency-access", open(token, body))
            .await
            .assert_problem(status, field);
    }
    assert_eq!(
        env.call("patients-get", get_profile(patient, &doctor_token))
            .await
            .status,
        403
    );
    // A mistyped patient id opens nothing.
    let nobody = Uuid::new_v4();
    let text = open(&doctor_token, json!({"reason": reason}))
        .to_string()
        .replace(&patient.to_string(), &nobody.to_string());
    env.call("emergency-access", serde_json::from_str(&text).unwrap())
        .await
        .assert_problem(404, None);
    let grant = env
        .call(
            "emergency-access",
            open(&doctor_token, json!({"reason": reason})),
        )
        .await;
    assert_eq!(grant.status, 201, "{grant:?}");
    let expires: chrono::DateTime<Utc> =
        grant.body["expires_at"].as_str().unwrap().parse().unwrap();
    let granted: chrono::DateTime<Utc> =
        grant.body["granted_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(expires - granted, Duration::minutes(60));
    assert_eq!(
        env.call("patients-get", get_profile(patient, &doctor_token))
            .await
            .status,
        200
    );

    // The patient's access log shows the grant and the read under it, as emergency.
    let log = env
        .call(
            "patients-access-log",
            sample("patients-access-log/list.json", patient, doctor, &me),
        )
        .await;
    assert_eq!(log.status, 200, "{log:?}");
    let entries = log.body["items"].as_array().unwrap();
    let emergency: Vec<(&str, &str)> = entries
        .iter()
        .filter(|e| e["emergency"] == true)
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        emergency,
        [("read_profile", "allowed"), ("emergency_access", "allowed")],
        "newest first"
    );
    assert!(
        entries
            .iter()
            .filter(|e| e["emergency"] == true)
            .all(|e| e["actor_id"] == doctor.to_string()
                && e["actor_role"] == "doctor"
                && e["emergency_grant"] == grant.body["grant_id"])
    );
    // The denied attempt before the grant is there too, not as emergency.
    assert!(entries.iter().any(|e| e["actor_id"] == doctor.to_string()
        && e["outcome"] == "denied"
        && e["emergency"] == false));

    // Admins review every grant; nobody else can list them.
    let list = env
        .call(
            "emergency-access",
            sample("emergency-access/list.json", patient, doctor, &admin),
        )
        .await;
    assert_eq!(list.status, 200, "{list:?}");
    assert_eq!(list.body["items"][0]["grant_id"], grant.body["grant_id"]);
    assert_eq!(list.body["items"][0]["reason"], reason);
    for token in [&doctor_token, &me] {
        env.call(
            "emergency-access",
            sample("emergency-access/list.json", patient, doctor, token),
        )
        .await
        .assert_problem(403, None);
    }
}

#[tokio::test]
async fn the_access_log_is_the_patients_and_admins_newest_first_and_paged() {
    let env = TestEnv::new().await;
    let patient = Uuid::new_v4();
    env.create_profile(patient).await;
    let me = env.token(patient, Role::Patient);
    let doctor = Uuid::new_v4();
    env.assign(doctor, patient).await;
    let doctor_token = env.token(doctor, Role::Doctor);
    for _ in 0..3 {
        let reply = env
            .call("patients-get", get_profile(patient, &doctor_token))
            .await;
        assert_eq!(reply.status, 200);
    }
    // Only the patient and admins: not the treating doctor, not another patient.
    for token in [&doctor_token, &env.token(Uuid::new_v4(), Role::Patient)] {
        env.call(
            "patients-access-log",
            sample("patients-access-log/list.json", patient, doctor, token),
        )
        .await
        .assert_problem(403, None);
    }
    let own = env
        .call(
            "patients-access-log",
            sample("patients-access-log/list.json", patient, doctor, &me),
        )
        .await;
    assert_eq!(own.status, 200, "{own:?}");
    assert_eq!(own.body["items"][0]["action"], "read_access_log");
    assert_eq!(own.body["items"][0]["outcome"], "denied");
    let admin = env.token(Uuid::new_v4(), Role::Admin);
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut ev = sample("patients-access-log/list.json", patient, doctor, &admin);
        ev = match &cursor {
            Some(c) => with_query(ev, &[("limit", "2"), ("cursor", c)]),
            None => with_query(ev, &[("limit", "2")]),
        };
        let page = env.call("patients-access-log", ev).await;
        assert_eq!(page.status, 200, "{page:?}");
        seen.extend(page.body["items"].as_array().unwrap().iter().cloned());
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let times: Vec<chrono::DateTime<Utc>> = seen
        .iter()
        .map(|e| e["at"].as_str().unwrap().parse().unwrap())
        .collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted, "newest first");
    let reads = seen
        .iter()
        .filter(|e| e["action"] == "read_profile" && e["actor_id"] == doctor.to_string())
        .count();
    assert_eq!(reads, 3);
    // The two denied reads of the log are in it too.
    assert_eq!(
        seen.iter()
            .filter(|e| e["action"] == "read_access_log" && e["outcome"] == "denied")
            .count(),
        2
    );
    env.call(
        "patients-access-log",
        with_query(
            sample("patients-access-log/list.json", patient, doctor, &admin),
            &[("cursor", "garbage")],
        ),
    )
    .await
    .assert_problem(400, Some("cursor"));
}

fn moved(of: &Value, to: Duration, revision: u32) -> Value {
    let created: AppointmentCreated = serde_json::from_value(of["data"].clone()).unwrap();
    let start = Utc::now() + to;
    let e = careflow::events::AppointmentRescheduled {
        appointment_id: created.appointment_id,
        patient_id: created.patient_id,
        doctor_id: created.doctor_id,
        appointment_type: created.appointment_type,
        previous_start_time: created.start_time,
        previous_end_time: created.end_time,
        start_time: start,
        end_time: start + Duration::minutes(30),
        duration_minutes: created.duration_minutes,
        revision,
        rescheduled_by: "admin".into(),
    };
    serde_json::to_value(e.envelope(Utc::now())).unwrap()
}

#[tokio::test]
async fn a_moved_appointment_moves_the_link_and_late_moves_do_not_undo_it() {
    let env = TestEnv::new().await;
    let f = projection(&env).await;
    let (patient, doctor) = (Uuid::new_v4(), Uuid::new_v4());
    env.create_profile(patient).await;
    let token = env.token(doctor, Role::Doctor);
    let status = |reply: Reply| reply.status;
    // Long past the care window: no access.
    let old = booked(patient, doctor, Duration::days(-400));
    deliver(&f, std::slice::from_ref(&old), 0).await;
    assert_eq!(
        status(env.call("patients-get", get_profile(patient, &token)).await),
        403
    );
    // Moved (revision 3) to the day after tomorrow: access. Revision 2, delivered late, would
    // move it back out of the window: ignored, as are redeliveries.
    deliver(&f, &[moved(&old, Duration::days(2), 3)], 1).await;
    assert_eq!(
        status(env.call("patients-get", get_profile(patient, &token)).await),
        200
    );
    deliver(
        &f,
        &[
            moved(&old, Duration::days(-500), 2),
            moved(&old, Duration::days(2), 3),
        ],
        2,
    )
    .await;
    assert_eq!(
        status(env.call("patients-get", get_profile(patient, &token)).await),
        200
    );
    // Cancelled: closed, and no move reopens it.
    deliver(&f, &[cancelled(&old), moved(&old, Duration::days(3), 4)], 4).await;
    assert_eq!(
        status(env.call("patients-get", get_profile(patient, &token)).await),
        403
    );
    // A move that arrives before its booking links it; the booking then changes nothing.
    let (patient2, doctor2) = (Uuid::new_v4(), Uuid::new_v4());
    env.create_profile(patient2).await;
    let token2 = env.token(doctor2, Role::Doctor);
    let early = booked(patient2, doctor2, Duration::days(-400));
    deliver(&f, &[moved(&early, Duration::days(5), 2), early.clone()], 6).await;
    assert_eq!(
        status(
            env.call("patients-get", get_profile(patient2, &token2))
                .await
        ),
        200
    );
}
