//! Availability and free slots (doctors-availability, doctors-slots) and how booking honours
//! them (appointments-create).

use careflow::auth::Role;
use careflow::auth::token::AccessToken;
use chrono::{
    DateTime, Datelike, Duration, DurationRound, NaiveDate, SecondsFormat, TimeZone, Utc,
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::*;

const DOCTOR: &str = "22222222-2222-4222-8222-222222222222";
const PATIENT: &str = "11111111-1111-4111-8111-111111111111";

/// A Monday at least two days ahead: a whole working week in the future.
fn next_monday() -> NaiveDate {
    let mut day = Utc::now().date_naive() + Duration::days(2);
    while day.weekday().number_from_monday() != 1 {
        day += Duration::days(1);
    }
    day
}

fn aimed(relative: &str, doctor: Uuid, token: &AccessToken) -> Value {
    let text = event(relative)
        .to_string()
        .replace(DOCTOR, &doctor.to_string());
    with_token(serde_json::from_str(&text).unwrap(), token)
}

fn put(doctor: Uuid, token: &AccessToken, document: &Value, if_match: Option<&str>) -> Value {
    let mut ev = with_body(
        aimed("doctors-availability/put.json", doctor, token),
        document,
    );
    let headers = ev["headers"].as_object_mut().unwrap();
    headers.remove("if-match");
    if let Some(tag) = if_match {
        headers.insert("if-match".into(), json!(tag));
    }
    ev
}

fn slots_of(doctor: Uuid, token: &AccessToken, params: &[(&str, &str)]) -> Value {
    let mut ev = aimed("doctors-slots/doctor.json", doctor, token);
    ev.as_object_mut().unwrap().remove("queryStringParameters");
    ev["rawQueryString"] = json!("");
    with_query(ev, params)
}

fn search(token: &AccessToken, params: &[(&str, &str)]) -> Value {
    let mut ev = with_token(event("doctors-slots/search.json"), token);
    ev.as_object_mut().unwrap().remove("queryStringParameters");
    ev["rawQueryString"] = json!("");
    with_query(ev, params)
}

fn book(token: &AccessToken, doctor: Uuid, start: DateTime<Utc>, kind: &str) -> Value {
    let sample = event("appointments-create/create.json");
    let mut body = body_of(&sample);
    body["doctor_id"] = json!(doctor);
    body["start_time"] = json!(start.to_rfc3339());
    body["appointment_type"] = json!(kind);
    let mut ev = with_token(with_body(sample, &body), token);
    ev["headers"]
        .as_object_mut()
        .unwrap()
        .remove("idempotency-key");
    ev
}

fn starts(reply: &Reply) -> Vec<DateTime<Utc>> {
    reply.body["slots"]
        .as_array()
        .unwrap_or_else(|| panic!("no slots: {reply:?}"))
        .iter()
        .map(|s| s["start_time"].as_str().unwrap().parse().unwrap())
        .collect()
}

/// Weekdays 09:00–12:00 Berlin, consultations and follow-ups every 30 minutes, 10 minutes kept
/// between appointments.
fn berlin_mornings() -> Value {
    json!({
        "time_zone": "Europe/Berlin",
        "weekly_hours": (1..=5).map(|d| json!({"weekday": d, "start": "09:00", "end": "12:00"})).collect::<Vec<_>>(),
        "exceptions": [],
        "appointment_types": ["consultation", "follow_up"],
        "slot_interval_minutes": 30,
        "buffer_minutes": 10,
        "minimum_notice_minutes": 60,
    })
}

#[tokio::test]
async fn availability_is_the_doctors_own_or_an_admins_to_change() {
    let env = TestEnv::new().await;
    let (doctor, other, patient, admin) = (
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
    );
    insert_user(&env.db, doctor, Role::Doctor).await;
    insert_user(&env.db, other, Role::Doctor).await;
    insert_user(&env.db, patient, Role::Patient).await;
    insert_user(&env.db, admin, Role::Admin).await;
    let (doctor_token, other_token, patient_token, admin_token) = (
        env.token(doctor, Role::Doctor),
        env.token(other, Role::Doctor),
        env.token(patient, Role::Patient),
        env.token(admin, Role::Admin),
    );
    let hours = berlin_mornings();

    // Neither a patient nor another doctor; the body is not even read (a bad one is 403 too).
    for token in [&patient_token, &other_token] {
        env.call("doctors-availability", put(doctor, token, &hours, None))
            .await
            .assert_problem(403, None);
        env.call(
            "doctors-availability",
            put(doctor, token, &json!({"nonsense": 1}), None),
        )
        .await
        .assert_problem(403, None);
    }
    // The doctor: fixtures open every doctor round the clock (version 1); this is version 2.
    let reply = env
        .call(
            "doctors-availability",
            put(doctor, &doctor_token, &hours, Some("\"1\"")),
        )
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.header("etag"), Some("\"2\""));
    assert_eq!(reply.body["time_zone"], "Europe/Berlin");
    // A stale version is refused; an admin with the current one replaces it.
    env.call(
        "doctors-availability",
        put(doctor, &admin_token, &hours, Some("\"1\"")),
    )
    .await
    .assert_problem(412, None);
    let mut closed_christmas = hours.clone();
    closed_christmas["exceptions"] = json!([{"date": "2026-12-24", "hours": []}]);
    let reply = env
        .call(
            "doctors-availability",
            put(doctor, &admin_token, &closed_christmas, Some("\"2\"")),
        )
        .await;
    assert_eq!(
        (reply.status, reply.header("etag")),
        (200, Some("\"3\"")),
        "{reply:?}"
    );

    // Anyone signed in reads it, as stored.
    let reply = env
        .call(
            "doctors-availability",
            aimed("doctors-availability/get.json", doctor, &patient_token),
        )
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        reply.body["exceptions"],
        json!([{"date": "2026-12-24", "hours": []}])
    );
    assert_eq!(reply.header("etag"), Some("\"3\""));

    // Bad documents name the field; nothing changes.
    for (patch, field) in [
        (json!({"time_zone": "Berlin/Mitte"}), "time_zone"),
        (
            json!({"weekly_hours": [{"weekday": 1, "start": "09:00", "end": "08:00"}]}),
            "weekly_hours[0].end",
        ),
        (
            json!({"weekly_hours": [{"weekday": 0, "start": "09:00", "end": "10:00"}]}),
            "weekly_hours[0].weekday",
        ),
        (
            json!({"appointment_types": ["surgery"]}),
            "appointment_types[0]",
        ),
        (json!({"buffer_minutes": 7}), "buffer_minutes"),
        (json!({"colour": "blue"}), "colour"),
    ] {
        let mut bad = hours.clone();
        for (k, v) in patch.as_object().unwrap() {
            bad[k] = v.clone();
        }
        env.call(
            "doctors-availability",
            put(doctor, &admin_token, &bad, None),
        )
        .await
        .assert_problem(400, Some(field));
    }
    // Only doctors have availability: a patient's id is 404 to an admin.
    env.call(
        "doctors-availability",
        put(patient, &admin_token, &hours, None),
    )
    .await
    .assert_problem(404, None);
    env.call(
        "doctors-availability",
        aimed("doctors-availability/get.json", patient, &admin_token),
    )
    .await
    .assert_problem(404, None);
    let reply = env
        .call(
            "doctors-availability",
            aimed("doctors-availability/get.json", doctor, &patient_token),
        )
        .await;
    assert_eq!(reply.header("etag"), Some("\"3\""));
}

