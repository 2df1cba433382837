//! Issue-4 benchmark: bookings per second through `appointments-create` in process, with
//! PostgreSQL and a Kafka-protocol broker (librdkafka's mock cluster): each booking is one
//! transaction (appointment + outbox row), then an idempotent, acks=all publish and the mark.
//!
//! Run through `scripts/bench-appointments.sh`, which starts PostgreSQL.

use std::sync::Arc;
use std::time::{Duration, Instant};

use careflow::appointment::service::Appointments;
use careflow::auth::Role;
use careflow::auth::token::{Jwks, SigningKey, TokenIssuer, TokenSettings, Verifier};
use careflow::db::{DbConfig, migrate};
use careflow::kafka::KafkaConfig;
use careflow::kafka::mock::MockKafka;
use careflow::outbox::Publisher;
use serde_json::{Value, json};
use uuid::Uuid;

const SEQUENTIAL: usize = 500;
const CONCURRENT: usize = 2000;
const TASKS: usize = 8;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let admin_url = std::env::var("CAREFLOW_DATABASE_URL")?;
    let (admin, conn) = tokio_postgres::connect(&admin_url, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    admin
        .batch_execute("DROP DATABASE IF EXISTS careflow_bench_appointments WITH (FORCE)")
        .await?;
    admin
        .batch_execute("CREATE DATABASE careflow_bench_appointments")
        .await?;
    let db_url = format!(
        "{}/careflow_bench_appointments",
        admin_url.rsplit_once('/').unwrap().0
    );
    let mut config = DbConfig::from_url(&db_url)?;
    config.pool_size = TASKS;
    let pool = config.pool()?;
    let mut client = careflow::db::client(&pool).await?;
    migrate::run(&mut client).await?;
    drop(client);

    // 50 doctors and one patient per booking task, each booking in its own slot.
    let client = careflow::db::client(&pool).await?;
    let doctors: Vec<Uuid> = (0..50).map(|_| Uuid::new_v4()).collect();
    let patients: Vec<Uuid> = (0..TASKS + 1).map(|_| Uuid::new_v4()).collect();
    for (id, role) in doctors
        .iter()
        .map(|d| (d, "doctor"))
        .chain(patients.iter().map(|p| (p, "patient")))
    {
        client
            .execute(
                "INSERT INTO users (id, email, password_hash, full_name, role, specialty) VALUES ($1, $2, 'x', 'Bench', $3, $4)",
                &[id, &format!("{id}@example.com"), &role, &(role == "doctor").then_some("GP")],
            )
            .await?;
    }
    drop(client);

    let kafka = MockKafka::start(1)?;
    kafka.create_topic("appointments", 3)?;
    let publisher = Publisher::new(
        &KafkaConfig::plaintext(kafka.bootstrap_servers()),
        Duration::from_secs(5),
    )?;
    let key = SigningKey::generate()?;
    let settings = TokenSettings {
        issuer: "https://api.careflow.example".into(),
        audience: "careflow-api".into(),
    };
    let verifier = Verifier::new(
        &Jwks {
            keys: vec![key.public_jwk().clone()],
        },
        &settings,
    )?;
    let issuer = TokenIssuer::new(key, settings, Duration::from_secs(900));
    let handler = Arc::new(appointments_create::AppointmentsCreate::new(
        Appointments::with_publisher(pool.clone(), publisher),
        verifier,
    ));
    let sample: Value = serde_json::from_str(&std::fs::read_to_string(
        root.join("events/appointments-create/create.json"),
    )?)?;
    let base = (chrono::Utc::now() + chrono::Duration::days(1))
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc();

    // Slot n of a patient: patients never overlap themselves; doctors rotate.
    let booking = move |patient_token: &str, patient: Uuid, n: usize, doctor: Uuid| {
        let mut event = sample.clone();
        let start = base + chrono::Duration::minutes(30 * n as i64);
        event["body"] = json!(json!({"doctor_id": doctor, "start_time": start.to_rfc3339(), "appointment_type": "consultation"}).to_string());
        event["headers"]
            .as_object_mut()
            .unwrap()
            .remove("idempotency-key");
        event["headers"]["authorization"] = json!(format!("Bearer {patient_token}"));
        event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] = json!(patient.to_string());
        event
    };

    let token0 = issuer
        .issue(
            patients[TASKS],
            Role::Patient,
            careflow::auth::Amr::Password,
        )?
        .token;
    let started = Instant::now();
    for n in 0..SEQUENTIAL {
        let ev = booking(&token0, patients[TASKS], n, doctors[n % doctors.len()]);
        let r = careflow::http::invoke(handler.clone(), ev).await?;
        anyhow::ensure!(r["statusCode"] == 201, "booking failed: {r}");
    }
    let seq = SEQUENTIAL as f64 / started.elapsed().as_secs_f64();

    let started = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let handler = handler.clone();
        let token = issuer
            .issue(patients[t], Role::Patient, careflow::auth::Amr::Password)?
            .token;
        let (patient, doctors, booking) = (patients[t], doctors.clone(), booking.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..CONCURRENT / TASKS {
                // Offset slots per task so tasks mostly book different doctor-slots.
                let n = SEQUENTIAL + i;
                let doctor = doctors[(i * TASKS + t) % doctors.len()];
                let r =
                    careflow::http::invoke(handler.clone(), booking(&token, patient, n, doctor))
                        .await?;
                anyhow::ensure!(
                    r["statusCode"] == 201 || r["statusCode"] == 409,
                    "booking failed: {r}"
                );
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let conc = CONCURRENT as f64 / started.elapsed().as_secs_f64();
    let booked = careflow::db::client(&pool)
        .await?
        .query_one("SELECT count(*) FROM appointments", &[])
        .await?
        .get::<_, i64>(0);
    let pending = careflow::outbox::pending(&pool).await?;
    println!(
        "appointments-create in process (PostgreSQL + Kafka mock broker, idempotent producer, acks=all):"
    );
    println!("  sequential, 1 caller:   {seq:>8.0} bookings/s ({SEQUENTIAL} bookings)");
    println!(
        "  concurrent, {TASKS} callers: {conc:>8.0} requests/s ({CONCURRENT} requests; {booked} appointments booked in all)"
    );
    println!("  outbox rows left pending: {pending}");
    admin
        .batch_execute("DROP DATABASE IF EXISTS careflow_bench_appointments WITH (FORCE)")
        .await
        .ok();
    Ok(())
}
