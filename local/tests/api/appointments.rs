//! appointments-* and outbox-relay on real PostgreSQL and a real Kafka-protocol broker.

use std::collections::HashSet;
use std::time::Duration;

use careflow::auth::Role;
use careflow::auth::token::AccessToken;
use careflow::events::{
    APPOINTMENTS_TOPIC, AppointmentCancelled, AppointmentCreated, AppointmentEvent, Envelope,
    decode_envelope,
};
use careflow::kafka::KafkaConfig;
use careflow::outbox::Publisher;
use chrono::{DateTime, Days, Duration as Span, TimeZone, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::*;

const PATIENT: &str = "11111111-1111-4111-8111-111111111111";
const DOCTOR: &str = "22222222-2222-4222-8222-222222222222";

/// A future start on the slot grid: `days` ahead at `hour:minute` UTC.
fn slot(days: u64, hour: u32, minute: u32) -> DateTime<Utc> {
    let day = Utc::now()
        .date_naive()
        .checked_add_days(Days::new(days))
        .unwrap();
    Utc.from_utc_datetime(&day.and_hms_opt(hour, minute, 0).unwrap())
}

struct Clinic {
    env: TestEnv,
    doctor: Uuid,
    patient_token: AccessToken,
    doctor_token: AccessToken,
    admin_token: AccessToken,
}

async fn clinic() -> Clinic {
    let env = TestEnv::new().await;
    let (patient, doctor) = (PATIENT.parse().unwrap(), DOCTOR.parse().unwrap());
    insert_user(&env.db, patient, Role::Patient).await;
    insert_user(&env.db, doctor, Role::Doctor).await;
    let admin = Uuid::new_v4();
    insert_user(&env.db, admin, Role::Admin).await;
    Clinic {
        patient_token: env.token(patient, Role::Patient),
        doctor_token: env.token(doctor, Role::Doctor),
        admin_token: env.token(admin, Role::Admin),
        env,
        doctor,
    }
}

/// The sample booking, at `start`, by `token`.
fn booking(token: &AccessToken, start: DateTime<Utc>) -> Value {
    let sample = event("appointments-create/create.json");
    let mut body = body_of(&sample);
    body["start_time"] = json!(start.to_rfc3339());
    let mut ev = with_token(with_body(sample, &body), token);
    ev["headers"]
        .as_object_mut()
        .unwrap()
        .remove("idempotency-key");
    ev
}

fn aimed(sample: &str, appointment: &str, token: &AccessToken) -> Value {
    let mut ev = event(sample);
    let old = ev["pathParameters"]["appointmentId"]
        .as_str()
        .unwrap()
        .to_owned();
    ev["pathParameters"]["appointmentId"] = json!(appointment);
    let raw = ev["rawPath"].as_str().unwrap().replace(&old, appointment);
    ev["rawPath"] = json!(raw);
    ev["requestContext"]["http"]["path"] = json!(raw);
    with_token(ev, token)
}

/// A producer aimed at a broker that is not there.
fn unreachable_broker() -> Publisher {
    Publisher::new(
        &KafkaConfig::plaintext("127.0.0.1:1"),
        Duration::from_millis(300),
    )
    .unwrap()
}

/// appointments-create publishing through `publisher`.
fn offline_booking(
    c: &Clinic,
    publisher: Publisher,
) -> std::sync::Arc<appointments_create::AppointmentsCreate> {
    std::sync::Arc::new(appointments_create::AppointmentsCreate::new(
        careflow::appointment::service::Appointments::with_publisher(
            c.env.db.pool.clone(),
            publisher,
        ),
        c.env.deps.verifier.clone(),
    ))
}

/// outbox-relay as deployed (default retention), publishing through `publisher`.
fn relay(c: &Clinic, publisher: Publisher) -> outbox_relay::OutboxRelay {
    outbox_relay::OutboxRelay::new(
        c.env.db.pool.clone(),
        publisher,
        Duration::from_secs(20),
        outbox_relay::Retention::default(),
    )
}

fn events_on_kafka(env: &TestEnv) -> Vec<(String, AppointmentEvent, Uuid)> {
    consume_all(&env.kafka.bootstrap_servers(), APPOINTMENTS_TOPIC)
        .into_iter()
        .map(|(key, value)| {
            let raw = decode_envelope(value.to_string().as_bytes()).unwrap();
            (
                key,
                AppointmentEvent::from_envelope(&raw).unwrap(),
                raw.event_id,
            )
        })
        .collect()
}

#[tokio::test]
async fn sample_events_book_get_list_and_cancel_with_events_on_kafka() {
    let c = clinic().await;
    let start = slot(2, 9, 30);
    let sample = event("appointments-create/create.json");
    let mut body = body_of(&sample);
    body["start_time"] = json!(start.to_rfc3339());
    let created = c
        .env
        .call(
            "appointments-create",
            with_token(with_body(sample, &body), &c.patient_token),
        )
        .await;
    assert_eq!(created.status, 201, "{created:?}");
    let id = created.body["appointment_id"].as_str().unwrap().to_owned();
    assert_eq!(created.body["patient_id"], PATIENT);
    assert_eq!(created.body["doctor_id"], DOCTOR);
    assert_eq!(created.body["status"], "scheduled");
    assert_eq!(
        created.body["end_time"]
            .as_str()
            .unwrap()
            .parse::<DateTime<Utc>>()
            .unwrap(),
        start + Span::minutes(30)
    );
    assert_eq!(
        created.header("location").unwrap(),
        format!("/appointments/{id}")
    );

    let got = c
        .env
        .call(
            "appointments-get",
            aimed("appointments-get/get.json", &id, &c.patient_token),
        )
        .await;
    assert_eq!((got.status, &got.body), (200, &created.body));

    let list = event("appointments-list/list.json");
    let z = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let (from, to) = (z(start - Span::hours(1)), z(start + Span::hours(1)));
    let list = with_token(
        with_query(list, &[("from", &from), ("to", &to), ("limit", "20")]),
        &c.doctor_token,
    );
    let schedule = c.env.call("appointments-list", list).await;
    assert_eq!(schedule.status, 200, "{schedule:?}");
    assert_eq!(schedule.body["items"][0]["appointment_id"], id.as_str());

    let cancelled = c
        .env
        .call(
            "appointments-cancel",
            aimed("appointments-cancel/cancel.json", &id, &c.patient_token),
        )
        .await;
    assert_eq!(cancelled.status, 200, "{cancelled:?}");
    assert_eq!(cancelled.body["status"], "cancelled");
    assert_eq!(
        cancelled.body["cancel_reason"],
        body_of(&event("appointments-cancel/cancel.json"))["reason"]
    );
    // Idempotent: again, with the empty-body sample, changes nothing and publishes nothing.
    let again = c
        .env
        .call(
            "appointments-cancel",
            aimed(
                "appointments-cancel/cancel-empty.json",
                &id,
                &c.doctor_token,
            ),
        )
        .await;
    assert_eq!((again.status, &again.body), (200, &cancelled.body));

    let events = events_on_kafka(&c.env);
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(
        events.iter().all(|(key, _, _)| key == DOCTOR),
        "keyed by doctor id"
    );
    match (&events[0].1, &events[1].1) {
        (AppointmentEvent::Created(created), AppointmentEvent::Cancelled(cancelled)) => {
            assert_eq!(created.appointment_id.to_string(), id);
            assert_eq!(created.duration_minutes, 30);
            assert_eq!(cancelled.cancelled_by, "patient");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        c.env
            .db
            .count("SELECT count(*) FROM outbox WHERE published_at IS NULL")
            .await,
        0
    );
}

#[tokio::test]
async fn fifty_concurrent_bookings_of_one_slot_have_one_winner() {
    let c = clinic().await;
    let start = slot(3, 10, 0);
    // 50 different patients race for the same doctor and slot.
    let mut tokens = Vec::new();
    for _ in 0..50 {
        let id = Uuid::new_v4();
        insert_user(&c.env.db, id, Role::Patient).await;
        tokens.push(c.env.token(id, Role::Patient));
    }
    let replies = futures::future::join_all(
        tokens
            .iter()
            .map(|t| c.env.call("appointments-create", booking(t, start))),
    )
    .await;
    let created = replies.iter().filter(|r| r.status == 201).count();
    assert_eq!(
        created,
        1,
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    for reply in replies.iter().filter(|r| r.status != 201) {
        reply.assert_problem(409, None);
        assert_eq!(reply.body["type"], "/problems/slot-taken");
    }
    assert_eq!(c.env.db.count("SELECT count(*) FROM appointments").await, 1);
    assert_eq!(c.env.db.count("SELECT count(*) FROM outbox").await, 1);
    assert_eq!(events_on_kafka(&c.env).len(), 1);

    // Overlap, not just equality: a booking straddling the taken slot is refused too, and the
    // same patient cannot be in two places at once.
    let overlapping = c
        .env
        .call(
            "appointments-create",
            booking(&tokens[0], start + Span::minutes(15)),
        )
        .await;
    assert_eq!(overlapping.status, 409);
    let cancelled_slot_is_free = c
        .env
        .call(
            "appointments-create",
            booking(&c.patient_token, start + Span::minutes(30)),
        )
        .await;
    assert_eq!(
        cancelled_slot_is_free.status, 201,
        "{cancelled_slot_is_free:?}"
    );
}

#[tokio::test]
async fn bookings_survive_a_kafka_outage_and_the_relay_publishes_each_event_once() {
    let c = clinic().await;
    // The functions' producer points at a broker that is not there.
    let handler = offline_booking(&c, unreachable_broker());
    let mut ids = HashSet::new();
    for i in 0..5 {
        let response = careflow::http::invoke(
            handler.clone(),
            booking(&c.patient_token, slot(4, 9, 0) + Span::hours(i)),
        )
        .await
        .unwrap();
        assert_eq!(response["statusCode"], 201, "{response}");
        let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
        ids.insert(
            body["appointment_id"]
                .as_str()
                .unwrap()
                .parse::<Uuid>()
                .unwrap(),
        );
    }
    assert_eq!(careflow::outbox::pending(&c.env.db.pool).await.unwrap(), 5);
    assert!(events_on_kafka(&c.env).is_empty());

    // The broker is back: the relay (as scheduled) publishes everything, once.
    let publisher = Publisher::new(
        &KafkaConfig::plaintext(c.env.kafka.bootstrap_servers()),
        Duration::from_secs(5),
    )
    .unwrap();
    let relay = relay(&c, publisher);
    let report = relay.run().await.unwrap();
    assert_eq!((report.published, report.pending), (5, 0));
    let again = relay.run().await.unwrap();
    assert_eq!((again.published, again.pending), (0, 0));

    let events = events_on_kafka(&c.env);
    assert_eq!(events.len(), 5);
    let event_ids: HashSet<Uuid> = events.iter().map(|(_, _, id)| *id).collect();
    assert_eq!(event_ids.len(), 5, "an event was published twice");
    let published: HashSet<Uuid> = events.iter().map(|(_, e, _)| e.appointment_id()).collect();
    assert_eq!(published, ids);
}

/// The relay deletes published events past their retention and expired Idempotency-Keys,
/// and nothing else: not a pending event however old, not a recent row, not an appointment.
#[tokio::test]
async fn the_relay_purges_what_has_expired_and_keeps_the_rest() {
    let c = clinic().await;
    for (hour, key) in [(9, "key-old"), (10, "key-recent"), (11, "key-third")] {
        let mut ev = booking(&c.patient_token, slot(7, hour, 0));
        ev["headers"]["idempotency-key"] = json!(key);
        assert_eq!(c.env.call("appointments-create", ev).await.status, 201);
    }
    // One more booking while Kafka is down: its event stays pending.
    let down = unreachable_broker();
    let offline = offline_booking(&c, down.clone());
    let reply = careflow::http::invoke(offline, booking(&c.patient_token, slot(7, 12, 0)))
        .await
        .unwrap();
    assert_eq!(reply["statusCode"], 201, "{reply}");
    let db = c.env.db.client().await;
    db.batch_execute(
        "UPDATE outbox SET published_at = now() - interval '8 days'
           WHERE seq IN (SELECT seq FROM outbox WHERE published_at IS NOT NULL ORDER BY seq LIMIT 2);
         UPDATE outbox SET created_at = now() - interval '30 days' WHERE published_at IS NULL;
         UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = 'key-old';
         UPDATE idempotency_keys SET created_at = now() - interval '23 hours' WHERE key = 'key-recent';
         INSERT INTO auth_throttle (subject, failures, blocked_until, updated_at) VALUES
             ('address:quiet', 3, NULL, now() - interval '2 days'),
             ('address:blocked', 40, now() + interval '10 minutes', now() - interval '2 days'),
             ('address:recent', 3, NULL, now() - interval '1 hour');
         INSERT INTO pending_registrations (token_hash, email, password_hash, full_name, expires_at) VALUES
             ('\\x01', 'old@example.com', 'x', 'Old', now() - interval '1 hour'),
             ('\\x02', 'new@example.com', 'x', 'New', now() + interval '1 hour');
         INSERT INTO notifications_sent (subject_id, kind, revision, outcome, sent_at) VALUES
             (gen_random_uuid(), 'booked', 1, 'sent', now() - interval '31 days'),
             (gen_random_uuid(), 'booked', 1, 'sent', now() - interval '29 days');
         INSERT INTO waitlist_entries (id, patient_id, doctor_id, appointment_type, range_from, range_to, status)
         SELECT gen_random_uuid(), patient_id, doctor_id, 'consultation', r.f, r.t, r.s
         FROM (SELECT patient_id, doctor_id FROM appointments LIMIT 1) a,
              (VALUES (now() - interval '40 days', now() - interval '31 days', 'waiting'),
                      (now() - interval '1 day', now() + interval '1 day', 'waiting')) AS r(f, t, s);",
    )
    .await
    .unwrap();

    // A run while Kafka is still down: nothing published, housekeeping still done.
    let relay = relay(&c, down);
    let report = relay.run().await.unwrap();
    assert_eq!(
        report,
        outbox_relay::RelayReport {
            published: 0,
            pending: 1,
            purged_events: 2,
            purged_idempotency_keys: 1,
            purged_throttle_entries: 1,
            purged_registrations: 1,
            purged_challenges: 0,
            purged_waitlist: 1,
            purged_notifications: 1,
        }
    );
    assert_eq!(
        c.env
            .db
            .count("SELECT count(*) FROM pending_registrations WHERE email = 'new@example.com'")
            .await,
        1,
        "a registration whose link still works is kept"
    );
    assert_eq!(
        c.env.db.count("SELECT count(*) FROM auth_throttle").await,
        2,
        "a blocked or recent subject is kept"
    );
    assert_eq!(
        c.env
            .db
            .count("SELECT count(*) FROM outbox WHERE published_at IS NULL")
            .await,
        1,
        "a pending event is never purged"
    );
    assert_eq!(c.env.db.count("SELECT count(*) FROM outbox").await, 2);
    let keys: Vec<String> = db
        .query("SELECT key FROM idempotency_keys ORDER BY key", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(keys, ["key-recent", "key-third"]);
    assert_eq!(c.env.db.count("SELECT count(*) FROM appointments").await, 4);
    assert_eq!(
        c.env
            .db
            .count(
                "SELECT count(*) FROM notifications_sent WHERE sent_at > now() - interval '30 days'"
            )
            .await,
        1,
        "a message record of the last month is kept"
    );
    assert_eq!(
        c.env
            .db
            .count("SELECT count(*) FROM waitlist_entries WHERE range_to > now()")
            .await,
        1,
        "a waiting entry whose range is ahead is kept"
    );
    // A kept key still replays its booking.
    let mut retry = booking(&c.patient_token, slot(7, 10, 0));
    retry["headers"]["idempotency-key"] = json!("key-recent");
    let replayed = c.env.call("appointments-create", retry).await;
    assert_eq!(replayed.status, 201, "{replayed:?}");
    assert_eq!(replayed.header("idempotent-replayed"), Some("true"));
    // A second run finds nothing more to delete.
    let again = relay.run().await.unwrap();
    assert_eq!(
        (
            again.purged_events,
            again.purged_idempotency_keys,
            again.purged_waitlist,
            again.purged_notifications
        ),
        (0, 0, 0, 0)
    );
}

#[tokio::test]
async fn a_rolled_back_booking_leaves_no_event() {
    let c = clinic().await;
    // Make the last statement of the booking transaction fail, after the outbox insert.
    c.env
        .db
        .client()
        .await
        .batch_execute(
            "CREATE FUNCTION fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected'; END $$;
             CREATE TRIGGER fail_idempotency BEFORE UPDATE ON idempotency_keys FOR EACH ROW EXECUTE FUNCTION fail();",
        )
        .await
        .unwrap();
    let mut ev = booking(&c.patient_token, slot(5, 11, 0));
    ev["headers"]["idempotency-key"] = json!("rollback-test-1");
    let reply = c.env.call("appointments-create", ev).await;
    reply.assert_problem(500, None);
    assert!(
        reply.body.get("detail").is_none(),
        "no internals in a 500: {reply:?}"
    );
    assert_eq!(c.env.db.count("SELECT count(*) FROM appointments").await, 0);
    assert_eq!(c.env.db.count("SELECT count(*) FROM outbox").await, 0);
    assert_eq!(
        c.env
            .db
            .count("SELECT count(*) FROM idempotency_keys")
            .await,
        0
    );
    assert!(events_on_kafka(&c.env).is_empty());
}

#[tokio::test]
async fn idempotency_key_returns_the_first_result() {
    let c = clinic().await;
    let mut ev = booking(&c.patient_token, slot(6, 14, 0));
    ev["headers"]["idempotency-key"] = json!("retry-me-1");
    let replies =
        futures::future::join_all((0..5).map(|_| c.env.call("appointments-create", ev.clone())))
            .await;
    let ids: HashSet<&str> = replies
        .iter()
        .map(|r| r.body["appointment_id"].as_str().unwrap())
        .collect();
    assert!(replies.iter().all(|r| r.status == 201), "{replies:?}");
    assert_eq!(ids.len(), 1, "retries booked twice");
    assert_eq!(
        replies
            .iter()
            .filter(|r| r.header("idempotent-replayed") == Some("true"))
            .count(),
        4
    );
    assert_eq!(c.env.db.count("SELECT count(*) FROM appointments").await, 1);
    assert_eq!(events_on_kafka(&c.env).len(), 1);

    // Same key, different request: refused.
    let mut other = booking(&c.patient_token, slot(6, 15, 0));
    other["headers"]["idempotency-key"] = json!("retry-me-1");
    c.env
        .call("appointments-create", other)
        .await
        .assert_problem(422, None);
    // Keys are per caller: another patient's identical key books independently.
    let someone = Uuid::new_v4();
    insert_user(&c.env.db, someone, Role::Patient).await;
    let mut theirs = booking(&c.env.token(someone, Role::Patient), slot(6, 16, 0));
    theirs["headers"]["idempotency-key"] = json!("retry-me-1");
    assert_eq!(c.env.call("appointments-create", theirs).await.status, 201);
}

#[tokio::test]
async fn booking_rules_name_their_field() {
    let c = clinic().await;
    let cases: Vec<(Value, u16, Option<&str>)> = vec![
        (
            json!({"start_time": (Utc::now() - Span::hours(1)).to_rfc3339()}),
            400,
            Some("start_time"),
        ),
        (
            json!({"start_time": (slot(2, 9, 0) + Span::minutes(3)).to_rfc3339()}),
            400,
            Some("start_time"),
        ),
        (
            json!({"appointment_type": "surgery"}),
            400,
            Some("appointment_type"),
        ),
        (json!({"doctor_id": PATIENT}), 400, Some("doctor_id")),
        (json!({"doctor_id": "nope"}), 400, Some("doctor_id")),
        (json!({"reason": "r".repeat(501)}), 400, Some("reason")),
        (json!({"patient_id": Uuid::new_v4().to_string()}), 403, None),
    ];
    for (patch, status, field) in cases {
        let mut ev = booking(&c.patient_token, slot(2, 9, 0));
        let mut body = body_of(&ev);
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        ev = with_body(ev, &body);
        c.env
            .call("appointments-create", ev)
            .await
            .assert_problem(status, field);
    }
    // Doctors do not book; admins book for a named patient.
    c.env
        .call(
            "appointments-create",
            booking(&c.doctor_token, slot(2, 9, 0)),
        )
        .await
        .assert_problem(403, None);
    c.env
        .call(
            "appointments-create",
            booking(&c.admin_token, slot(2, 9, 0)),
        )
        .await
        .assert_problem(400, Some("patient_id"));
    let by_admin = with_token(
        event("appointments-create/create-by-admin.json"),
        &c.admin_token,
    );
    let mut body = body_of(&by_admin);
    body["start_time"] = json!(slot(2, 9, 0).to_rfc3339());
    let reply = c
        .env
        .call("appointments-create", with_body(by_admin, &body))
        .await;
    assert_eq!(reply.status, 201, "{reply:?}");
    assert_eq!(reply.body["patient_id"], body["patient_id"]);
    assert_eq!(c.env.db.count("SELECT count(*) FROM appointments").await, 1);

    // The doctor's availability bounds bookings (Monday–Sunday 09:00–17:00 UTC, a slot every
    // 15 minutes here), set by the doctor through the API.
    let hours = json!({
        "time_zone": "UTC",
        "weekly_hours": (1..=7).map(|d| json!({"weekday": d, "start": "09:00", "end": "17:00"})).collect::<Vec<_>>(),
        "appointment_types": ["consultation", "follow_up"],
        "slot_interval_minutes": 15,
    });
    let mut put = with_token(event("doctors-availability/put.json"), &c.doctor_token);
    put["pathParameters"]["doctorId"] = json!(c.doctor.to_string());
    let reply = c
        .env
        .call("doctors-availability", with_body(put, &hours))
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    c.env
        .call(
            "appointments-create",
            booking(&c.patient_token, slot(3, 8, 0)),
        )
        .await
        .assert_problem(400, Some("start_time"));
    c.env
        .call(
            "appointments-create",
            booking(&c.patient_token, slot(3, 16, 45)),
        )
        .await
        .assert_problem(400, Some("start_time"));
    assert_eq!(
        c.env
            .call(
                "appointments-create",
                booking(&c.patient_token, slot(3, 16, 30))
            )
            .await
            .status,
        201
    );
}

#[tokio::test]
async fn who_sees_and_cancels_what() {
    let c = clinic().await;
    let created = c
        .env
        .call(
            "appointments-create",
            booking(&c.patient_token, slot(2, 9, 0)),
        )
        .await;
    let id = created.body["appointment_id"].as_str().unwrap().to_owned();
    let stranger = c.env.token(Uuid::new_v4(), Role::Patient);
    let other_doctor = c.env.token(Uuid::new_v4(), Role::Doctor);
    for token in [&stranger, &other_doctor] {
        c.env
            .call(
                "appointments-get",
                aimed("appointments-get/get.json", &id, token),
            )
            .await
            .assert_problem(404, None);
        c.env
            .call(
                "appointments-cancel",
                aimed("appointments-cancel/cancel.json", &id, token),
            )
            .await
            .assert_problem(404, None);
    }
    for token in [&c.patient_token, &c.doctor_token, &c.admin_token] {
        assert_eq!(
            c.env
                .call(
                    "appointments-get",
                    aimed("appointments-get/get.json", &id, token)
                )
                .await
                .status,
            200
        );
    }
    // Lists: a patient cannot look at others', a doctor at another doctor's schedule.
    let list = |token: &AccessToken, query: &[(&str, &str)]| {
        with_token(
            with_query(event("appointments-list/list.json"), query),
            token,
        )
    };
    let mine = c.env.call("appointments-list", list(&stranger, &[])).await;
    assert_eq!(mine.body["items"], json!([]));
    c.env
        .call(
            "appointments-list",
            list(&stranger, &[("patient_id", PATIENT)]),
        )
        .await
        .assert_problem(403, None);
    c.env
        .call(
            "appointments-list",
            list(&other_doctor, &[("doctor_id", DOCTOR)]),
        )
        .await
        .assert_problem(403, None);
    let all = c
        .env
        .call(
            "appointments-list",
            list(&c.admin_token, &[("doctor_id", DOCTOR)]),
        )
        .await;
    assert_eq!(all.body["items"][0]["appointment_id"], id.as_str());
    c.env
        .call(
            "appointments-list",
            list(&c.admin_token, &[("from", "yesterday")]),
        )
        .await
        .assert_problem(400, Some("from"));

    // Not after it started.
    c.env
        .db
        .client()
        .await
        .execute("UPDATE appointments SET start_time = now() - interval '10 minutes', end_time = now() + interval '20 minutes'", &[])
        .await
        .unwrap();
    let late = c
        .env
        .call(
            "appointments-cancel",
            aimed("appointments-cancel/cancel.json", &id, &c.patient_token),
        )
        .await;
    late.assert_problem(409, None);
    assert_eq!(late.body["type"], "/problems/already-started");
    assert_eq!(
        c.env
            .db
            .count("SELECT count(*) FROM appointments WHERE status = 'scheduled'")
            .await,
        1
    );
}

#[tokio::test]
async fn schedules_page_in_start_order() {
    let c = clinic().await;
    let mut expected = Vec::new();
    for i in 0..7 {
        let reply = c
            .env
            .call(
                "appointments-create",
                booking(
                    &c.patient_token,
                    slot(7, 9, 0) + Span::minutes(30 * (6 - i)),
                ),
            )
            .await;
        assert_eq!(reply.status, 201);
        expected.push((
            reply.body["start_time"].as_str().unwrap().to_owned(),
            reply.body["appointment_id"].as_str().unwrap().to_owned(),
        ));
    }
    expected.sort();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut query = vec![("limit", "3".to_owned())];
        if let Some(c) = &cursor {
            query.push(("cursor", c.clone()));
        }
        let query: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let page = c
            .env
            .call(
                "appointments-list",
                with_token(
                    with_query(event("appointments-list/list.json"), &query),
                    &c.doctor_token,
                ),
            )
            .await;
        assert_eq!(page.status, 200, "{page:?}");
        seen.extend(
            page.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["appointment_id"].as_str().unwrap().to_owned()),
        );
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(
        seen,
        expected.into_iter().map(|(_, id)| id).collect::<Vec<_>>()
    );
}

#[test]
fn kafka_message_examples_match_the_schemas() {
    let dir = repo_root().join("events").join(APPOINTMENTS_TOPIC);
    let created: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("AppointmentCreated.json")).unwrap(),
    )
    .unwrap();
    let typed: Envelope<AppointmentCreated> =
        serde_json::from_value(created["value"].clone()).unwrap();
    assert_eq!(serde_json::to_value(&typed).unwrap(), created["value"]);
    assert_eq!(created["key"], typed.data.doctor_id.to_string());
    let cancelled: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("AppointmentCancelled.json")).unwrap(),
    )
    .unwrap();
    let typed: Envelope<AppointmentCancelled> =
        serde_json::from_value(cancelled["value"].clone()).unwrap();
    assert_eq!(serde_json::to_value(&typed).unwrap(), cancelled["value"]);
    let rescheduled: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("AppointmentRescheduled.json")).unwrap(),
    )
    .unwrap();
    let typed: Envelope<careflow::events::AppointmentRescheduled> =
        serde_json::from_value(rescheduled["value"].clone()).unwrap();
    assert_eq!(serde_json::to_value(&typed).unwrap(), rescheduled["value"]);
    assert_eq!(rescheduled["key"], typed.data.doctor_id.to_string());
    let mut examples = vec![created, cancelled, rescheduled];
    for name in ["AppointmentAttended", "AppointmentNoShow"] {
        let example: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(example["value"]["type"], name);
        examples.push(example);
    }
    for example in &examples {
        let raw = decode_envelope(example["value"].to_string().as_bytes()).unwrap();
        AppointmentEvent::from_envelope(&raw).unwrap();
    }
}