#[tokio::test]
async fn slots_follow_the_hours_the_bookings_and_the_buffers() {
    let env = TestEnv::new().await;
    let (doctor, patient, other_patient) = (
        DOCTOR.parse().unwrap(),
        PATIENT.parse().unwrap(),
        Uuid::new_v4(),
    );
    insert_user(&env.db, doctor, Role::Doctor).await;
    insert_user(&env.db, patient, Role::Patient).await;
    insert_user(&env.db, other_patient, Role::Patient).await;
    let doctor_token = env.token(doctor, Role::Doctor);
    let patient_token = env.token(patient, Role::Patient);
    let other_token = env.token(other_patient, Role::Patient);
    assert_eq!(
        env.call(
            "doctors-availability",
            put(doctor, &doctor_token, &berlin_mornings(), None)
        )
        .await
        .status,
        200
    );

    let monday = next_monday();
    let berlin = chrono_tz::Europe::Berlin;
    let local = |day: NaiveDate, h: u32, m: u32| {
        berlin
            .from_local_datetime(&day.and_hms_opt(h, m, 0).unwrap())
            .unwrap()
            .with_timezone(&Utc)
    };
    let from = local(monday, 0, 0).to_rfc3339_opts(SecondsFormat::Secs, true);
    let to = local(monday + Duration::days(7), 0, 0).to_rfc3339_opts(SecondsFormat::Secs, true);
    let week = [
        ("from", from.as_str()),
        ("to", to.as_str()),
        ("type", "consultation"),
    ];

    let reply = env
        .call("doctors-slots", slots_of(doctor, &patient_token, &week))
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body["time_zone"], "Europe/Berlin");
    let free = starts(&reply);
    // Five mornings of 09:00, 09:30 … 11:30 local: six consultations each.
    let expected: Vec<DateTime<Utc>> = (0..5)
        .flat_map(|d| (0..6).map(move |i| (d, i)))
        .map(|(d, i)| local(monday + Duration::days(d), 9, 0) + Duration::minutes(30 * i))
        .collect();
    assert_eq!(free, expected);

    // Book Monday 10:00: it goes, and with the 10-minute buffer so do 09:30 and 10:30.
    let ten = local(monday, 10, 0);
    let reply = env
        .call(
            "appointments-create",
            book(&patient_token, doctor, ten, "consultation"),
        )
        .await;
    assert_eq!(reply.status, 201, "{reply:?}");
    let free = starts(
        &env.call("doctors-slots", slots_of(doctor, &patient_token, &week))
            .await,
    );
    for gone in [local(monday, 9, 30), ten, local(monday, 10, 30)] {
        assert!(!free.contains(&gone), "{gone} still offered");
    }
    assert!(free.contains(&local(monday, 9, 0)) && free.contains(&local(monday, 11, 0)));
    assert_eq!(free.len(), expected.len() - 3);

    // What the slots refused, booking refuses too: the same time, inside the buffer, off the
    // grid, outside the hours, a type not offered.
    env.call(
        "appointments-create",
        book(&other_token, doctor, ten, "consultation"),
    )
    .await
    .assert_problem(409, None);
    env.call(
        "appointments-create",
        book(&other_token, doctor, local(monday, 10, 30), "consultation"),
    )
    .await
    .assert_problem(409, None);
    env.call(
        "appointments-create",
        book(&other_token, doctor, local(monday, 11, 15), "consultation"),
    )
    .await
    .assert_problem(400, Some("start_time"));
    env.call(
        "appointments-create",
        book(
            &other_token,
            doctor,
            local(monday + Duration::days(5), 9, 0),
            "consultation",
        ),
    )
    .await
    .assert_problem(400, Some("start_time"));
    env.call(
        "appointments-create",
        book(&other_token, doctor, local(monday, 11, 0), "lab_review"),
    )
    .await
    .assert_problem(400, Some("appointment_type"));
    assert_eq!(
        env.call(
            "appointments-create",
            book(&other_token, doctor, local(monday, 11, 0), "follow_up")
        )
        .await
        .status,
        201
    );
    // A type the doctor does not offer has no slots.
    let reply = env
        .call(
            "doctors-slots",
            slots_of(
                doctor,
                &patient_token,
                &[("from", &from), ("to", &to), ("type", "lab_review")],
            ),
        )
        .await;
    assert_eq!(starts(&reply), Vec::<DateTime<Utc>>::new());

    // A doctor without availability is not bookable and has no slots.
    env.db
        .client()
        .await
        .execute(
            "DELETE FROM doctor_availability WHERE doctor_id = $1",
            &[&doctor],
        )
        .await
        .unwrap();
    env.call(
        "appointments-create",
        book(&other_token, doctor, local(monday, 9, 0), "consultation"),
    )
    .await
    .assert_problem(400, Some("doctor_id"));
    env.call("doctors-slots", slots_of(doctor, &patient_token, &week))
        .await
        .assert_problem(404, None);

    // Ranges are bounded and parameters named.
    let far = (Utc::now() + Duration::days(40)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let now = Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true);
    env.call(
        "doctors-slots",
        slots_of(doctor, &patient_token, &[("from", &now), ("to", &far)]),
    )
    .await
    .assert_problem(400, Some("to"));
    env.call(
        "doctors-slots",
        slots_of(doctor, &patient_token, &[("type", "surgery")]),
    )
    .await
    .assert_problem(400, Some("type"));
    env.call(
        "doctors-slots",
        slots_of(doctor, &patient_token, &[("from", "tomorrow")]),
    )
    .await
    .assert_problem(400, Some("from"));
}

