//! billing-consumer (Kafka events in AWS's shape) and invoices-* on real PostgreSQL.

use std::collections::HashSet;

use billing_consumer::BillingConsumer;
use careflow::auth::Role;
use careflow::billing::service::Billing;
use careflow::events::{AppointmentCancelled, AppointmentCreated, EventPayload};
use chrono::{Datelike, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::*;

fn consumer(env: &TestEnv) -> BillingConsumer {
    BillingConsumer::new(env.deps.billing.clone(), true)
}

async fn deliver(consumer: &BillingConsumer, event: &Value) -> Value {
    let event = serde_json::from_value(event.clone()).unwrap();
    serde_json::to_value(consumer.handle(event).await.unwrap()).unwrap()
}

fn created(appointment: Uuid, kind: &str, minutes: u32) -> Value {
    let start = Utc::now() + chrono::Duration::days(2);
    let e = AppointmentCreated {
        appointment_id: appointment,
        patient_id: Uuid::new_v4(),
        doctor_id: Uuid::new_v4(),
        appointment_type: kind.into(),
        start_time: start,
        end_time: start + chrono::Duration::minutes(minutes.into()),
        duration_minutes: minutes,
    };
    serde_json::to_value(e.envelope(Utc::now())).unwrap()
}

fn cancelled(of: &Value) -> Value {
    let d = &of["data"];
    let e = AppointmentCancelled {
        appointment_id: d["appointment_id"].as_str().unwrap().parse().unwrap(),
        patient_id: d["patient_id"].as_str().unwrap().parse().unwrap(),
        doctor_id: d["doctor_id"].as_str().unwrap().parse().unwrap(),
        appointment_type: d["appointment_type"].as_str().unwrap().into(),
        start_time: d["start_time"].as_str().unwrap().parse().unwrap(),
        end_time: d["end_time"].as_str().unwrap().parse().unwrap(),
        duration_minutes: d["duration_minutes"].as_u64().unwrap() as u32,
        cancelled_by: "patient".into(),
        // As events from before reason codes carried them: none.
        reason_code: None,
    };
    serde_json::to_value(e.envelope(Utc::now())).unwrap()
}

async fn invoices(env: &TestEnv) -> Vec<(String, String, i64, String)> {
    env.db
        .client()
        .await
        .query(
            "SELECT number, status, amount_due, appointment_id::text FROM invoices ORDER BY number",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect()
}

#[tokio::test]
async fn the_same_batch_three_times_gives_one_invoice_per_appointment() {
    let env = TestEnv::new().await;
    let c = consumer(&env);
    let batch = event("billing-consumer/batch.json");
    for _ in 0..3 {
        let response = deliver(&c, &batch).await;
        assert_eq!(response["batchItemFailures"], json!([]), "{response}");
    }
    let year = Utc::now().year();
    let rows = invoices(&env).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    // Totals from the fee schedule: consultation/30 = 12000, follow_up/15 = 6000 (no tax).
    let mut amounts: Vec<i64> = rows.iter().map(|r| r.2).collect();
    amounts.sort();
    assert_eq!(amounts, vec![6000, 12000]);
    assert_eq!(rows[0].0, format!("INV-{year}-000001"));
    assert_eq!(rows[1].0, format!("INV-{year}-000002"));
    assert!(rows.iter().all(|r| r.1 == "open"));
    let records: usize = batch["records"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_array().unwrap().len())
        .sum();
    assert_eq!(
        env.db.count("SELECT count(*) FROM processed_events").await,
        records as i64
    );
    assert_eq!(
        env.db
            .count("SELECT count(*) FROM cancelled_appointments")
            .await,
        1
    );
}

#[tokio::test]
async fn poison_records_are_stored_and_the_rest_are_invoiced() {
    let env = TestEnv::new().await;
    let c = consumer(&env);
    let batch = event("billing-consumer/batch-with-poison.json");
    for _ in 0..2 {
        let response = deliver(&c, &batch).await;
        assert_eq!(
            response["batchItemFailures"],
            json!([]),
            "poison must not block: {response}"
        );
    }
    assert_eq!(invoices(&env).await.len(), 2);
    let failed = env
        .db
        .client()
        .await
        .query(
            "SELECT reason, payload FROM failed_events ORDER BY \"offset\"",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(failed.len(), 2, "stored once each despite redelivery");
    let reasons: Vec<String> = failed.iter().map(|r| r.get(0)).collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("unknown event type AppointmentTeleported")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("not a CareFlow event envelope")),
        "{reasons:?}"
    );
    let raw: Vec<Vec<u8>> = failed.iter().map(|r| r.get(1)).collect();
    assert!(
        raw.iter().any(|p| p == b"not json at all"),
        "raw payload kept"
    );

    // Valid JSON that fails validation (no fee for 45 minutes) is poison too, and takes no number.
    let odd = created(Uuid::new_v4(), "consultation", 45);
    deliver(&c, &kafka_event(&[odd], 100)).await;
    assert_eq!(env.db.count("SELECT count(*) FROM failed_events").await, 3);
    assert_eq!(
        env.db
            .count("SELECT coalesce(max(last_number), 0) FROM invoice_numbers")
            .await,
        2
    );
}

#[tokio::test]
async fn cancellations_void_open_invoices_in_any_order_but_never_paid_ones() {
    let env = TestEnv::new().await;
    let c = consumer(&env);
    // Cancel arrives before its create: no open invoice, ever.
    let early = created(Uuid::new_v4(), "consultation", 30);
    deliver(&c, &kafka_event(&[cancelled(&early), early.clone()], 0)).await;
    assert!(invoices(&env).await.is_empty());

    // Create then cancel: void.
    let normal = created(Uuid::new_v4(), "follow_up", 15);
    deliver(&c, &kafka_event(&[normal.clone(), cancelled(&normal)], 10)).await;
    let rows = invoices(&env).await;
    assert_eq!(
        rows.iter().map(|r| r.1.as_str()).collect::<Vec<_>>(),
        ["void"]
    );

    // Paid, then cancelled: stays paid.
    let paid = created(Uuid::new_v4(), "lab_review", 20);
    deliver(&c, &kafka_event(std::slice::from_ref(&paid), 20)).await;
    let admin = careflow::auth::Caller {
        user_id: Uuid::new_v4(),
        role: Role::Admin,
    };
    let id: Uuid = env
        .db
        .client()
        .await
        .query_one("SELECT id FROM invoices WHERE status = 'open'", &[])
        .await
        .unwrap()
        .get(0);
    env.deps
        .billing
        .pay(&admin, id, Some("card ref 1"))
        .await
        .unwrap();
    deliver(&c, &kafka_event(&[cancelled(&paid)], 30)).await;
    let status: String = env
        .db
        .client()
        .await
        .query_one("SELECT status FROM invoices WHERE id = $1", &[&id])
        .await
        .unwrap()
        .get(0);
    assert_eq!(status, "paid");
}

#[tokio::test]
async fn a_database_outage_fails_records_for_retry_and_stores_nothing() {
    let env = TestEnv::new().await;
    let down = careflow::db::DbConfig::from_url("postgres://postgres@127.0.0.1:1/none")
        .unwrap()
        .pool()
        .unwrap();
    let batch = event("billing-consumer/batch.json");
    let partial = BillingConsumer::new(Billing::new(down.clone(), Default::default()), true);
    let response = deliver(&partial, &batch).await;
    // Each partition resumes at its first record.
    let mut expected: Vec<Value> = batch["records"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            let first = v
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["offset"].as_i64().unwrap())
                .min()
                .unwrap();
            json!({"itemIdentifier": {"partition": k, "offset": first}})
        })
        .collect();
    expected.sort_by_key(|v| v.to_string());
    let mut got = response["batchItemFailures"].as_array().unwrap().clone();
    got.sort_by_key(|v| v.to_string());
    assert_eq!(got, expected);
    // Without partial batch responses the invocation fails as a whole.
    let whole = BillingConsumer::new(Billing::new(down, Default::default()), false);
    let err = whole
        .handle(serde_json::from_value(batch.clone()).unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.status(), 503);
    // Later, with the database back, the retried batch is applied once.
    deliver(&consumer(&env), &batch).await;
    assert_eq!(invoices(&env).await.len(), 2);
}