#[tokio::test]
async fn concurrent_bookings_do_not_exhaust_a_small_pool() {
    // Lambda-sized pool (2), more callers than connections, different slots: all must book.
    // A booking that held its connection while publishing used to deadlock the pool.
    let c = clinic().await;
    let mut config = careflow::db::DbConfig::from_url(&c.env.db.url).unwrap();
    config.pool_size = 2;
    let pool = config.pool().unwrap();
    let publisher = Publisher::new(
        &KafkaConfig::plaintext(c.env.kafka.bootstrap_servers()),
        Duration::from_secs(5),
    )
    .unwrap();
    let handler = std::sync::Arc::new(appointments_create::AppointmentsCreate::new(
        careflow::appointment::service::Appointments::with_publisher(pool, publisher),
        c.env.deps.verifier.clone(),
    ));
    let mut tokens = Vec::new();
    for _ in 0..6 {
        let id = Uuid::new_v4();
        insert_user(&c.env.db, id, Role::Patient).await;
        tokens.push(c.env.token(id, Role::Patient));
    }
    let runs = tokens.iter().enumerate().map(|(i, t)| {
        careflow::http::invoke(
            handler.clone(),
            booking(t, slot(8, 9, 0) + Span::minutes(30 * i as i64)),
        )
    });
    let replies = futures::future::join_all(runs).await;
    for reply in replies {
        assert_eq!(reply.unwrap()["statusCode"], 201);
    }
    assert_eq!(events_on_kafka(&c.env).len(), 6);
}
