//! analytics-sink (Kafka), analytics-per-minute and doctors-list on real PostgreSQL.

use careflow::analytics::AnalyticsStore;
use careflow::auth::Role;
use serde_json::json;
use uuid::Uuid;

use crate::support::*;

#[tokio::test]
async fn the_sink_keeps_results_once_and_the_endpoint_sums_partitions() {
    let env = TestEnv::new().await;
    let sink = analytics_sink::AnalyticsSink::new(AnalyticsStore::new(env.db.pool.clone()), true);
    let batch = event("analytics-sink/batch.json");
    for _ in 0..3 {
        let response = sink
            .handle(serde_json::from_value(batch.clone()).unwrap())
            .await
            .unwrap();
        assert!(response.batch_item_failures.is_empty());
    }
    assert_eq!(
        env.db.count("SELECT count(*) FROM analytics_results").await,
        3
    );

    let admin = env.token(Uuid::new_v4(), Role::Admin);
    let reply = env
        .call(
            "analytics-per-minute",
            with_token(event("analytics-per-minute/get.json"), &admin),
        )
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        reply.body["windows"],
        json!([{"window_start": "2026-12-01T09:00:00Z", "window_end": "2026-12-01T09:01:00Z",
                "total": 5, "cancellations": 1, "reschedules": 0, "attended": 0, "no_shows": 0, "late_events": 1}])
    );

    // A garbage record is poison: stored, and the batch still succeeds.
    let mut poisoned = batch.clone();
    poisoned["records"]["analytics-results-0"][0]["value"] = json!("bm90IGpzb24="); // "not json"
    poisoned["records"]["analytics-results-0"][0]["offset"] = json!(99);
    let response = sink
        .handle(serde_json::from_value(poisoned).unwrap())
        .await
        .unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(
        env.db
            .count("SELECT count(*) FROM failed_events WHERE topic = 'analytics-results'")
            .await,
        1
    );

    let patient = env.token(Uuid::new_v4(), Role::Patient);
    env.call(
        "analytics-per-minute",
        with_token(event("analytics-per-minute/get.json"), &patient),
    )
    .await
    .assert_problem(403, None);
    let long = with_query(
        event("analytics-per-minute/get.json"),
        &[
            ("from", "2026-11-01T00:00:00Z"),
            ("to", "2026-12-01T00:00:00Z"),
        ],
    );
    env.call("analytics-per-minute", with_token(long, &admin))
        .await
        .assert_problem(400, Some("from"));
    let backwards = with_query(
        event("analytics-per-minute/get.json"),
        &[
            ("from", "2026-12-01T10:00:00Z"),
            ("to", "2026-12-01T09:00:00Z"),
        ],
    );
    env.call("analytics-per-minute", with_token(backwards, &admin))
        .await
        .assert_problem(400, Some("to"));
}

#[tokio::test]
async fn doctors_are_listed_to_anyone_signed_in_without_contact_details() {
    let env = TestEnv::new().await;
    env.user(
        "doc.b@clinic.example",
        "a clinician passphrase",
        Role::Doctor,
    )
    .await;
    env.user("jo@example.com", "a patient passphrase 1", Role::Patient)
        .await;
    let me = env.token(Uuid::new_v4(), Role::Patient);
    let reply = env
        .call(
            "doctors-list",
            with_token(event("doctors-list/list.json"), &me),
        )
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let items = reply.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["specialty"], "Cardiology");
    assert!(items[0].get("email").is_none());
    env.call(
        "doctors-list",
        with_authorization(event("doctors-list/list.json"), ""),
    )
    .await
    .assert_problem(401, None);
}
