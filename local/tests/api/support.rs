//! Test fixtures: a fresh database per test, the functions wired as in the runner, sample events.

use std::path::PathBuf;
use std::time::Duration;

use careflow::appointment::service::Appointments;
use careflow::auth::Role;
use careflow::auth::accounts::{Accounts, NewUser, User};
use careflow::auth::token::{AccessToken, Jwks, SigningKey, TokenIssuer, TokenSettings, Verifier};
use careflow::db::{DbConfig, PgPool, migrate};
use careflow::kafka::KafkaConfig;
use careflow::kafka::mock::MockKafka;
use careflow::outbox::Publisher;
use careflow_local::aws::{AwsFunctions, FunctionIdentities};
use careflow_local::functions::{Deps, HttpFunction, LocalEnvironment, http_functions};
use careflow_local::resources;
use careflow_local::template::Template;
use serde_json::{Value, json};
use std::collections::HashMap;

pub const ISSUER: &str = "https://api.careflow.example";
pub const AUDIENCE: &str = "careflow-api";
/// The lab-report upload limit of the tests (the production default).
pub const LAB_MAX_BYTES: u64 = 10 * 1024 * 1024;

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn admin_url() -> String {
    std::env::var("CAREFLOW_TEST_DATABASE_URL").expect(
        "CAREFLOW_TEST_DATABASE_URL is not set: run the tests with scripts/test.sh, which starts PostgreSQL",
    )
}

async fn admin_client(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect to the test PostgreSQL");
    tokio::spawn(connection);
    client
}

/// A database of its own for one test.
pub struct TestDb {
    pub url: String,
    pub pool: PgPool,
}

fn url_with_db(admin: &str, name: &str) -> String {
    let (base, query) = admin
        .split_once('?')
        .map_or((admin, None), |(b, q)| (b, Some(q)));
    let (server, _) = base.rsplit_once('/').expect("database URL has a path");
    match query {
        Some(q) => format!("{server}/{name}?{q}"),
        None => format!("{server}/{name}"),
    }
}

impl TestDb {
    /// A migrated database, cloned from a template keyed by the migrations' fingerprint.
    pub async fn migrated() -> Self {
        let admin = admin_url();
        let client = admin_client(&admin).await;
        let template = format!("careflow_tpl_{}", migrate::fingerprint());
        // Serialise template creation and cloning across the concurrent test processes.
        client
            .execute("SELECT pg_advisory_lock(7011)", &[])
            .await
            .unwrap();
        let exists = client
            .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&template])
            .await
            .unwrap()
            .is_some();
        if !exists {
            client
                .batch_execute(&format!("CREATE DATABASE {template}"))
                .await
                .unwrap();
            let mut tpl = admin_client(&url_with_db(&admin, &template)).await;
            migrate::run(&mut tpl)
                .await
                .expect("migrations apply to an empty database");
            drop(tpl);
            // Wait for the template connection to close before cloning it.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let name = format!("careflow_test_{}", uuid::Uuid::new_v4().simple());
        let mut attempt = 0;
        loop {
            match client
                .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {template}"))
                .await
            {
                Ok(()) => break,
                Err(e) if attempt < 20 => {
                    attempt += 1;
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("cannot clone the template database: {e}"),
            }
        }
        client
            .execute("SELECT pg_advisory_unlock(7011)", &[])
            .await
            .unwrap();
        Self::open(&admin, name)
    }

    /// An empty database (for the migrate function's own tests).
    pub async fn empty() -> Self {
        let admin = admin_url();
        let client = admin_client(&admin).await;
        let name = format!("careflow_test_{}", uuid::Uuid::new_v4().simple());
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        Self::open(&admin, name)
    }

    fn open(admin: &str, name: String) -> Self {
        let url = url_with_db(admin, &name);
        let mut config = DbConfig::from_url(&url).unwrap();
        config.pool_size = 8;
        let pool = config.pool().unwrap();
        Self { url, pool }
    }

    pub async fn client(&self) -> tokio_postgres::Client {
        admin_client(&self.url).await
    }

    pub async fn count(&self, sql: &str) -> i64 {
        self.client()
            .await
            .query_one(sql, &[])
            .await
            .unwrap()
            .get(0)
    }
}

