//! The local runner end to end over real HTTP: routes from template.yaml, the JWT authorizer,
//! and the register → login → /me → refresh → reuse flow.

use careflow::auth::Role;
use careflow::auth::token::SigningKey;
use serde_json::{Value, json};

use crate::support::*;
use crate::tokens::hostile_tokens;

impl Runner {
    async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, String, Value) {
        let mut req = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.base));
        if let Some(token) = token {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let ct = res
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let text = res.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        };
        (status, ct, body)
    }

    /// Registers a patient through the gateway as the portal does: register, the e-mailed
    /// link's token, then the password again.
    async fn register(&self, email: &str, password: &str, name: &str) -> Value {
        let (status, _, accepted) = self
            .send(
                "POST",
                "/auth/register",
                None,
                Some(json!({"email": email, "password": password, "full_name": name})),
            )
            .await;
        assert_eq!(status, 202, "{accepted}");
        let token = registration_token(&email.to_lowercase()).await;
        let (status, _, registered) = self
            .send(
                "POST",
                "/auth/verify-email",
                None,
                Some(json!({"token": token, "password": password})),
            )
            .await;
        assert_eq!(status, 201, "{registered}");
        registered
    }

    async fn refresh(&self, refresh_token: &str) -> (u16, String, Value) {
        let body = json!({ "refresh_token": refresh_token });
        self.send("POST", "/auth/refresh", None, Some(body)).await
    }
}

#[tokio::test]
async fn register_login_me_refresh_and_reuse_through_the_runner() {
    let r = start_runner().await;
    let email = unique_email("Pat");
    let creds = json!({"email": email, "password": "a long passphrase 42"});
    let user = r
        .register(&email, "a long passphrase 42", "Pat Example")
        .await;
    // The registration link was made for the runner's own portal.
    let (_, body) = sent_emails(&email.to_lowercase()).await.remove(0);
    assert!(body.contains("/#/verify-email?token=cfv_"), "{body}");

    let (status, _, tokens) = r
        .send("POST", "/auth/login", None, Some(creds.clone()))
        .await;
    assert_eq!(status, 200, "{tokens}");
    let access = tokens["access_token"].as_str().unwrap();
    let (status, _, me) = r.send("GET", "/me", Some(access), None).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["user_id"], user["user_id"]);
    assert_eq!(me["email"], email.to_lowercase());
    assert_eq!(me["role"], "patient");

    let rt1 = tokens["refresh_token"].as_str().unwrap();
    let (status, _, rotated) = r.refresh(rt1).await;
    assert_eq!(status, 200);
    let rt2 = rotated["refresh_token"].as_str().unwrap();
    let (status, _, _) = r
        .send("GET", "/me", rotated["access_token"].as_str(), None)
        .await;
    assert_eq!(status, 200);

    let (status, ct, problem) = r.refresh(rt1).await;
    assert_eq!(
        (status, ct.as_str()),
        (401, "application/problem+json"),
        "{problem}"
    );
    let (status, _, _) = r.refresh(rt2).await;
    assert_eq!(status, 401, "the whole family is revoked after reuse");
}

#[tokio::test]
async fn runner_authorizer_refuses_hostile_tokens_and_unknown_routes_are_404() {
    let r = start_runner().await;
    let tokens = r
        .register(&unique_email("v"), "a long passphrase 42", "V")
        .await;
    let valid = tokens["access_token"].as_str().unwrap();
    let sub = r.stack.deps.verifier.verify(valid).unwrap().sub.to_string();

    let key_doc = std::fs::read_to_string(r.state_dir.join("signing-key.json")).unwrap();
    let key = SigningKey::from_document(&serde_json::from_str(&key_doc).unwrap()).unwrap();
    let issuer = r.stack.deps.settings.issuer.clone();
    // Refused as API Gateway refuses: 401 {"message":"Unauthorized"}, before any handler runs.
    // A token without nbf is one API Gateway lets through (it checks nbf only when present);
    // the handler's own verification, which requires it, refuses it.
    for (what, token) in hostile_tokens(&key, &issuer, &sub, valid) {
        let (status, ct, body) = r.send("GET", "/me", Some(&token), None).await;
        if what == "no nbf" {
            assert_eq!(
                (status, ct.as_str()),
                (401, "application/problem+json"),
                "{body}"
            );
            continue;
        }
        assert_eq!(
            (status, ct.as_str(), &body),
            (401, "application/json", &json!({"message": "Unauthorized"})),
            "{what}"
        );
    }
    let (status, ct, body) = r.send("GET", "/me", None, None).await;
    assert_eq!(
        (status, ct.as_str(), body),
        (401, "application/json", json!({"message": "Unauthorized"}))
    );
    // Our own RS256 token passes.
    let (status, _, me) = r.send("GET", "/me", Some(valid), None).await;
    assert_eq!(status, 200, "{me}");

    for (method, path) in [
        ("GET", "/nope"),
        ("DELETE", "/me"),
        ("GET", "/auth/login"),
        ("GET", "/me/extra"),
    ] {
        // API Gateway's own 404 for a request no route matches.
        let (status, ct, body) = r.send(method, path, Some(valid), None).await;
        assert_eq!(
            (status, ct.as_str(), body),
            (404, "application/json", json!({"message": "Not Found"})),
            "{method} {path}"
        );
    }

    // The bootstrapped admin signs in through the gateway with a second factor (enrolling at
    // first login) and can create a doctor; a patient cannot.
    let (status, _, challenge) = r
        .send(
            "POST",
            "/auth/login",
            None,
            Some(json!({"email": "admin@clinic.example", "password": "clinic keys for ops 7"})),
        )
        .await;
    assert_eq!(status, 200, "{challenge}");
    assert_eq!(challenge["enrolment_required"], true, "{challenge}");
    let mfa_token = challenge["mfa_token"].clone();
    let (status, _, enrolment) = r
        .send(
            "POST",
            "/auth/mfa/enroll",
            None,
            Some(json!({ "mfa_token": mfa_token })),
        )
        .await;
    assert_eq!(status, 200, "{enrolment}");
    let code = totp_now(enrolment["secret"].as_str().unwrap());
    let (status, _, admin) = r
        .send(
            "POST",
            "/auth/mfa/verify",
            None,
            Some(json!({ "mfa_token": mfa_token, "code": code })),
        )
        .await;
    assert_eq!(status, 200, "{admin}");
    let doctor = json!({"email": "dr@clinic.example", "password": "doctor passphrase 1", "full_name": "Dr Who", "specialty": "GP"});
    let (status, _, _) = r
        .send("POST", "/users/doctors", Some(valid), Some(doctor.clone()))
        .await;
    assert_eq!(status, 403);
    let (status, _, body) = r
        .send(
            "POST",
            "/users/doctors",
            admin["access_token"].as_str(),
            Some(doctor),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["role"], Role::Doctor.as_str());

    // Discovery points at the runner itself, so a JWT authorizer could be aimed at it.
    let (status, _, discovery) = r
        .send("GET", "/.well-known/openid-configuration", None, None)
        .await;
    assert_eq!(status, 200);
    let port = r.base.rsplit(':').next().unwrap();
    assert_eq!(discovery["issuer"], format!("http://localhost:{port}"));
}