#[tokio::test]
async fn slots_across_a_specialty_come_in_time_order_a_page_at_a_time() {
    let env = TestEnv::new().await;
    let patient = Uuid::new_v4();
    insert_user(&env.db, patient, Role::Patient).await;
    let token = env.token(patient, Role::Patient);
    let admin = Uuid::new_v4();
    insert_user(&env.db, admin, Role::Admin).await;
    let admin_token = env.token(admin, Role::Admin);
    // Three cardiologists (one mornings, two afternoons) and a dermatologist, all in UTC.
    let mut cardiologists = Vec::new();
    for (i, (start, end)) in [("09:00", "10:00"), ("14:00", "15:00"), ("14:00", "15:00")]
        .into_iter()
        .enumerate()
    {
        let doctor = env
            .user(
                &unique_email(&format!("cardio{i}")),
                "a long passphrase 1",
                Role::Doctor,
            )
            .await
            .user_id;
        let hours = json!({
            "time_zone": "UTC",
            "weekly_hours": (1..=7).map(|d| json!({"weekday": d, "start": start, "end": end})).collect::<Vec<_>>(),
            "appointment_types": ["consultation"],
            "slot_interval_minutes": 30,
        });
        assert_eq!(
            env.call(
                "doctors-availability",
                put(doctor, &admin_token, &hours, None)
            )
            .await
            .status,
            200
        );
        cardiologists.push(doctor);
    }
    let dermatologist = Uuid::new_v4();
    insert_user(&env.db, dermatologist, Role::Doctor).await; // "General practice", open all hours

    let day = next_monday();
    let from = Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).unwrap());
    let to = from + Duration::days(2);
    let (from_s, to_s) = (
        from.to_rfc3339_opts(SecondsFormat::Secs, true),
        to.to_rfc3339_opts(SecondsFormat::Secs, true),
    );
    let mut seen: Vec<(DateTime<Utc>, Uuid)> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut params = vec![
            ("specialty", "cardiology"),
            ("from", from_s.as_str()),
            ("to", to_s.as_str()),
            ("limit", "4"),
        ];
        if let Some(c) = &cursor {
            params.push(("cursor", c.as_str()));
        }
        let reply = env.call("doctors-slots", search(&token, &params)).await;
        assert_eq!(reply.status, 200, "{reply:?}");
        for item in reply.body["items"].as_array().unwrap() {
            seen.push((
                item["start_time"].as_str().unwrap().parse().unwrap(),
                item["doctor_id"].as_str().unwrap().parse().unwrap(),
            ));
        }
        pages += 1;
        match reply.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    // Two days × (2 morning + 2 × 2 afternoon) slots, each once, in (time, doctor) order.
    assert_eq!(seen.len(), 12, "{seen:?}");
    assert_eq!(pages, 3);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(seen, sorted);
    assert!(seen.iter().all(|(_, d)| cardiologists.contains(d)));
    assert!(
        seen.iter()
            .any(|(t, d)| *d == cardiologists[0] && *t == from + Duration::hours(9))
    );
}