/// A stage name of one test's own: its table and bucket are `careflow-{stage}-…`, the names
/// the functions' roles allow (`scripts/test.sh` creates the roles for every 16-character
/// stage: `Stage` is sixteen IAM `?` wildcards).
pub fn test_stage() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..16].to_owned()
}

/// The template's `RecordsTable` under `name`, created in the AWS emulator (`AWS_ENDPOINT_URL`,
/// set by `scripts/test.sh`) with the administrator's credentials.
pub async fn create_records_table(name: &str) {
    assert!(
        std::env::var_os("AWS_ENDPOINT_URL").is_some(),
        "AWS_ENDPOINT_URL is not set: run the tests with scripts/test.sh, which starts the emulator"
    );
    let template = Template::load(&repo_root().join("template.yaml")).unwrap();
    let table = template
        .tables
        .iter()
        .find(|t| t.logical_id == "RecordsTable")
        .expect("RecordsTable in template.yaml");
    let client = resources::dynamodb_client().await;
    resources::create_table(&client, table, name).await.unwrap();
}

/// The AWS side of a stack of the test's own stage, each function with its role's credentials.
pub async fn aws_functions(stage: &str) -> AwsFunctions {
    let aws = AwsFunctions::for_stage(FunctionIdentities::from_env().await.unwrap(), stage);
    create_records_table(&aws.records_table).await;
    aws
}

/// The functions wired to a fresh database, with a signing key of their own.
pub struct TestEnv {
    pub db: TestDb,
    /// A Kafka-protocol broker of its own, with CareFlow's topics.
    pub kafka: MockKafka,
    pub key: SigningKey,
    pub deps: Deps,
    functions: HashMap<&'static str, HttpFunction>,
}

/// A handler's answer, decoded from the Lambda response event.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Value,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(Value::as_str)
    }

    /// Asserts a problem+json error with `status` and, if given, the field it names.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, field: Option<&str>) {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{self:?}"
        );
        assert_eq!(self.body["status"], status, "{self:?}");
        assert!(
            self.body["type"]
                .as_str()
                .unwrap()
                .starts_with("/problems/")
        );
        if let Some(field) = field {
            assert_eq!(self.body["field"], field, "{self:?}");
        }
    }
}

impl TestEnv {
    pub async fn new() -> Self {
        let db = TestDb::migrated().await;
        let key = SigningKey::generate().unwrap();
        let settings = TokenSettings {
            issuer: ISSUER.into(),
            audience: AUDIENCE.into(),
        };
        let jwks = Jwks {
            keys: vec![key.public_jwk().clone()],
        };
        // The lab bucket is created by the lab tests that need it (crate::lab::Lab).
        let aws = aws_functions(&test_stage()).await;
        let kafka = MockKafka::start(1).unwrap();
        for (topic, partitions) in careflow::kafka::TOPICS {
            kafka.create_topic(topic, *partitions).unwrap();
        }
        let publisher = Publisher::new(
            &KafkaConfig::plaintext(kafka.bootstrap_servers()),
            Duration::from_secs(5),
        )
        .unwrap();
        // Every function as its `main` builds it, from the variables the template gives it,
        // with this test's database, broker, key, table and bucket.
        let local = LocalEnvironment {
            database_url: &db.url,
            kafka_bootstrap_servers: &kafka.bootstrap_servers(),
            tokens: &settings,
            key: &key,
            aws: &aws,
            portal_url: "http://portal.localhost",
        }
        .variables()
        .unwrap();
        if let Some(sender) = aws
            .identities
            .vars("auth-register", &local)
            .unwrap()
            .optional("CAREFLOW_EMAIL_FROM")
        {
            resources::verify_sender_domain(&sender).await.unwrap();
        }
        let functions = http_functions(&aws, &local).await.unwrap();
        let deps = Deps {
            billing: careflow::billing::service::Billing::new(db.pool.clone(), Default::default()),
            appointments: Appointments::with_publisher(db.pool.clone(), publisher),
            aws,
            accounts: Accounts::new(
                db.pool.clone(),
                careflow::auth::accounts::DEFAULT_REFRESH_TTL,
            ),
            issuer: TokenIssuer::new(key.clone(), settings.clone(), Duration::from_secs(900)),
            verifier: Verifier::new(&jwks, &settings).unwrap(),
            jwks,
            settings,
            local,
        };
        Self {
            db,
            kafka,
            key,
            deps,
            functions,
        }
    }

