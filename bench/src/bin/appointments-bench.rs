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
use careflow_bench::ScratchDatabase;
use serde_json::{Value, json};
use uuid::Uuid;

const SEQUENTIAL: usize = 500;
const CONCURRENT: usize = 2000;
const TASKS: usize = 8;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let scratch = ScratchDatabase::create("careflow_bench_appointments").await?;
    let mut config = DbConfig::from_url(&scratch.url)?;
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
    // Every doctor open round the clock, so the bookings below measure booking alone.
    let open_all_hours = json!({
        "time_zone": "UTC",
        "weekly_hours": (1..=7).map(|d| json!({"weekday": d, "start": "00:00", "end": "24:00"})).collect::<Vec<_>>(),
        "appointment_types": ["consultation", "follow_up", "lab_review"],
        "slot_interval_minutes": 5,
    });
    for doctor in &doctors {
        client
            .execute(
                "INSERT INTO doctor_availability (doctor_id, document) VALUES ($1, $2)",
                &[doctor, &open_all_hours],
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
        verifier.clone(),
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

    slots_bench(&pool, &issuer, &verifier, &root).await?;
    scratch.remove().await;
    Ok(())
}

/// `GET /doctors/{id}/slots` over 31 days for a doctor with 300 appointments in that range
/// (weekdays 07:00-19:00 Europe/Berlin, 15-minute slots, 5-minute buffers): p50 and p99.
async fn slots_bench(
    pool: &careflow::db::PgPool,
    issuer: &TokenIssuer,
    verifier: &Verifier,
    root: &std::path::Path,
) -> anyhow::Result<()> {
    use careflow::appointment::AppointmentType;
    use careflow::appointment::availability::AvailabilityDocument;
    const BOOKED: usize = 300;
    const REQUESTS: usize = 300;
    let (doctor, patient) = (Uuid::new_v4(), Uuid::new_v4());
    let client = careflow::db::client(pool).await?;
    for (id, role) in [(doctor, "doctor"), (patient, "patient")] {
        client
            .execute(
                "INSERT INTO users (id, email, password_hash, full_name, role, specialty) VALUES ($1, $2, 'x', 'Bench', $3, $4)",
                &[&id, &format!("{id}@example.com"), &role, &(role == "doctor").then_some("GP")],
            )
            .await?;
    }
    let document: AvailabilityDocument = serde_json::from_value(json!({
        "time_zone": "Europe/Berlin",
        "weekly_hours": (1..=5).map(|d| json!({"weekday": d, "start": "07:00", "end": "19:00"})).collect::<Vec<_>>(),
        "appointment_types": ["consultation", "follow_up"],
        "slot_interval_minutes": 15,
        "buffer_minutes": 5,
    }))?;
    client
        .execute(
            "INSERT INTO doctor_availability (doctor_id, document) VALUES ($1, $2)",
            &[&doctor, &serde_json::to_value(&document)?],
        )
        .await?;
    // 300 consultations on free slots of the next 31 days, spread evenly.
    let from = chrono::Utc::now() + chrono::Duration::hours(1);
    let to = from + chrono::Duration::days(31);
    let availability = document.validated()?;
    let mut booked = Vec::new();
    let mut busy = Vec::new();
    let mut free = availability.free_slots(AppointmentType::Consultation, from, to, from, &busy);
    let mut stride = (free.len() / BOOKED).max(1);
    let mut i = 0;
    while booked.len() < BOOKED && i < free.len() {
        let start = free[i];
        let end = start + chrono::Duration::minutes(30);
        if busy
            .iter()
            .all(|b: &careflow::appointment::availability::Busy| {
                b.end + chrono::Duration::minutes(5) <= start
                    || b.start >= end + chrono::Duration::minutes(5)
            })
        {
            busy.push(careflow::appointment::availability::Busy { start, end });
            booked.push(start);
        }
        i += stride;
        if i >= free.len() && booked.len() < BOOKED {
            // Spread first, then fill what is left in order.
            free = availability.free_slots(AppointmentType::Consultation, from, to, from, &busy);
            i = 0;
            stride = 1;
        }
    }
    anyhow::ensure!(
        booked.len() == BOOKED,
        "only {} appointments fit",
        booked.len()
    );
    for start in &booked {
        client
            .execute(
                "INSERT INTO appointments (id, patient_id, doctor_id, appointment_type, start_time, end_time, created_by)
                 VALUES ($1, $2, $3, 'consultation', $4, $5, $2)",
                &[&Uuid::new_v4(), &patient, &doctor, start, &(*start + chrono::Duration::minutes(30))],
            )
            .await?;
    }
    drop(client);

    let handler = Arc::new(doctors_slots::DoctorsSlots::new(
        careflow::appointment::schedule::Schedules::new(pool.clone()),
        verifier.clone(),
    ));
    let token = issuer
        .issue(patient, Role::Patient, careflow::auth::Amr::Password)?
        .token;
    let mut event: Value = serde_json::from_str(&std::fs::read_to_string(
        root.join("events/doctors-slots/doctor.json"),
    )?)?;
    event["pathParameters"]["doctorId"] = json!(doctor.to_string());
    event["headers"]["authorization"] = json!(format!("Bearer {token}"));
    event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] = json!(patient.to_string());
    let (from_q, to_q) = (
        from.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        to.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    );
    event["queryStringParameters"] = json!({"from": from_q, "to": to_q, "type": "consultation"});
    event["rawQueryString"] = json!(format!("from={from_q}&to={to_q}&type=consultation"));
    let mut latencies = Vec::with_capacity(REQUESTS);
    let mut answered = 0;
    for _ in 0..REQUESTS {
        let started = Instant::now();
        let r = careflow::http::invoke(handler.clone(), event.clone()).await?;
        latencies.push(started.elapsed());
        anyhow::ensure!(r["statusCode"] == 200, "slots failed: {r}");
        answered = serde_json::from_str::<Value>(r["body"].as_str().unwrap_or("{}"))?["slots"]
            .as_array()
            .map_or(0, Vec::len);
    }
    latencies.sort();
    let p = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    println!(
        "doctors-slots in process (PostgreSQL), 31 days, {BOOKED} appointments booked, {answered} free slots answered:"
    );
    println!(
        "  p50 {:.2} ms, p99 {:.2} ms over {REQUESTS} requests",
        p(0.50).as_secs_f64() * 1e3,
        p(0.99).as_secs_f64() * 1e3
    );
    Ok(())
}
