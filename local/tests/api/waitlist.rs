//! The waitlist (waitlist), confirmations and reminders (scheduling-events, with the runner's
//! scheduler), notification preferences (patients-notifications) and calendar files
//! (appointments-get `.ics`).

use careflow::appointment::notify::{Reminder, Timer};
use careflow::appointment::service::{Appointments, Booked};
use careflow::appointment::{AppointmentType, BookingRequest, CancelReason, RescheduleRequest};
use careflow::auth::token::AccessToken;
use careflow::auth::{Caller, Role};
use careflow_local::scheduler::LocalScheduler;
use chrono::{DateTime, Duration, DurationRound, Utc};
use scheduling_events::SchedulingEvents;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::*;

const ENTRY: &str = "55555555-5555-4555-8555-555555555555";
const OFFER: &str = "66666666-6666-4666-8666-666666666666";
const PATIENT: &str = "11111111-1111-4111-8111-111111111111";

/// A new account of `role` with an address of its own (SES's record is shared by every test).
async fn account(
    env: &TestEnv,
    name: &str,
    role: Role,
) -> (careflow::auth::accounts::User, String) {
    let email = unique_email(name);
    let user = env.user(&email, "a long passphrase", role).await;
    (user, email)
}

fn caller(user: &careflow::auth::accounts::User) -> Caller {
    Caller {
        user_id: user.user_id,
        role: user.role,
    }
}

/// A whole hour at least `days` ahead.
fn hour_ahead(days: i64) -> DateTime<Utc> {
    (Utc::now() + Duration::days(days))
        .duration_trunc(Duration::hours(1))
        .unwrap()
}

async fn book(
    appointments: &Appointments,
    patient: &Caller,
    doctor: Uuid,
    start: DateTime<Utc>,
) -> careflow::appointment::Appointment {
    let request = BookingRequest {
        doctor_id: doctor,
        start_time: start,
        appointment_type: AppointmentType::Consultation,
        reason: Some("chest pain".into()),
        patient_id: None,
    };
    match appointments.create(patient, &request, None).await.unwrap() {
        Booked::Created(a) => a,
        Booked::Replayed(_) => unreachable!(),
    }
}

/// `scheduling-events` as its `main` builds it, with this test's stage.
async fn scheduling(env: &TestEnv) -> SchedulingEvents {
    let vars = env
        .deps
        .aws
        .identities
        .vars("scheduling-events", &env.deps.local)
        .unwrap();
    SchedulingEvents::from_vars(vars).await.unwrap()
}

/// Delivers every outbox event after `seq` to `function` as one Kafka batch; answers the last
/// seq delivered.
async fn deliver_new(env: &TestEnv, function: &SchedulingEvents, seq: i64) -> i64 {
    let rows = env
        .db
        .client()
        .await
        .query(
            "SELECT seq, payload FROM outbox WHERE seq > $1 ORDER BY seq",
            &[&seq],
        )
        .await
        .unwrap();
    let values: Vec<Value> = rows.iter().map(|r| r.get("payload")).collect();
    let last = rows.last().map_or(seq, |r| r.get("seq"));
    let event = serde_json::from_value(kafka_event(&values, seq)).unwrap();
    let response = function.handle_kafka(event).await.unwrap();
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    last
}

fn subjects(mails: &[Value]) -> Vec<String> {
    let mut s: Vec<String> = mails
        .iter()
        .map(|m| m["subject"].as_str().unwrap().to_owned())
        .collect();
    s.sort();
    s
}

async fn schedule_expression(name: &str) -> Option<String> {
    let client = careflow_local::resources::scheduler_client().await;
    match client.get_schedule().name(name).send().await {
        Ok(s) => s.schedule_expression().map(str::to_owned),
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            None
        }
        Err(e) => panic!("GetSchedule {name}: {e:?}"),
    }
}

fn at(instant: DateTime<Utc>) -> String {
    format!("at({})", instant.format("%Y-%m-%dT%H:%M:%S"))
}