    /// The records table with the administrator's credentials, for a test's own set-up and
    /// checks (the functions reach it with their roles').
    pub async fn admin_records(&self) -> careflow::patient::store::RecordsTable {
        careflow::patient::store::RecordsTable::new(
            resources::dynamodb_client().await,
            self.deps.aws.records_table.clone(),
        )
    }

    /// A stored lab report, read with the administrator's credentials; it must exist.
    pub async fn lab_report(
        &self,
        patient: uuid::Uuid,
        report: uuid::Uuid,
    ) -> careflow::lab::LabReport {
        self.admin_records()
            .await
            .get_lab_report(patient, report)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no lab report {report}"))
    }

    /// A patient's audit trail (the first 100 events), read with the administrator's credentials.
    pub async fn audit_trail(&self, patient: uuid::Uuid) -> Vec<careflow::patient::AuditEvent> {
        self.admin_records()
            .await
            .audit_trail(patient, 100, None)
            .await
            .unwrap()
            .items
    }

    /// Gives `patient` the sample profile (as the patient themself would create it).
    pub async fn create_profile(&self, patient: uuid::Uuid) {
        create_sample_profile(&self.admin_patients().await, patient).await;
    }

    /// The patient service over [`Self::admin_records`].
    pub async fn admin_patients(&self) -> careflow::patient::service::Patients {
        careflow::patient::service::Patients::new(self.admin_care().await)
    }

    /// Care relationships over [`Self::admin_records`], under the default rules.
    pub async fn admin_care(&self) -> careflow::patient::care::Care {
        careflow::patient::care::Care::new(self.admin_records().await, Default::default())
    }

    /// Puts `doctor` on `patient`'s care team for a day, as an admin would.
    pub async fn assign(&self, doctor: uuid::Uuid, patient: uuid::Uuid) {
        let admin = careflow::auth::Caller {
            user_id: uuid::Uuid::new_v4(),
            role: Role::Admin,
        };
        self.admin_care()
            .await
            .assign(
                &admin,
                patient,
                doctor,
                chrono::Utc::now() + chrono::Duration::days(1),
                None,
            )
            .await
            .unwrap();
    }

    pub fn function_names(&self) -> std::collections::BTreeSet<String> {
        self.functions.keys().map(|k| k.to_string()).collect()
    }

    /// Invokes a function with an API Gateway event, as Lambda would.
    pub async fn call(&self, function: &str, event: Value) -> Reply {
        let f = self
            .functions
            .get(function)
            .unwrap_or_else(|| panic!("no function {function}"));
        let response = f(event).await.expect("the event is an API Gateway event");
        let body = match response.get("body").and_then(Value::as_str) {
            Some(text) if !text.is_empty() => serde_json::from_str(text).expect("JSON body"),
            _ => Value::Null,
        };
        Reply {
            status: response["statusCode"].as_u64().unwrap() as u16,
            headers: response.get("headers").cloned().unwrap_or(Value::Null),
            body,
        }
    }

    /// Invokes a function and answers the Lambda response event itself (a body that is not
    /// JSON, e.g. a calendar file).
    pub async fn raw_call(&self, function: &str, event: Value) -> Value {
        let f = self
            .functions
            .get(function)
            .unwrap_or_else(|| panic!("no function {function}"));
        f(event).await.expect("the event is an API Gateway event")
    }

    /// An account made as the API makes it; a doctor is open all hours ([`open_all_hours`]).
    pub async fn user(&self, email: &str, password: &str, role: Role) -> User {
        let user = self
            .deps
            .accounts
            .create_user(NewUser {
                email: email.into(),
                password: password.into(),
                full_name: "Test Person".into(),
                role,
                specialty: (role == Role::Doctor).then(|| "Cardiology".into()),
            })
            .await
            .unwrap();
        if role == Role::Doctor {
            open_all_hours(&self.db, user.user_id).await;
        }
        user
    }

    pub fn token_for(&self, user: &User) -> AccessToken {
        self.token(user.user_id, user.role)
    }