fn reschedule(
    token: &AccessToken,
    appointment: &str,
    start: DateTime<Utc>,
    key: Option<&str>,
) -> Value {
    let mut ev = aimed_at(
        "appointments-reschedule/reschedule.json",
        appointment,
        token,
        Some(&json!({"start_time": start.to_rfc3339()})),
    );
    let headers = ev["headers"].as_object_mut().unwrap();
    headers.remove("idempotency-key");
    if let Some(key) = key {
        headers.insert("idempotency-key".into(), json!(key));
    }
    ev
}

/// The outbox's events of one type, oldest first.
async fn outbox(env: &TestEnv, event_type: &str) -> Vec<Value> {
    env.db
        .client()
        .await
        .query(
            "SELECT payload FROM outbox WHERE payload->>'type' = $1 ORDER BY seq",
            &[&event_type],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<_, Value>(0))
        .collect()
}

#[tokio::test]
async fn a_reschedule_takes_the_new_time_and_frees_the_old_in_one_step() {
    let env = TestEnv::new().await;
    let (doctor, patient, stranger, admin) = (
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
    );
    insert_user(&env.db, doctor, Role::Doctor).await;
    insert_user(&env.db, patient, Role::Patient).await;
    insert_user(&env.db, stranger, Role::Patient).await;
    insert_user(&env.db, admin, Role::Admin).await;
    let (doctor_token, patient_token, stranger_token, admin_token) = (
        env.token(doctor, Role::Doctor),
        env.token(patient, Role::Patient),
        env.token(stranger, Role::Patient),
        env.token(admin, Role::Admin),
    );
    assert_eq!(
        env.call(
            "doctors-availability",
            put(doctor, &doctor_token, &berlin_mornings(), None)
        )
        .await
        .status,
        200
    );
    let berlin = chrono_tz::Europe::Berlin;
    let monday = next_monday();
    let local = |day: NaiveDate, h: u32, m: u32| {
        berlin
            .from_local_datetime(&day.and_hms_opt(h, m, 0).unwrap())
            .unwrap()
            .with_timezone(&Utc)
    };
    let (nine, tuesday_ten) = (
        local(monday, 9, 0),
        local(monday + Duration::days(1), 10, 0),
    );
    let booked = env
        .call(
            "appointments-create",
            book(&patient_token, doctor, nine, "consultation"),
        )
        .await;
    assert_eq!(booked.status, 201, "{booked:?}");
    let id = booked.body["appointment_id"].as_str().unwrap().to_owned();

    // A stranger cannot even learn it exists.
    env.call(
        "appointments-reschedule",
        reschedule(&stranger_token, &id, tuesday_ten, None),
    )
    .await
    .assert_problem(404, None);
    // Times the doctor does not offer are refused and change nothing.
    env.call(
        "appointments-reschedule",
        reschedule(&patient_token, &id, local(monday, 13, 0), None),
    )
    .await
    .assert_problem(400, Some("start_time"));
    env.call(
        "appointments-reschedule",
        reschedule(&patient_token, &id, local(monday, 9, 10), None),
    )
    .await
    .assert_problem(400, Some("start_time"));

    let moved = env
        .call(
            "appointments-reschedule",
            reschedule(&patient_token, &id, tuesday_ten, Some("move-1")),
        )
        .await;
    assert_eq!(moved.status, 200, "{moved:?}");
    assert_eq!(
        moved.body["start_time"]
            .as_str()
            .unwrap()
            .parse::<DateTime<Utc>>()
            .unwrap(),
        tuesday_ten
    );
    assert!(moved.body["rescheduled_at"].is_string());
    // A retry with the key answers the same without moving or publishing again; the key with
    // another time is refused.
    let retried = env
        .call(
            "appointments-reschedule",
            reschedule(&patient_token, &id, tuesday_ten, Some("move-1")),
        )
        .await;
    assert_eq!(
        (retried.status, retried.header("idempotent-replayed")),
        (200, Some("true"))
    );
    assert_eq!(retried.body, moved.body);
    env.call(
        "appointments-reschedule",
        reschedule(&patient_token, &id, local(monday, 11, 0), Some("move-1")),
    )
    .await
    .assert_problem(422, None);

    // The old time is free again, the new one taken (with its buffer).
    let from = local(monday, 0, 0).to_rfc3339_opts(SecondsFormat::Secs, true);
    let to = local(monday + Duration::days(2), 0, 0).to_rfc3339_opts(SecondsFormat::Secs, true);
    let free = starts(
        &env.call(
            "doctors-slots",
            slots_of(doctor, &patient_token, &[("from", &from), ("to", &to)]),
        )
        .await,
    );
    assert!(free.contains(&nine));
    assert!(!free.contains(&tuesday_ten));
    // One event, with both times and the revision.
    let events = outbox(&env, "AppointmentRescheduled").await;
    assert_eq!(events.len(), 1, "{events:?}");
    let data = &events[0]["data"];
    assert_eq!(
        data["previous_start_time"]
            .as_str()
            .unwrap()
            .parse::<DateTime<Utc>>()
            .unwrap(),
        nine
    );
    assert_eq!(
        data["start_time"]
            .as_str()
            .unwrap()
            .parse::<DateTime<Utc>>()
            .unwrap(),
        tuesday_ten
    );
    assert_eq!(
        (data["revision"].as_u64(), data["rescheduled_by"].as_str()),
        (Some(2), Some("patient"))
    );

    // Into a taken time: 409, and the appointment stays where it was.
    let other = env
        .call(
            "appointments-create",
            book(&stranger_token, doctor, nine, "consultation"),
        )
        .await;
    assert_eq!(other.status, 201, "{other:?}");
    let refused = env
        .call(
            "appointments-reschedule",
            reschedule(&admin_token, &id, nine, None),
        )
        .await;
    refused.assert_problem(409, None);
    assert_eq!(refused.body["type"], "/problems/slot-taken");
    let still = env
        .db
        .client()
        .await
        .query_one(
            "SELECT start_time, revision FROM appointments WHERE id = $1",
            &[&id.parse::<Uuid>().unwrap()],
        )
        .await
        .unwrap();
    assert_eq!(
        (still.get::<_, DateTime<Utc>>(0), still.get::<_, i32>(1)),
        (tuesday_ten, 2)
    );
    assert_eq!(outbox(&env, "AppointmentRescheduled").await.len(), 1);

    // Cancelled appointments are not moved.
    let mut cancel = event("appointments-cancel/cancel-empty.json");
    let old = cancel["pathParameters"]["appointmentId"]
        .as_str()
        .unwrap()
        .to_owned();
    cancel = serde_json::from_str(&cancel.to_string().replace(&old, &id)).unwrap();
    assert_eq!(
        env.call("appointments-cancel", with_token(cancel, &doctor_token))
            .await
            .status,
        200
    );
    let refused = env
        .call(
            "appointments-reschedule",
            reschedule(&patient_token, &id, local(monday, 11, 0), None),
        )
        .await;
    refused.assert_problem(409, None);
    assert_eq!(refused.body["type"], "/problems/cancelled");
}