#[tokio::test]
async fn runner_starts_a_kafka_broker_serving_the_topics() {
    use rdkafka::ClientConfig;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    // Bounded, so that a stall (seen once in CI under full load) says where it happened
    // instead of running into nextest's 5-minute limit.
    let limit = std::time::Duration::from_secs(90);
    let r = tokio::time::timeout(limit, start_runner())
        .await
        .expect("the runner did not start within 90 s");
    let servers = r.stack.kafka.bootstrap_servers.clone();
    let fetch = tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &servers)
            .create()
            .unwrap();
        let metadata = consumer.fetch_metadata(None, std::time::Duration::from_secs(10));
        drop(consumer);
        metadata
    });
    let metadata = tokio::time::timeout(limit, fetch)
        .await
        .expect("fetching the broker's metadata (or closing the client) took over 90 s")
        .unwrap()
        .unwrap();
    for (name, partitions) in careflow::kafka::TOPICS {
        let topic = metadata
            .topics()
            .iter()
            .find(|t| t.name() == *name)
            .unwrap_or_else(|| panic!("topic {name} missing"));
        assert_eq!(topic.partitions().len() as i32, *partitions, "{name}");
    }
}

#[tokio::test]
async fn a_booking_through_the_runner_is_invoiced_and_opens_the_record_to_its_doctor() {
    let r = start_runner().await;
    let (doctor, patient) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    insert_user(&r.db, doctor, Role::Doctor).await;
    insert_user(&r.db, patient, Role::Patient).await;
    let token = r
        .stack
        .deps
        .issuer
        .issue(patient, Role::Patient, careflow::auth::Amr::Password)
        .unwrap()
        .token;
    let start = (chrono::Utc::now() + chrono::Duration::days(3))
        .date_naive()
        .and_hms_opt(10, 0, 0)
        .unwrap()
        .and_utc();
    let (status, _, booked) = r
        .send("POST", "/appointments", Some(&token), Some(json!({"doctor_id": doctor, "start_time": start.to_rfc3339(), "appointment_type": "consultation"})))
        .await;
    assert_eq!(status, 201, "{booked}");
    // No manual step: outbox → Kafka → the event source → billing-consumer → PostgreSQL.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let invoice = loop {
        let (status, _, page) = r.send("GET", "/invoices", Some(&token), None).await;
        assert_eq!(status, 200);
        if let Some(first) = page["items"].as_array().and_then(|i| i.first()) {
            break first.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no invoice within 20 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!(invoice["appointment_id"], booked["appointment_id"]);
    assert_eq!(invoice["amount_due"], 12000);
    let (status, _, one) = r
        .send(
            "GET",
            &format!("/invoices/{}", invoice["invoice_id"].as_str().unwrap()),
            Some(&token),
            None,
        )
        .await;
    assert_eq!((status, &one), (200, &invoice));
    // The same event reached care-relationships: the doctor now reaches the patient's record
    // (outbox → Kafka → care-relationships → the records table → the policy).
    let doctor_token = r
        .stack
        .deps
        .issuer
        .issue(doctor, Role::Doctor, careflow::auth::Amr::PasswordAndTotp)
        .unwrap()
        .token;
    let path = format!("/patients/{patient}/history");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (status, _, body) = r.send("GET", &path, Some(&doctor_token), None).await;
        // 404: allowed, and the patient has no profile yet.
        if status == 404 {
            break;
        }
        assert_eq!(status, 403, "{body}");
        assert!(
            std::time::Instant::now() < deadline,
            "the booking gave its doctor no access within 20 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