    /// A token for an identity that need not exist in PostgreSQL.
    pub fn token(&self, user_id: uuid::Uuid, role: Role) -> AccessToken {
        // As login would issue it: staff tokens carry their second factor.
        let amr = if careflow::policy::requires_second_factor(role) {
            careflow::auth::Amr::PasswordAndTotp
        } else {
            careflow::auth::Amr::Password
        };
        self.deps.issuer.issue(user_id, role, amr).unwrap()
    }
}

/// A sample event from `events/`.
pub fn event(relative: &str) -> Value {
    let path = repo_root().join("events").join(relative);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// Replaces the body (and its content-length).
pub fn with_body(mut event: Value, body: &Value) -> Value {
    let text = body.to_string();
    event["headers"]["content-length"] = json!(text.len().to_string());
    event["body"] = json!(text);
    event
}

/// Puts a bearer token in the event, and its claims where the JWT authorizer puts them.
pub fn with_token(mut event: Value, token: &AccessToken) -> Value {
    event["headers"]["authorization"] = json!(format!("Bearer {}", token.token));
    event["requestContext"]["authorizer"] = json!({"jwt": {"claims": {
        "sub": token.claims.sub.to_string(),
        "role": token.claims.role.as_str(),
        "iss": token.claims.iss,
        "aud": token.claims.aud,
        "exp": token.claims.exp.to_string(),
        "nbf": token.claims.nbf.to_string(),
        "iat": token.claims.iat.to_string(),
    }, "scopes": null}});
    event
}

/// Sets a request header of the event (API Gateway lower-cases header names).
pub fn with_header(mut event: Value, name: &str, value: &str) -> Value {
    event["headers"][name.to_ascii_lowercase()] = json!(value);
    event
}

/// Puts a raw authorization header value in the event (authorizer context removed).
pub fn with_authorization(mut event: Value, value: &str) -> Value {
    event["headers"]["authorization"] = json!(value);
    if let Some(ctx) = event["requestContext"].as_object_mut() {
        ctx.remove("authorizer");
    }
    event
}

/// The body of a sample event, parsed.
pub fn body_of(event: &Value) -> Value {
    serde_json::from_str(event["body"].as_str().unwrap()).unwrap()
}

/// Sets the query string as API Gateway does: `rawQueryString` and `queryStringParameters`.
pub fn with_query(mut event: Value, params: &[(&str, &str)]) -> Value {
    let raw: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    event["rawQueryString"] = json!(raw.join("&"));
    let map: serde_json::Map<String, Value> = params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect();
    event["queryStringParameters"] = Value::Object(map);
    event
}

/// Every record of `topic` from the beginning, as (key, JSON value), read with a fresh consumer
/// until the topic has been quiet for a second.
pub fn consume_all(bootstrap_servers: &str, topic: &str) -> Vec<(String, Value)> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::{Message, Offset, TopicPartitionList};
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap_servers)
        .set("group.id", format!("test-{}", uuid::Uuid::new_v4()))
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .unwrap();
    let mut assignment = TopicPartitionList::new();
    for partition in metadata.topics()[0].partitions() {
        assignment
            .add_partition_offset(topic, partition.id(), Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&assignment).unwrap();
    let mut records = Vec::new();
    let mut quiet_since = std::time::Instant::now();
    while quiet_since.elapsed() < Duration::from_secs(1) {
        if let Some(message) = consumer.poll(Duration::from_millis(100)) {
            let message = message.unwrap();
            let key = String::from_utf8(message.key().unwrap_or_default().to_vec()).unwrap();
            let value = serde_json::from_slice(message.payload().unwrap_or_default()).unwrap();
            records.push((key, value));
            quiet_since = std::time::Instant::now();
        }
    }
    records
}

