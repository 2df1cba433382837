//! Bookings under load: the local runner (`careflow-local`'s stack: gateway, authorizer, every
//! function with its template role, PostgreSQL, the AWS API emulator, a Kafka-protocol broker)
//! served on a port and driven by `wrk`, a real load generator, for a fixed time per route:
//! `GET /patients/{id}`, `POST /appointments` (every request a distinct free slot) and
//! `GET /doctors/{id}/slots`. Prints wrk's figures and fails on any socket error, timeout or
//! 4xx/5xx answer (wrk's status errors).
//!
//! Run through `scripts/bench-load.sh`, which installs wrk, starts PostgreSQL and the emulator
//! and creates the functions' roles. `load-bench [SECONDS]` (default 60).

use std::path::PathBuf;
use std::process::Command;

use careflow::auth::{Amr, Caller, Role};
use careflow_local::stack::Settings;
use chrono::{Duration, DurationRound, Utc};
use serde_json::json;
use uuid::Uuid;

/// Doctor–patient pairs: pair `i`'s patient books only doctor `i`, one follow-up (15 min) after
/// another, so no two bookings of a run ever want the same slot or overlap for either side.
const PAIRS: usize = 100;
const THREADS: usize = 2;
const CONNECTIONS: usize = 8;
const _: () = assert!(
    PAIRS.is_multiple_of(THREADS),
    "each wrk thread books its own pairs"
);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let seconds: u64 = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(60);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let work = std::env::temp_dir().join(format!("careflow-load-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&work)?;

    let scratch = careflow_bench::ScratchDatabase::create("careflow_load").await?;

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let port = listener.local_addr()?.port();
    let settings = Settings {
        database_url: scratch.url.clone(),
        port,
        template: root.join("template.yaml"),
        state_dir: work.clone(),
        admin_email: "admin@clinic.example".into(),
        admin_password: Some("clinic keys for load 7".into()),
        issuer: None,
        audience: "careflow-api".into(),
        kafka_bootstrap_servers: None,
        stage: "loadbench".into(),
        web_root: None,
    };
    let stack = careflow_local::stack::start(&settings, port).await?;
    let app = stack.gateway.clone().router();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
    });
    let base = format!("http://127.0.0.1:{port}");

    // Accounts, availability (every day round the clock, UTC, no notice) and profiles.
    let db = stack.deps.accounts.pool().get().await?;
    let records = careflow::patient::store::RecordsTable::new(
        careflow_local::resources::dynamodb_client().await,
        stack.deps.aws.records_table.clone(),
    );
    let patients = careflow::patient::service::Patients::new(careflow::patient::care::Care::new(
        records,
        Default::default(),
    ));
    let availability = json!({
        "time_zone": "UTC",
        "weekly_hours": (1..=7).map(|d| json!({"weekday": d, "start": "00:00", "end": "24:00"})).collect::<Vec<_>>(),
        "exceptions": [],
        "appointment_types": ["consultation", "follow_up", "lab_review"],
        "slot_interval_minutes": 5,
        "buffer_minutes": 0,
        "minimum_notice_minutes": 0,
    });
    let mut pairs = Vec::new();
    for _ in 0..PAIRS {
        let (doctor, patient) = (Uuid::new_v4(), Uuid::new_v4());
        for (id, role) in [(doctor, Role::Doctor), (patient, Role::Patient)] {
            db.execute(
                "INSERT INTO users (id, email, password_hash, full_name, role, specialty)
                 VALUES ($1, $2, 'not-a-hash', 'Load Person', $3, $4)",
                &[
                    &id,
                    &format!("{id}@load.example"),
                    &role.as_str(),
                    &(role == Role::Doctor).then_some("General practice"),
                ],
            )
            .await?;
        }
        db.execute(
            "INSERT INTO doctor_availability (doctor_id, document) VALUES ($1, $2)",
            &[&doctor, &availability],
        )
        .await?;
        let caller = Caller {
            user_id: patient,
            role: Role::Patient,
        };
        let profile =
            json!({"full_name": "Jo Load", "date_of_birth": "1990-04-01", "sex": "female"});
        patients
            .create(&caller, patient, profile.as_object().unwrap().clone())
            .await
            .map_err(|e| anyhow::anyhow!("profile: {e}"))?;
        let token = stack
            .deps
            .issuer
            .issue(patient, Role::Patient, Amr::Password)?
            .token;
        pairs.push((doctor, patient, token));
    }
    drop(db);

    // Lua tables of the pairs, then one script per route.
    let table = pairs
        .iter()
        .map(|(d, p, t)| format!("{{d=\"{d}\", p=\"{p}\", t=\"{t}\"}}"))
        .collect::<Vec<_>>()
        .join(",\n");
    let first_slot = (Utc::now() + Duration::days(1)).duration_trunc(Duration::days(1))?;
    let common = format!(
        r#"people = {{ {table} }}
local n = #people
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
function init(args)
  counter = 0
end
"#
    );
    let scripts = [
        (
            "GET /patients/{id}",
            r#"function request()
  local pair = people[(counter + tid) % n + 1]
  counter = counter + 1
  return wrk.format("GET", "/patients/" .. pair.p, {["authorization"] = "Bearer " .. pair.t})
end
"#
            .to_owned(),
        ),
        (
            "POST /appointments",
            // Thread `tid` books the pairs it owns (i ≡ tid mod THREADS), each 15 minutes
            // after its previous booking.
            format!(
                r#"local first = {first}
local per_thread = n / {THREADS}
function request()
  local i = tid + {THREADS} * (counter % per_thread)
  local k = math.floor(counter / per_thread)
  counter = counter + 1
  local pair = people[i + 1]
  local start = os.date("!%Y-%m-%dT%H:%M:%SZ", first + k * 900)
  local body = '{{"doctor_id":"' .. pair.d .. '","start_time":"' .. start .. '","appointment_type":"follow_up","reason":"Load test"}}'
  return wrk.format("POST", "/appointments", {{["authorization"] = "Bearer " .. pair.t, ["content-type"] = "application/json"}}, body)
end
"#,
                first = first_slot.timestamp()
            ),
        ),
        (
            "GET /doctors/{id}/slots",
            format!(
                r#"function request()
  local pair = people[(counter + tid) % n + 1]
  counter = counter + 1
  return wrk.format("GET", "/doctors/" .. pair.d .. "/slots?type=follow_up&from={from}&to={to}", {{["authorization"] = "Bearer " .. pair.t}})
end
"#,
                from = first_slot.format("%Y-%m-%dT%H:%M:%SZ"),
                to = (first_slot + Duration::days(7)).format("%Y-%m-%dT%H:%M:%SZ")
            ),
        ),
    ];
    let report = r#"