#[tokio::test]
async fn reminders_follow_the_appointment_and_every_message_goes_once() {
    let env = TestEnv::new().await;
    let function = scheduling(&env).await;
    let (patient, email) = account(&env, "remind", Role::Patient).await;
    let (doctor, _) = account(&env, "doc", Role::Doctor).await;
    let me = caller(&patient);
    let appointments = &env.deps.appointments;
    let (start_a, start_b) = (hour_ahead(3), hour_ahead(3) + Duration::hours(2));
    let a = book(appointments, &me, doctor.user_id, start_a).await;
    let b = book(appointments, &me, doctor.user_id, start_b).await;
    let seq = deliver_new(&env, &function, 0).await;
    // A second delivery of the same batch changes nothing.
    deliver_new(&env, &function, 0).await;

    let schedules = function.notifier().schedules();
    let name = |id: Uuid, r: Reminder| schedules.name(id, r);
    for (appointment, start) in [(&a, start_a), (&b, start_b)] {
        for reminder in Reminder::ALL {
            assert_eq!(
                schedule_expression(&name(appointment.appointment_id, reminder)).await,
                Some(at(start - reminder.lead())),
                "{reminder:?}"
            );
        }
    }

    // Moved: the reminders move with it. Cancelled: they are gone.
    let moved_to = start_a + Duration::days(1);
    appointments
        .reschedule(
            &me,
            a.appointment_id,
            &RescheduleRequest {
                start_time: moved_to,
            },
            None,
        )
        .await
        .unwrap();
    appointments
        .cancel(&me, b.appointment_id, None, Some(CancelReason::Illness))
        .await
        .unwrap();
    let seq2 = deliver_new(&env, &function, seq).await;
    deliver_new(&env, &function, seq).await;
    assert!(seq2 > seq);
    for reminder in Reminder::ALL {
        assert_eq!(
            schedule_expression(&name(a.appointment_id, reminder)).await,
            Some(at(moved_to - reminder.lead()))
        );
        assert_eq!(
            schedule_expression(&name(b.appointment_id, reminder)).await,
            None
        );
    }

    // The scheduler fires A's two reminders (a day and two hours before the new time) and
    // deletes them; firing again finds nothing; a reminder of the old revision sends nothing.
    let target = careflow_local::functions::build_timer_target(
        env.deps
            .aws
            .identities
            .vars("scheduling-events", &env.deps.local)
            .unwrap(),
    )
    .await
    .unwrap();
    let scheduler = LocalScheduler::new(
        careflow_local::resources::scheduler_client().await,
        &env.deps.aws.stage,
        [(
            format!("careflow-{}-scheduling-events", env.deps.aws.stage),
            target,
        )]
        .into(),
    );
    let fired = scheduler.fire_due(moved_to).await.unwrap();
    assert_eq!(fired.len(), 2, "{fired:?}");
    assert!(scheduler.fire_due(moved_to).await.unwrap().is_empty());
    let stale = function
        .fire(&Timer::Reminder {
            appointment_id: a.appointment_id,
            reminder: Reminder::DayBefore,
            revision: 1,
        })
        .await
        .unwrap();
    assert!(matches!(stale, scheduling_events::Answer::Timer { ref sent, .. } if sent.is_empty()));
    let again = fired[0].input.clone();
    let replay = function
        .fire(&serde_json::from_value(again).unwrap())
        .await
        .unwrap();
    assert!(matches!(replay, scheduling_events::Answer::Timer { ref sent, .. } if sent.is_empty()));

    // Each expected message exactly once; none for B after its cancellation.
    let sent = sent_messages(&email).await;
    assert_eq!(
        subjects(&sent),
        [
            "Reminder: your appointment today",
            "Reminder: your appointment tomorrow",
            "Your appointment has moved",
            "Your appointment is booked",
            "Your appointment is booked",
            "Your appointment is cancelled",
        ],
        "{sent:#?}"
    );
    for mail in &sent {
        let body = mail["body"].as_str().unwrap();
        assert!(
            !body.contains("chest")
                && !body.contains("consultation")
                && !body.contains("Test Person"),
            "no clinical detail or names: {body}"
        );
        let ics = &mail["attachments"][0];
        assert_eq!(ics["content_type"], "text/calendar", "{mail}");
        let text = ics["content"].as_str().unwrap();
        assert!(text.contains("BEGIN:VEVENT"), "{text}");
    }
    let moved = sent
        .iter()
        .find(|m| m["subject"] == "Your appointment has moved")
        .unwrap();
    let ics = moved["attachments"][0]["content"].as_str().unwrap();
    assert!(
        ics.contains(&format!("DTSTART:{}", moved_to.format("%Y%m%dT%H%M%SZ"))),
        "{ics}"
    );
    assert!(ics.contains("SEQUENCE:2"), "{ics}");
    let cancelled = sent
        .iter()
        .find(|m| m["subject"] == "Your appointment is cancelled")
        .unwrap();
    assert!(
        cancelled["attachments"][0]["content"]
            .as_str()
            .unwrap()
            .contains("METHOD:CANCEL")
    );
}