/// Opens a doctor every day round the clock in UTC, every type on a 5-minute grid, as an
/// admin could set it: fixtures book at any time they like. Scheduling tests set their own.
pub async fn open_all_hours(db: &TestDb, doctor: uuid::Uuid) {
    let document = json!({
        "time_zone": "UTC",
        "weekly_hours": (1..=7).map(|d| json!({"weekday": d, "start": "00:00", "end": "24:00"})).collect::<Vec<_>>(),
        "exceptions": [],
        "appointment_types": ["consultation", "follow_up", "lab_review"],
        "slot_interval_minutes": 5,
        "buffer_minutes": 0,
        "minimum_notice_minutes": 0,
    });
    db.client()
        .await
        .execute(
            "INSERT INTO doctor_availability (doctor_id, document) VALUES ($1, $2)
             ON CONFLICT (doctor_id) DO UPDATE SET document = excluded.document",
            &[&doctor, &document],
        )
        .await
        .unwrap();
}

/// Inserts an account with a chosen id (sample events name fixed ids); a doctor is open all
/// hours ([`open_all_hours`]).
pub async fn insert_user(db: &TestDb, id: uuid::Uuid, role: Role) {
    db.client()
        .await
        .execute(
            "INSERT INTO users (id, email, password_hash, full_name, role, specialty)
             VALUES ($1, $2, 'not-a-hash', 'Sample Person', $3, $4) ON CONFLICT (id) DO NOTHING",
            &[
                &id,
                &format!("{id}@example.com"),
                &role.as_str(),
                &(role == Role::Doctor).then_some("General practice"),
            ],
        )
        .await
        .unwrap();
    if role == Role::Doctor {
        open_all_hours(db, id).await;
    }
}

/// The profile fields a test patient gets.
pub fn sample_profile() -> serde_json::Map<String, Value> {
    json!({"full_name": "Jo Example", "date_of_birth": "1990-04-01", "sex": "female"})
        .as_object()
        .unwrap()
        .clone()
}

/// The local runner (`careflow-local`) serving on a free port over a database and a stage of its
/// own, as `scripts/run-local.sh` starts it.
pub struct Runner {
    pub base: String,
    pub http: reqwest::Client,
    pub stack: careflow_local::stack::Stack,
    pub state_dir: PathBuf,
    pub stage: String,
    pub db: TestDb,
}

pub async fn start_runner() -> Runner {
    let db = TestDb::migrated().await;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let state_dir = std::env::temp_dir().join(format!("careflow-runner-{}", uuid::Uuid::new_v4()));
    let stage = test_stage();
    let settings = careflow_local::stack::Settings {
        database_url: db.url.clone(),
        port,
        template: repo_root().join("template.yaml"),
        state_dir: state_dir.clone(),
        admin_email: "admin@clinic.example".into(),
        admin_password: Some("clinic keys for ops 7".into()),
        issuer: None,
        audience: AUDIENCE.into(),
        kafka_bootstrap_servers: None,
        stage: stage.clone(),
        web_root: None,
    };
    let stack = careflow_local::stack::start(&settings, port).await.unwrap();
    let app = stack.gateway.clone().router();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
        .unwrap();
    });
    Runner {
        base: format!("http://127.0.0.1:{port}"),
        http: reqwest::Client::new(),
        stack,
        state_dir,
        stage,
        db,
    }
}

/// Gives `patient` the sample profile through `patients`, as the patient themself would.
pub async fn create_sample_profile(
    patients: &careflow::patient::service::Patients,
    patient: uuid::Uuid,
) {
    let caller = careflow::auth::Caller {
        user_id: patient,
        role: Role::Patient,
    };
    patients
        .create(&caller, patient, sample_profile())
        .await
        .unwrap();
}

/// A Lambda Kafka event (self-managed) with these values on partition 0, offsets from `first`.
pub fn kafka_event(values: &[Value], first: i64) -> Value {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    let records: Vec<Value> = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            serde_json::json!({"topic": "appointments", "partition": 0, "offset": first + i as i64,
                   "timestamp": 1_764_064_800_000i64, "timestampType": "CREATE_TIME",
                   "key": STANDARD.encode(v["data"]["doctor_id"].as_str().unwrap_or("k")),
                   "value": STANDARD.encode(v.to_string()), "headers": []})
        })
        .collect();
    serde_json::json!({"eventSource": "SelfManagedKafka", "bootstrapServers": "localhost:9092",
           "records": {"appointments-0": records}})
}

/// The current TOTP code of a base32 secret.
pub fn totp_now(secret: &str) -> String {
    totp_at(secret, 0)
}