function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format("RESULT requests=%d rps=%.1f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f connect=%d read=%d write=%d status=%d timeout=%d\n",
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    errors.connect, errors.read, errors.write, errors.status, errors.timeout))
end
"#;

    let mut failures = Vec::new();
    let mut rows = Vec::new();
    for (route, body) in scripts {
        let path = work.join("script.lua");
        std::fs::write(&path, format!("{common}{body}{report}"))?;
        println!("\n== {route}: wrk -t{THREADS} -c{CONNECTIONS} -d{seconds}s");
        let output = tokio::task::spawn_blocking({
            let base = base.clone();
            move || {
                Command::new("wrk")
                    .args([
                        &format!("-t{THREADS}"),
                        &format!("-c{CONNECTIONS}"),
                        &format!("-d{seconds}s"),
                        "--latency",
                        "-s",
                    ])
                    .arg(&path)
                    .arg(&base)
                    .output()
            }
        })
        .await??;
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        print!("{stdout}");
        anyhow::ensure!(
            output.status.success(),
            "wrk failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let result = stdout
            .lines()
            .find_map(|l| l.strip_prefix("RESULT "))
            .ok_or_else(|| anyhow::anyhow!("wrk printed no RESULT line"))?;
        let field = |name: &str| -> f64 {
            result
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
                .and_then(|v| v.parse().ok())
                .unwrap_or(f64::NAN)
        };
        let errors: f64 = ["connect", "read", "write", "status", "timeout"]
            .iter()
            .map(|k| field(k))
            .sum();
        if errors != 0.0 {
            failures.push(format!(
                "{route}: {errors} errors or non-2xx answers ({result})"
            ));
        }
        rows.push(format!(
            "| `{route}` | {} s | {:.0} | {:.0} | {:.2} ms | {:.2} ms | {:.0} |",
            seconds,
            field("requests"),
            field("rps"),
            field("p50_ms"),
            field("p99_ms"),
            errors
        ));
    }
    let booked: i64 = stack
        .deps
        .accounts
        .pool()
        .get()
        .await?
        .query_one("SELECT count(*) FROM appointments", &[])
        .await?
        .get(0);
    println!(
        "\n| route | duration | requests | requests/s | p50 | p99 | errors (incl. 4xx/5xx) |\n|---|---|---|---|---|---|---|"
    );
    for row in rows {
        println!("{row}");
    }
    println!("\nappointments booked: {booked}");
    drop(stack);
    scratch.remove().await;
    std::fs::remove_dir_all(&work).ok();
    anyhow::ensure!(failures.is_empty(), "{}", failures.join("\n"));
    Ok(())
}