fn preferences_event(
    relative: &str,
    patient: Uuid,
    token: &AccessToken,
    body: Option<&Value>,
) -> Value {
    let text = event(relative)
        .to_string()
        .replace(PATIENT, &patient.to_string());
    let ev = with_token(serde_json::from_str(&text).unwrap(), token);
    match body {
        Some(body) => with_body(ev, body),
        None => ev,
    }
}

#[tokio::test]
async fn a_patient_who_opted_out_gets_no_mail_and_preferences_are_their_own() {
    let env = TestEnv::new().await;
    let function = scheduling(&env).await;
    let (patient, email) = account(&env, "optout", Role::Patient).await;
    let (other, _) = account(&env, "other", Role::Patient).await;
    let (doctor, _) = account(&env, "doc", Role::Doctor).await;
    let token = env.token_for(&patient);

    let read = env
        .call(
            "patients-notifications",
            preferences_event(
                "patients-notifications/get.json",
                patient.user_id,
                &token,
                None,
            ),
        )
        .await;
    assert_eq!(read.status, 200, "{read:?}");
    assert_eq!(read.body, json!({"email": true, "updated_at": null}));
    // Another patient and the doctor may not read or change them.
    for stranger in [env.token_for(&other), env.token_for(&doctor)] {
        env.call(
            "patients-notifications",
            preferences_event(
                "patients-notifications/put.json",
                patient.user_id,
                &stranger,
                None,
            ),
        )
        .await
        .assert_problem(403, None);
    }
    env.call(
        "patients-notifications",
        preferences_event(
            "patients-notifications/put.json",
            patient.user_id,
            &token,
            Some(&json!({"email": "no"})),
        ),
    )
    .await
    .assert_problem(400, Some("email"));
    let off = env
        .call(
            "patients-notifications",
            preferences_event(
                "patients-notifications/put.json",
                patient.user_id,
                &token,
                None,
            ),
        )
        .await;
    assert_eq!(off.status, 200, "{off:?}");
    assert_eq!(off.body["email"], false);

    book(
        &env.deps.appointments,
        &caller(&patient),
        doctor.user_id,
        hour_ahead(2),
    )
    .await;
    deliver_new(&env, &function, 0).await;
    assert!(sent_messages(&email).await.is_empty());
    assert_eq!(
        env.db
            .count("SELECT count(*) FROM notifications_sent WHERE kind = 'booked' AND outcome = 'skipped'")
            .await,
        1
    );
}