/// The TOTP code `steps` 30-second steps from now.
pub fn totp_at(secret: &str, steps: i64) -> String {
    let secret = careflow::auth::totp::Secret::from_base32(secret).expect("a base32 secret");
    secret.code_at(careflow::auth::totp::step_of(chrono::Utc::now().timestamp()) + steps)
}

/// A staff sign-in as a client does it: login (a challenge), enrolment when the account has no
/// factor yet, then the current code. Returns the verify answer (tokens, and recovery codes
/// after an enrolment) and the secret (`None` when the account was enrolled already and
/// `known_secret` was used).
pub async fn staff_sign_in(
    env: &TestEnv,
    email: &str,
    password: &str,
    known_secret: Option<&str>,
) -> (Value, String) {
    let login = env
        .call(
            "auth-login",
            with_body(
                event("auth-login/login.json"),
                &serde_json::json!({"email": email, "password": password}),
            ),
        )
        .await;
    assert_eq!(login.status, 200, "{login:?}");
    assert_eq!(login.body["mfa_required"], true, "{login:?}");
    assert!(login.body.get("access_token").is_none());
    let token = login.body["mfa_token"].as_str().unwrap().to_owned();
    let secret = match known_secret {
        Some(secret) => secret.to_owned(),
        None => {
            let enrolled = env
                .call(
                    "auth-mfa",
                    with_body(
                        event("auth-mfa/enroll.json"),
                        &serde_json::json!({"mfa_token": token}),
                    ),
                )
                .await;
            assert_eq!(enrolled.status, 200, "{enrolled:?}");
            enrolled.body["secret"].as_str().unwrap().to_owned()
        }
    };
    let verified = env
        .call(
            "auth-mfa",
            with_body(
                event("auth-mfa/verify.json"),
                &serde_json::json!({"mfa_token": token, "code": totp_now(&secret)}),
            ),
        )
        .await;
    assert_eq!(verified.status, 200, "{verified:?}");
    (verified.body, secret)
}

/// The messages the emulator's SES sent to `to`, oldest first, as it records them
/// (`{subject, body, attachments: [{filename, content_type, content}], ...}`).
pub async fn sent_messages(to: &str) -> Vec<Value> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").expect("AWS_ENDPOINT_URL names the emulator");
    let messages: Value = reqwest::get(format!("{endpoint}/_careflow/ses/messages"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    messages
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| {
            m["destinations"]["ToAddresses"]
                .as_array()
                .is_some_and(|a| a.iter().any(|d| d == to))
        })
        .cloned()
        .collect()
}

/// The e-mails the emulator's SES sent to `to`, oldest first, as (subject, body).
pub async fn sent_emails(to: &str) -> Vec<(String, String)> {
    sent_messages(to)
        .await
        .iter()
        .map(|m| {
            (
                m["subject"].as_str().unwrap_or_default().to_owned(),
                m["body"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// The token of the registration link in the last e-mail sent to `to`.
pub async fn registration_token(to: &str) -> String {
    let mails = sent_emails(to).await;
    let (_, body) = mails.last().unwrap_or_else(|| panic!("no e-mail to {to}"));
    body.split("token=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no link in: {body}"))
        .to_owned()
}

/// An address no other test uses (the emulator's SES outbox is shared by every test).
pub fn unique_email(name: &str) -> String {
    format!("{name}.{}@example.com", uuid::Uuid::new_v4().simple())
}

/// A patient registers as a client does: register, read the link, confirm with the password.
/// Returns the confirmation's answer (the user and its first tokens).
pub async fn register_patient(env: &TestEnv, email: &str, password: &str, name: &str) -> Value {
    let ev = with_body(
        event("auth-register/register.json"),
        &serde_json::json!({"email": email, "password": password, "full_name": name}),
    );
    let accepted = env.call("auth-register", ev).await;
    assert_eq!(accepted.status, 202, "{accepted:?}");
    let token = registration_token(&email.to_lowercase()).await;
    let done = env
        .call(
            "auth-verify-email",
            with_body(
                event("auth-verify-email/verify-email.json"),
                &serde_json::json!({"token": token, "password": password}),
            ),
        )
        .await;
    assert_eq!(done.status, 201, "{done:?}");
    done.body
}