#[tokio::test]
async fn fifty_concurrent_reschedules_into_one_free_slot_have_one_winner() {
    let env = TestEnv::new().await;
    let doctor = Uuid::new_v4();
    insert_user(&env.db, doctor, Role::Doctor).await; // open round the clock, 5-minute grid
    let base = Utc.from_utc_datetime(&next_monday().and_hms_opt(6, 0, 0).unwrap());
    let target = base - Duration::hours(1);
    // 50 patients, each with an appointment of their own.
    let mut holders = Vec::new();
    for i in 0..50 {
        let patient = Uuid::new_v4();
        insert_user(&env.db, patient, Role::Patient).await;
        let token = env.token(patient, Role::Patient);
        let start = base + Duration::minutes(30 * i);
        let reply = env
            .call(
                "appointments-create",
                book(&token, doctor, start, "consultation"),
            )
            .await;
        assert_eq!(reply.status, 201, "{reply:?}");
        holders.push((
            token,
            reply.body["appointment_id"].as_str().unwrap().to_owned(),
            start,
        ));
    }
    let replies = futures::future::join_all(holders.iter().map(|(token, id, _)| {
        env.call(
            "appointments-reschedule",
            reschedule(token, id, target, None),
        )
    }))
    .await;
    let winners: Vec<usize> = replies
        .iter()
        .enumerate()
        .filter(|(_, r)| r.status == 200)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(
        winners.len(),
        1,
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    for reply in replies.iter().filter(|r| r.status != 200) {
        reply.assert_problem(409, None);
    }
    // Everyone else kept their own time; the target holds exactly the winner.
    let client = env.db.client().await;
    for (i, (_, id, start)) in holders.iter().enumerate() {
        let now: DateTime<Utc> = client
            .query_one(
                "SELECT start_time FROM appointments WHERE id = $1",
                &[&id.parse::<Uuid>().unwrap()],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(now, if winners.contains(&i) { target } else { *start });
    }
    assert_eq!(
        env.db
            .count(&format!(
                "SELECT count(*) FROM appointments WHERE start_time = '{}'",
                target.to_rfc3339()
            ))
            .await,
        1
    );
    assert_eq!(outbox(&env, "AppointmentRescheduled").await.len(), 1);
}

fn aimed_at(relative: &str, appointment: &str, token: &AccessToken, body: Option<&Value>) -> Value {
    let sample = event(relative);
    let old = sample["pathParameters"]["appointmentId"]
        .as_str()
        .unwrap()
        .to_owned();
    let ev: Value = serde_json::from_str(&sample.to_string().replace(&old, appointment)).unwrap();
    let ev = match body {
        Some(body) => with_body(ev, body),
        None => ev,
    };
    with_token(ev, token)
}

#[tokio::test]
async fn attendance_is_recorded_once_after_the_start_by_the_doctor_or_an_admin() {
    let env = TestEnv::new().await;
    let (doctor, other_doctor, patient, other_patient, admin) = (
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
    );
    for (id, role) in [
        (doctor, Role::Doctor),
        (other_doctor, Role::Doctor),
        (patient, Role::Patient),
        (other_patient, Role::Patient),
        (admin, Role::Admin),
    ] {
        insert_user(&env.db, id, role).await;
    }
    let (doctor_token, other_doctor_token, patient_token, other_token, admin_token) = (
        env.token(doctor, Role::Doctor),
        env.token(other_doctor, Role::Doctor),
        env.token(patient, Role::Patient),
        env.token(other_patient, Role::Patient),
        env.token(admin, Role::Admin),
    );
    let start = Utc.from_utc_datetime(&next_monday().and_hms_opt(9, 0, 0).unwrap());
    let booked = env
        .call(
            "appointments-create",
            book(&patient_token, doctor, start, "consultation"),
        )
        .await;
    assert_eq!(booked.status, 201, "{booked:?}");
    let id = booked.body["appointment_id"].as_str().unwrap().to_owned();
    let mark = |token: &AccessToken, outcome: &str| {
        aimed_at(
            "appointments-attendance/no-show.json",
            &id,
            token,
            Some(&json!({"outcome": outcome})),
        )
    };

    // Not before it starts.
    let early = env
        .call("appointments-attendance", mark(&doctor_token, "attended"))
        .await;
    early.assert_problem(409, None);
    assert_eq!(early.body["type"], "/problems/not-started");
    // It started ten minutes ago (and runs twenty more).
    env.db
        .client()
        .await
        .execute(
            "UPDATE appointments SET start_time = date_trunc('minute', now()) - interval '10 minutes',
                                     end_time = date_trunc('minute', now()) + interval '20 minutes'
             WHERE id = $1",
            &[&id.parse::<Uuid>().unwrap()],
        )
        .await
        .unwrap();
    // The patient may not, another doctor cannot see it, a bad outcome names the field.
    env.call("appointments-attendance", mark(&patient_token, "attended"))
        .await
        .assert_problem(403, None);
    env.call(
        "appointments-attendance",
        mark(&other_doctor_token, "attended"),
    )
    .await
    .assert_problem(404, None);
    env.call("appointments-attendance", mark(&doctor_token, "late"))
        .await
        .assert_problem(400, Some("outcome"));

    let marked = env
        .call("appointments-attendance", mark(&doctor_token, "attended"))
        .await;
    assert_eq!(marked.status, 200, "{marked:?}");
    assert_eq!(marked.body["status"], "attended");
    assert!(marked.body["attendance_marked_at"].is_string());
    // Again: nothing new; the other outcome: refused; it can no longer be cancelled or moved.
    assert_eq!(
        env.call("appointments-attendance", mark(&admin_token, "attended"))
            .await
            .status,
        200
    );
    let twice = env
        .call("appointments-attendance", mark(&admin_token, "no_show"))
        .await;
    twice.assert_problem(409, None);
    assert_eq!(twice.body["type"], "/problems/already-marked");
    env.call(
        "appointments-cancel",
        aimed_at(
            "appointments-cancel/cancel-empty.json",
            &id,
            &patient_token,
            None,
        ),
    )
    .await
    .assert_problem(409, None);
    assert_eq!(outbox(&env, "AppointmentAttended").await.len(), 1);
    assert_eq!(outbox(&env, "AppointmentNoShow").await.len(), 0);

    // An attended appointment still holds the rest of its time.
    let mut next = Utc::now() + Duration::minutes(5);
    next = next.duration_trunc(Duration::minutes(5)).unwrap();
    env.call(
        "appointments-create",
        book(&other_token, doctor, next, "follow_up"),
    )
    .await
    .assert_problem(409, None);

    // An admin records a no-show on another started appointment.
    let second = env
        .call(
            "appointments-create",
            book(
                &other_token,
                doctor,
                start + Duration::days(1),
                "consultation",
            ),
        )
        .await;
    let second_id = second.body["appointment_id"].as_str().unwrap().to_owned();
    env.db
        .client()
        .await
        .execute(
            "UPDATE appointments SET start_time = now() - interval '2 hours', end_time = now() - interval '90 minutes' WHERE id = $1",
            &[&second_id.parse::<Uuid>().unwrap()],
        )
        .await
        .unwrap();
    let no_show = aimed_at(
        "appointments-attendance/no-show.json",
        &second_id,
        &admin_token,
        None,
    );
    let reply = env.call("appointments-attendance", no_show).await;
    assert_eq!(
        (reply.status, reply.body["status"].as_str()),
        (200, Some("no_show")),
        "{reply:?}"
    );
    let events = outbox(&env, "AppointmentNoShow").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["data"]["marked_by"], "admin");
}

#[tokio::test]
async fn cancellations_carry_a_reason_code() {
    let env = TestEnv::new().await;
    let (doctor, patient) = (Uuid::new_v4(), Uuid::new_v4());
    insert_user(&env.db, doctor, Role::Doctor).await;
    insert_user(&env.db, patient, Role::Patient).await;
    let token = env.token(patient, Role::Patient);
    let start = Utc.from_utc_datetime(&next_monday().and_hms_opt(9, 0, 0).unwrap());
    let mut ids = Vec::new();
    for i in 0..3 {
        let reply = env
            .call(
                "appointments-create",
                book(&token, doctor, start + Duration::hours(i), "consultation"),
            )
            .await;
        ids.push(reply.body["appointment_id"].as_str().unwrap().to_owned());
    }
    let cancel = |id: &str, body: Option<Value>| {
        aimed_at("appointments-cancel/cancel.json", id, &token, body.as_ref())
    };
    env.call(
        "appointments-cancel",
        cancel(&ids[0], Some(json!({"reason_code": "weather"}))),
    )
    .await
    .assert_problem(400, Some("reason_code"));
    let ill = env
        .call(
            "appointments-cancel",
            cancel(
                &ids[0],
                Some(json!({"reason": "flu", "reason_code": "illness"})),
            ),
        )
        .await;
    assert_eq!(
        (ill.status, ill.body["cancel_reason_code"].as_str()),
        (200, Some("illness")),
        "{ill:?}"
    );
    // The sample body says `patient`; no code at all is `other`.
    assert_eq!(
        env.call("appointments-cancel", cancel(&ids[1], None))
            .await
            .body["cancel_reason_code"],
        "patient"
    );
    let bare = aimed_at(
        "appointments-cancel/cancel-empty.json",
        &ids[2],
        &token,
        None,
    );
    assert_eq!(
        env.call("appointments-cancel", bare).await.body["cancel_reason_code"],
        "other"
    );
    let codes: Vec<String> = outbox(&env, "AppointmentCancelled")
        .await
        .iter()
        .map(|e| e["data"]["reason_code"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes, ["illness", "patient", "other"]);
}

/// A stored availability that no longer passes the checks (written by hand or by an old
/// migration) makes the doctor unbookable with a clear 409, never a 500, and stays out of
/// the slot search.
#[tokio::test]
async fn an_unreadable_stored_availability_refuses_bookings_clearly() {
    let env = TestEnv::new().await;
    let (doctor, patient) = (Uuid::new_v4(), Uuid::new_v4());
    insert_user(&env.db, doctor, Role::Doctor).await;
    insert_user(&env.db, patient, Role::Patient).await;
    env.db
        .client()
        .await
        .execute(
            "UPDATE doctor_availability SET document = jsonb_set(document, '{time_zone}', '\"Mars/Olympus\"')
             WHERE doctor_id = $1",
            &[&doctor],
        )
        .await
        .unwrap();
    let token = env.token(patient, Role::Patient);
    let start = (Utc::now() + Duration::days(2))
        .duration_trunc(Duration::hours(1))
        .unwrap();
    let refused = env
        .call(
            "appointments-create",
            book(&token, doctor, start, "consultation"),
        )
        .await;
    refused.assert_problem(409, None);
    assert!(
        refused.body["type"]
            .as_str()
            .unwrap()
            .ends_with("availability-invalid"),
        "{refused:?}"
    );
    let from = start.to_rfc3339_opts(SecondsFormat::Secs, true);
    let to = (start + Duration::days(1)).to_rfc3339_opts(SecondsFormat::Secs, true);
    env.call(
        "doctors-slots",
        slots_of(
            doctor,
            &token,
            &[("from", &from), ("to", &to), ("type", "consultation")],
        ),
    )
    .await
    .assert_problem(409, None);
}