fn waitlist_call(
    relative: &str,
    token: &AccessToken,
    id: Option<Uuid>,
    body: Option<&Value>,
) -> Value {
    let mut text = event(relative).to_string();
    if let Some(id) = id {
        text = text
            .replace(ENTRY, &id.to_string())
            .replace(OFFER, &id.to_string());
    }
    let ev = with_token(serde_json::from_str(&text).unwrap(), token);
    match body {
        Some(body) => with_body(ev, body),
        None => ev,
    }
}

fn join_body(
    doctor: Option<Uuid>,
    specialty: Option<&str>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Value {
    let mut body = json!({"appointment_type": "consultation", "from": from.to_rfc3339(), "to": to.to_rfc3339()});
    if let Some(d) = doctor {
        body["doctor_id"] = json!(d);
    }
    if let Some(s) = specialty {
        body["specialty"] = json!(s);
    }
    body
}

/// Puts the token's patient on the waitlist of `doctor` (or of `specialty`) over `[from, to)`;
/// it must succeed. Answers the entry.
async fn join(
    env: &TestEnv,
    token: &AccessToken,
    doctor: Option<Uuid>,
    specialty: Option<&str>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Value {
    let sample = if doctor.is_some() {
        "waitlist/join.json"
    } else {
        "waitlist/join-specialty.json"
    };
    let body = join_body(doctor, specialty, from, to);
    let joined = env
        .call("waitlist", waitlist_call(sample, token, None, Some(&body)))
        .await;
    assert_eq!(joined.status, 201, "{joined:?}");
    joined.body
}

async fn offers(env: &TestEnv) -> Vec<(Uuid, Uuid, String)> {
    env.db
        .client()
        .await
        .query(
            "SELECT id, patient_id, status FROM waitlist_offers ORDER BY created_at",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

#[tokio::test]
async fn a_freed_time_is_held_for_one_waiting_patient_at_a_time() {
    let env = TestEnv::new().await;
    let function = scheduling(&env).await;
    let (doctor, _) = account(&env, "doc", Role::Doctor).await;
    let (booker, _) = account(&env, "booker", Role::Patient).await;
    let (first, first_email) = account(&env, "first", Role::Patient).await;
    let (second, second_email) = account(&env, "second", Role::Patient).await;
    let (first_token, second_token) = (env.token_for(&first), env.token_for(&second));
    let start = hour_ahead(3);
    let taken = book(
        &env.deps.appointments,
        &caller(&booker),
        doctor.user_id,
        start,
    )
    .await;

    // The first waits for this doctor, the second for the specialty (the doctor's).
    let (from, to) = (start - Duration::days(1), start + Duration::days(1));
    let joined = join(&env, &first_token, Some(doctor.user_id), None, from, to).await;
    assert_eq!(joined["status"], "waiting");
    join(&env, &second_token, None, Some("cardiology"), from, to).await;

    // The cancellation, delivered twice: one offer, to the first who joined.
    let seq = deliver_new(&env, &function, 0).await;
    env.deps
        .appointments
        .cancel(&caller(&booker), taken.appointment_id, None, None)
        .await
        .unwrap();
    deliver_new(&env, &function, seq).await;
    deliver_new(&env, &function, seq).await;
    let made = offers(&env).await;
    assert_eq!(made.len(), 1, "{made:?}");
    assert_eq!((made[0].1, made[0].2.as_str()), (first.user_id, "open"));
    let offer_mails: Vec<Value> = sent_messages(&first_email)
        .await
        .into_iter()
        .filter(|m| m["subject"] == "A time has become free for you")
        .collect();
    assert_eq!(offer_mails.len(), 1);
    assert!(
        offer_mails[0]["body"]
            .as_str()
            .unwrap()
            .contains("#/waitlist")
    );

    // The held time: nobody else can book it, and no slot search shows it.
    let request = BookingRequest {
        doctor_id: doctor.user_id,
        start_time: start,
        appointment_type: AppointmentType::FollowUp,
        reason: None,
        patient_id: None,
    };
    let refused = env
        .deps
        .appointments
        .create(&caller(&second), &request, None)
        .await
        .unwrap_err();
    assert_eq!(refused.problem().status, 409, "{refused:?}");
    let (_, free) = careflow::appointment::schedule::Schedules::new(env.db.pool.clone())
        .doctor_slots(
            doctor.user_id,
            AppointmentType::FollowUp,
            start - Duration::hours(1),
            start + Duration::hours(1),
        )
        .await
        .unwrap();
    assert!(
        free.iter()
            .all(|s| s.end_time <= start || s.start_time >= start + Duration::minutes(30)),
        "{free:?}"
    );
    let listed = env
        .call(
            "waitlist",
            waitlist_call("waitlist/list.json", &first_token, None, None),
        )
        .await;
    assert_eq!(listed.status, 200, "{listed:?}");
    assert_eq!(listed.body["items"][0]["status"], "offered");
    assert_eq!(
        listed.body["items"][0]["offer"]["offer_id"],
        json!(made[0].0)
    );

    // The hold runs out: the sweep passes the time to the second patient, once.
    env.db
        .client()
        .await
        .execute(
            "UPDATE waitlist_offers SET expires_at = now() - interval '1 second' WHERE status = 'open'",
            &[],
        )
        .await
        .unwrap();
    function.fire(&Timer::WaitlistSweep).await.unwrap();
    function.fire(&Timer::WaitlistSweep).await.unwrap();
    let made = offers(&env).await;
    assert_eq!(
        made.iter().map(|o| (o.1, o.2.as_str())).collect::<Vec<_>>(),
        [(first.user_id, "expired"), (second.user_id, "open")]
    );
    assert_eq!(
        sent_messages(&second_email)
            .await
            .iter()
            .filter(|m| m["subject"] == "A time has become free for you")
            .count(),
        1
    );
    // Too late for the first; the second books it, once.
    env.call(
        "waitlist",
        waitlist_call("waitlist/accept.json", &first_token, Some(made[0].0), None),
    )
    .await
    .assert_problem(409, None);
    env.call(
        "waitlist",
        waitlist_call("waitlist/accept.json", &first_token, Some(made[1].0), None),
    )
    .await
    .assert_problem(404, None);
    let accepted = env
        .call(
            "waitlist",
            waitlist_call("waitlist/accept.json", &second_token, Some(made[1].0), None),
        )
        .await;
    assert_eq!(accepted.status, 201, "{accepted:?}");
    assert_eq!(accepted.body["patient_id"], json!(second.user_id));
    assert_eq!(
        accepted.body["start_time"]
            .as_str()
            .unwrap()
            .parse::<DateTime<Utc>>()
            .unwrap(),
        start
    );
    // A retried accept answers the same appointment; nothing more is booked.
    let again = env
        .call(
            "waitlist",
            waitlist_call("waitlist/accept.json", &second_token, Some(made[1].0), None),
        )
        .await;
    assert_eq!(again.status, 201, "{again:?}");
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(
        again.body["appointment_id"],
        accepted.body["appointment_id"]
    );
    assert_eq!(
        env.db
            .count("SELECT count(*) FROM waitlist_entries WHERE status = 'booked'")
            .await,
        1
    );
}

#[tokio::test]
async fn waitlist_requests_are_checked_and_entries_are_the_patients_own() {
    let env = TestEnv::new().await;
    let (doctor, _) = account(&env, "doc", Role::Doctor).await;
    let (patient, _) = account(&env, "pat", Role::Patient).await;
    let (other, _) = account(&env, "other", Role::Patient).await;
    let (token, other_token) = (env.token_for(&patient), env.token_for(&other));
    let (from, to) = (hour_ahead(1), hour_ahead(5));
    for (body, field) in [
        (
            join_body(Some(doctor.user_id), Some("Cardiology"), from, to),
            "doctor_id",
        ),
        (join_body(None, None, from, to), "doctor_id"),
        (join_body(Some(doctor.user_id), None, to, from), "to"),
        (
            join_body(Some(doctor.user_id), None, from, from + Duration::days(200)),
            "to",
        ),
        (
            join_body(Some(patient.user_id), None, from, to),
            "doctor_id",
        ),
    ] {
        env.call(
            "waitlist",
            waitlist_call("waitlist/join.json", &token, None, Some(&body)),
        )
        .await
        .assert_problem(400, Some(field));
    }
    let joined = join(&env, &token, Some(doctor.user_id), None, from, to).await;
    let entry: Uuid = joined["entry_id"].as_str().unwrap().parse().unwrap();
    // Someone else's entry is not found; a doctor does not list the waitlist.
    env.call(
        "waitlist",
        waitlist_call("waitlist/leave.json", &other_token, Some(entry), None),
    )
    .await
    .assert_problem(404, None);
    env.call(
        "waitlist",
        waitlist_call("waitlist/list.json", &env.token_for(&doctor), None, None),
    )
    .await
    .assert_problem(403, None);
    let theirs = env
        .call(
            "waitlist",
            waitlist_call("waitlist/list.json", &other_token, None, None),
        )
        .await;
    assert_eq!(theirs.body["items"], json!([]));
    let left = env
        .call(
            "waitlist",
            waitlist_call("waitlist/leave.json", &token, Some(entry), None),
        )
        .await;
    assert_eq!(left.status, 204, "{left:?}");
    let mine = env
        .call(
            "waitlist",
            waitlist_call("waitlist/list.json", &token, None, None),
        )
        .await;
    assert_eq!(mine.body["items"][0]["status"], "left");
}

#[tokio::test]
async fn an_appointment_downloads_as_a_calendar_file_for_those_who_may_see_it() {
    let env = TestEnv::new().await;
    let (doctor, _) = account(&env, "doc", Role::Doctor).await;
    let (patient, _) = account(&env, "pat", Role::Patient).await;
    let (other, _) = account(&env, "other", Role::Patient).await;
    let start = hour_ahead(2);
    let booked = book(
        &env.deps.appointments,
        &caller(&patient),
        doctor.user_id,
        start,
    )
    .await;
    let id = booked.appointment_id.to_string();
    let ics_event = |token: &AccessToken| {
        let text = event("appointments-get/ics.json")
            .to_string()
            .replace("44444444-4444-4444-8444-444444444444", &id);
        with_token(serde_json::from_str(&text).unwrap(), token)
    };
    let f = env
        .raw_call("appointments-get", ics_event(&env.token_for(&patient)))
        .await;
    assert_eq!(f["statusCode"], 200, "{f}");
    assert_eq!(f["headers"]["content-type"], "text/calendar; charset=utf-8");
    let text = f["body"].as_str().unwrap();
    assert!(
        text.contains(&format!("DTSTART:{}", start.format("%Y%m%dT%H%M%SZ"))),
        "{text}"
    );
    assert!(text.contains(&format!("UID:{id}@careflow")), "{text}");
    assert!(!text.contains("chest"), "{text}");
    let hidden = env
        .call("appointments-get", ics_event(&env.token_for(&other)))
        .await;
    hidden.assert_problem(404, None);
}

#[tokio::test]
async fn declining_or_leaving_passes_the_time_on_and_a_move_frees_its_old_time() {
    let env = TestEnv::new().await;
    let function = scheduling(&env).await;
    let (doctor, _) = account(&env, "doc", Role::Doctor).await;
    let (booker, _) = account(&env, "booker", Role::Patient).await;
    let start = hour_ahead(4);
    let moving = book(
        &env.deps.appointments,
        &caller(&booker),
        doctor.user_id,
        start,
    )
    .await;
    let seq = deliver_new(&env, &function, 0).await;
    let mut waiting = Vec::new();
    for name in ["w1", "w2", "w3"] {
        let (user, email) = account(&env, name, Role::Patient).await;
        let token = env.token_for(&user);
        let (from, to) = (start - Duration::hours(1), start + Duration::hours(1));
        let joined = join(&env, &token, Some(doctor.user_id), None, from, to).await;
        let entry: Uuid = joined["entry_id"].as_str().unwrap().parse().unwrap();
        waiting.push((user, token, email, entry));
    }

    // A move frees its old time: offered to the first.
    env.deps
        .appointments
        .reschedule(
            &caller(&booker),
            moving.appointment_id,
            &RescheduleRequest {
                start_time: start + Duration::days(1),
            },
            None,
        )
        .await
        .unwrap();
    deliver_new(&env, &function, seq).await;
    let made = offers(&env).await;
    assert_eq!(made.len(), 1, "{made:?}");
    assert_eq!(made[0].1, waiting[0].0.user_id);

    // The first declines: the second is offered it at once, and mailed by the next sweep.
    let declined = env
        .call(
            "waitlist",
            waitlist_call(
                "waitlist/decline.json",
                &waiting[0].1,
                Some(made[0].0),
                None,
            ),
        )
        .await;
    assert_eq!(declined.status, 204, "{declined:?}");
    let made = offers(&env).await;
    assert_eq!(
        made.iter().map(|o| (o.1, o.2.as_str())).collect::<Vec<_>>(),
        [
            (waiting[0].0.user_id, "declined"),
            (waiting[1].0.user_id, "open")
        ]
    );
    function.fire(&Timer::WaitlistSweep).await.unwrap();
    function.fire(&Timer::WaitlistSweep).await.unwrap();
    assert_eq!(
        sent_messages(&waiting[1].2)
            .await
            .iter()
            .filter(|m| m["subject"] == "A time has become free for you")
            .count(),
        1
    );

    // The second leaves the list: the offer is withdrawn and goes to the third.
    let left = env
        .call(
            "waitlist",
            waitlist_call(
                "waitlist/leave.json",
                &waiting[1].1,
                Some(waiting[1].3),
                None,
            ),
        )
        .await;
    assert_eq!(left.status, 204, "{left:?}");
    let made = offers(&env).await;
    assert_eq!(
        made.iter().map(|o| o.2.as_str()).collect::<Vec<_>>(),
        ["declined", "withdrawn", "open"]
    );
    assert_eq!(made[2].1, waiting[2].0.user_id);

    // The third declines too: nobody is left, and the time is free for anyone again.
    env.call(
        "waitlist",
        waitlist_call(
            "waitlist/decline.json",
            &waiting[2].1,
            Some(made[2].0),
            None,
        ),
    )
    .await;
    assert_eq!(offers(&env).await.len(), 3);
    let (_, free) = careflow::appointment::schedule::Schedules::new(env.db.pool.clone())
        .doctor_slots(
            doctor.user_id,
            AppointmentType::Consultation,
            start,
            start + Duration::minutes(30),
        )
        .await
        .unwrap();
    assert_eq!(free.first().map(|s| s.start_time), Some(start), "{free:?}");
    // The first, who declined, is waiting again for other times.
    assert_eq!(
        env.db
            .count("SELECT count(*) FROM waitlist_entries WHERE status = 'waiting'")
            .await,
        2
    );
}

#[tokio::test]
async fn offers_skip_patients_who_cannot_hear_of_them_and_end_at_the_doctors_notice() {
    let env = TestEnv::new().await;
    let function = scheduling(&env).await;
    let (doctor, _) = account(&env, "doc", Role::Doctor).await;
    // Bookable up to an hour before the start.
    env.db
        .client()
        .await
        .execute(
            "UPDATE doctor_availability
             SET document = jsonb_set(document, '{minimum_notice_minutes}', '60') WHERE doctor_id = $1",
            &[&doctor.user_id],
        )
        .await
        .unwrap();
    let (booker, _) = account(&env, "booker", Role::Patient).await;
    let (silent, _) = account(&env, "silent", Role::Patient).await;
    let (listening, _) = account(&env, "listening", Role::Patient).await;
    // 70 minutes ahead, on the 5-minute grid.
    let start = (Utc::now() + Duration::minutes(75))
        .duration_trunc(Duration::minutes(5))
        .unwrap();
    let taken = book(
        &env.deps.appointments,
        &caller(&booker),
        doctor.user_id,
        start,
    )
    .await;
    for (who, email) in [(&silent, false), (&listening, true)] {
        let token = env.token_for(who);
        let (from, to) = (start - Duration::hours(1), start + Duration::hours(1));
        join(&env, &token, Some(doctor.user_id), None, from, to).await;
        let set = env
            .call(
                "patients-notifications",
                preferences_event(
                    "patients-notifications/put.json",
                    who.user_id,
                    &token,
                    Some(&json!({ "email": email })),
                ),
            )
            .await;
        assert_eq!(set.status, 200, "{set:?}");
    }
    let seq = deliver_new(&env, &function, 0).await;
    env.deps
        .appointments
        .cancel(&caller(&booker), taken.appointment_id, None, None)
        .await
        .unwrap();
    deliver_new(&env, &function, seq).await;
    // The first in line turned e-mail off: the one who would hear of it gets the offer, held
    // only until the doctor's notice begins (not the full 15 minutes).
    let made = offers(&env).await;
    assert_eq!(made.len(), 1, "{made:?}");
    assert_eq!(made[0].1, listening.user_id);
    let expires: DateTime<Utc> = env
        .db
        .client()
        .await
        .query_one("SELECT expires_at FROM waitlist_offers", &[])
        .await
        .unwrap()
        .get(0);
    assert!(
        expires <= start - Duration::minutes(60),
        "{expires} vs {start}"
    );
    assert!(expires > Utc::now());
}

/// Accepting and declining one offer at once (a double click, the patient and an admin): one
/// wins, the other gets a clear answer, never a 500 (both take the doctor's lock first).
#[tokio::test]
async fn accepting_and_declining_one_offer_at_once_never_fails_the_server() {
    let env = TestEnv::new().await;
    let function = scheduling(&env).await;
    let (doctor, _) = account(&env, "doc", Role::Doctor).await;
    let (booker, _) = account(&env, "booker", Role::Patient).await;
    let (waiting, _) = account(&env, "waiting", Role::Patient).await;
    let token = env.token_for(&waiting);
    let start = hour_ahead(5);
    for round in 0..5 {
        let at = start + Duration::hours(round);
        let taken = book(&env.deps.appointments, &caller(&booker), doctor.user_id, at).await;
        join(
            &env,
            &token,
            Some(doctor.user_id),
            None,
            at,
            at + Duration::hours(1),
        )
        .await;
        let seq: i64 = env
            .db
            .client()
            .await
            .query_one("SELECT coalesce(max(seq), 0) FROM outbox", &[])
            .await
            .unwrap()
            .get(0);
        env.deps
            .appointments
            .cancel(&caller(&booker), taken.appointment_id, None, None)
            .await
            .unwrap();
        deliver_new(&env, &function, seq).await;
        let offer = offers(&env)
            .await
            .into_iter()
            .find(|o| o.2 == "open")
            .expect("an open offer");
        let (accepted, declined) = tokio::join!(
            env.call(
                "waitlist",
                waitlist_call("waitlist/accept.json", &token, Some(offer.0), None)
            ),
            env.call(
                "waitlist",
                waitlist_call("waitlist/decline.json", &token, Some(offer.0), None)
            ),
        );
        assert!(matches!(accepted.status, 201 | 409), "{accepted:?}");
        assert_eq!(declined.status, 204, "{declined:?}");
        let status: String = env
            .db
            .client()
            .await
            .query_one(
                "SELECT status FROM waitlist_offers WHERE id = $1",
                &[&offer.0],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(
            status,
            if accepted.status == 201 {
                "accepted"
            } else {
                "declined"
            }
        );
    }
}