#[tokio::test]
async fn invoice_numbers_stay_gap_free_under_concurrency() {
    let env = TestEnv::new().await;
    let c = std::sync::Arc::new(consumer(&env));
    let events: Vec<Value> = (0..20)
        .map(|i| {
            created(
                Uuid::new_v4(),
                if i % 2 == 0 {
                    "consultation"
                } else {
                    "follow_up"
                },
                if i % 2 == 0 { 30 } else { 15 },
            )
        })
        .collect();
    // Twenty one-record batches at once, as parallel pollers would deliver them.
    let runs = events.iter().enumerate().map(|(i, e)| {
        let c = c.clone();
        let ev = kafka_event(std::slice::from_ref(e), i as i64);
        async move { deliver(&c, &ev).await }
    });
    futures::future::join_all(runs).await;
    let year = Utc::now().year();
    let numbers: HashSet<String> = invoices(&env).await.into_iter().map(|r| r.0).collect();
    let expected: HashSet<String> = (1..=20).map(|n| format!("INV-{year}-{n:06}")).collect();
    assert_eq!(numbers, expected);
}

#[tokio::test]
async fn invoice_endpoints_by_role() {
    let env = TestEnv::new().await;
    let c = consumer(&env);
    let e = created(Uuid::new_v4(), "consultation", 30);
    deliver(&c, &kafka_event(std::slice::from_ref(&e), 0)).await;
    let invoice_id: String = env
        .db
        .client()
        .await
        .query_one("SELECT id::text FROM invoices", &[])
        .await
        .unwrap()
        .get(0);
    let patient = env.token(
        e["data"]["patient_id"].as_str().unwrap().parse().unwrap(),
        Role::Patient,
    );
    let doctor = env.token(
        e["data"]["doctor_id"].as_str().unwrap().parse().unwrap(),
        Role::Doctor,
    );
    let admin = env.token(Uuid::new_v4(), Role::Admin);
    let stranger = env.token(Uuid::new_v4(), Role::Patient);
    let other_doctor = env.token(Uuid::new_v4(), Role::Doctor);

    let aimed = |sample: &str, token| {
        let mut ev = event(sample);
        let old = ev["pathParameters"]["invoiceId"]
            .as_str()
            .unwrap()
            .to_owned();
        ev["pathParameters"]["invoiceId"] = json!(invoice_id);
        let raw = ev["rawPath"].as_str().unwrap().replace(&old, &invoice_id);
        ev["rawPath"] = json!(raw);
        with_token(ev, token)
    };
    for token in [&patient, &doctor, &admin] {
        let reply = env
            .call("invoices-get", aimed("invoices-get/get.json", token))
            .await;
        assert_eq!(reply.status, 200, "{reply:?}");
        assert_eq!(reply.body["amount_due"], 12000);
        assert_eq!(reply.body["currency"], "USD");
        assert_eq!(reply.body["line_items"][0]["unit_amount"], 12000);
    }
    for token in [&stranger, &other_doctor] {
        env.call("invoices-get", aimed("invoices-get/get.json", token))
            .await
            .assert_problem(404, None);
    }
    let list = |token| {
        with_token(
            with_query(event("invoices-list/list.json"), &[("status", "open")]),
            token,
        )
    };
    assert_eq!(
        env.call("invoices-list", list(&patient)).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        env.call("invoices-list", list(&stranger)).await.body["items"],
        json!([])
    );
    assert_eq!(
        env.call("invoices-list", list(&other_doctor)).await.body["items"],
        json!([])
    );
    assert_eq!(
        env.call("invoices-list", list(&admin)).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let bad = with_token(
        with_query(event("invoices-list/list.json"), &[("status", "overdue")]),
        &admin,
    );
    env.call("invoices-list", bad)
        .await
        .assert_problem(400, Some("status"));

    // Only admins pay; paying twice changes nothing; a void invoice cannot be paid.
    env.call("invoices-pay", aimed("invoices-pay/pay.json", &patient))
        .await
        .assert_problem(403, None);
    let paid = env
        .call("invoices-pay", aimed("invoices-pay/pay.json", &admin))
        .await;
    assert_eq!(
        (paid.status, paid.body["status"].as_str()),
        (200, Some("paid")),
        "{paid:?}"
    );
    let again = env
        .call("invoices-pay", aimed("invoices-pay/pay-empty.json", &admin))
        .await;
    assert_eq!((again.status, &again.body), (200, &paid.body));
    let note: Option<String> = env
        .db
        .client()
        .await
        .query_one("SELECT paid_note FROM invoices", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        note.as_deref(),
        body_of(&event("invoices-pay/pay.json"))["reason"].as_str()
    );

    let voided = created(Uuid::new_v4(), "follow_up", 15);
    deliver(&c, &kafka_event(&[voided.clone(), cancelled(&voided)], 5)).await;
    let void_id: String = env
        .db
        .client()
        .await
        .query_one("SELECT id::text FROM invoices WHERE status = 'void'", &[])
        .await
        .unwrap()
        .get(0);
    let mut ev = aimed("invoices-pay/pay.json", &admin);
    ev["pathParameters"]["invoiceId"] = json!(void_id);
    let reply = env.call("invoices-pay", ev).await;
    reply.assert_problem(409, None);
    assert_eq!(reply.body["type"], "/problems/invoice-void");
}

fn rescheduled(of: &Value, revision: u32) -> Value {
    let d = &of["data"];
    let start: chrono::DateTime<Utc> = d["start_time"].as_str().unwrap().parse().unwrap();
    let minutes = d["duration_minutes"].as_u64().unwrap() as u32;
    let moved = start + chrono::Duration::days(1);
    let e = careflow::events::AppointmentRescheduled {
        appointment_id: d["appointment_id"].as_str().unwrap().parse().unwrap(),
        patient_id: d["patient_id"].as_str().unwrap().parse().unwrap(),
        doctor_id: d["doctor_id"].as_str().unwrap().parse().unwrap(),
        appointment_type: d["appointment_type"].as_str().unwrap().into(),
        previous_start_time: start,
        previous_end_time: start + chrono::Duration::minutes(minutes.into()),
        start_time: moved,
        end_time: moved + chrono::Duration::minutes(minutes.into()),
        duration_minutes: minutes,
        revision,
        rescheduled_by: "patient".into(),
    };
    serde_json::to_value(e.envelope(Utc::now())).unwrap()
}

#[tokio::test]
async fn a_move_keeps_the_invoice_and_is_recorded_once() {
    let env = TestEnv::new().await;
    let c = consumer(&env);
    // Before, after and between: the move never creates, voids or re-prices an invoice.
    let booked = created(Uuid::new_v4(), "consultation", 30);
    let early = rescheduled(&booked, 2);
    let late = rescheduled(&booked, 3);
    let reply = deliver(
        &c,
        &kafka_event(
            &[early.clone(), booked.clone(), late.clone(), late.clone()],
            0,
        ),
    )
    .await;
    assert_eq!(reply["batchItemFailures"], json!([]), "{reply}");
    let rows = invoices(&env).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].1, "open");
    let outcomes: Vec<String> = env
        .db
        .client()
        .await
        .query(
            "SELECT outcome FROM processed_events WHERE event_type = 'AppointmentRescheduled' ORDER BY outcome",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(outcomes, ["Rescheduled", "Rescheduled"]);
    // The move after a cancel changes nothing either: the invoice stays void.
    deliver(
        &c,
        &kafka_event(&[cancelled(&booked), rescheduled(&booked, 4)], 10),
    )
    .await;
    assert_eq!(invoices(&env).await[0].1, "void");
}
