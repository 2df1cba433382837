//! Shared benchmark tools: a fake Lambda Runtime API that times a function's cold start, and
//! percentile summaries.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};

/// What one run of a function process took: its cold start, then any warm invocations.
#[derive(Debug, Clone)]
pub struct Run {
    /// Process spawn → first `GET /runtime/invocation/next` (clients built, ready for events).
    pub init: Duration,
    /// Process spawn → the first invocation's response posted.
    pub first_response: Duration,
    /// Each later invocation: event handed over → response posted.
    pub warm: Vec<Duration>,
    /// Peak resident set (`VmHWM`) when the function first asked for an event, in KiB.
    pub init_peak_rss_kib: u64,
    /// Peak resident set after the last invocation, in KiB: what `MemorySize` must hold.
    pub peak_rss_kib: u64,
    /// Invocations answered through `/error` (a handler error) or with a 5xx `statusCode`.
    pub errors: usize,
}

/// The same as [`Run`] for a single invocation.
pub type ColdStart = Run;

#[derive(Default)]
struct RunState {
    pid: Option<u32>,
    ready: Option<Instant>,
    init_peak_rss_kib: u64,
    /// When each invocation was handed over and answered.
    handed: Vec<Instant>,
    answered: Vec<Instant>,
    peak_rss_kib: u64,
    errors: usize,
    init_error: Option<String>,
}

#[derive(Clone)]
struct Api {
    state: Arc<Mutex<RunState>>,
    event: Arc<String>,
    invocations: usize,
}

/// `VmHWM` of a process, in KiB (0 when it cannot be read).
pub fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

async fn next(State(api): State<Api>) -> axum::response::Response {
    let id = {
        let mut s = api.state.lock().unwrap();
        if s.ready.is_none() {
            s.ready = Some(Instant::now());
            s.init_peak_rss_kib = s.pid.map_or(0, peak_rss_kib);
        }
        if s.handed.len() >= api.invocations {
            None
        } else {
            s.handed.push(Instant::now());
            Some(s.handed.len())
        }
    };
    let Some(id) = id else {
        // Every invocation served: park the function until it is killed.
        std::future::pending::<()>().await;
        unreachable!()
    };
    let deadline = (std::time::SystemTime::now() + Duration::from_secs(30))
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let mut headers = HeaderMap::new();
    headers.insert(
        "lambda-runtime-aws-request-id",
        format!("bench-{id:06}").parse().unwrap(),
    );
    headers.insert(
        "lambda-runtime-deadline-ms",
        deadline.to_string().parse().unwrap(),
    );
    headers.insert(
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:us-east-1:000000000000:function:bench"
            .parse()
            .unwrap(),
    );
    headers.insert(
        "lambda-runtime-trace-id",
        "Root=1-00000000-000000000000000000000000".parse().unwrap(),
    );
    headers.insert("content-type", "application/json".parse().unwrap());
    (StatusCode::OK, headers, api.event.as_str().to_owned()).into_response()
}

fn answered(api: &Api, error: bool) {
    let mut s = api.state.lock().unwrap();
    s.answered.push(Instant::now());
    s.errors += usize::from(error);
    if s.answered.len() == api.invocations {
        s.peak_rss_kib = s.pid.map_or(0, peak_rss_kib);
    }
}

/// A response counts as an error when it is an HTTP answer with a 5xx `statusCode` (what API
/// Gateway would turn into a server error), as well as when posted to `/error`.
async fn response(
    State(api): State<Api>,
    UrlPath(_id): UrlPath<String>,
    body: axum::body::Bytes,
) -> StatusCode {
    let server_error = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("statusCode").and_then(serde_json::Value::as_u64))
        .is_some_and(|status| status >= 500);
    answered(&api, server_error);
    StatusCode::ACCEPTED
}

async fn error(State(api): State<Api>, UrlPath(_id): UrlPath<String>) -> StatusCode {
    answered(&api, true);
    StatusCode::ACCEPTED
}

async fn init_error(State(api): State<Api>, body: String) -> StatusCode {
    api.state.lock().unwrap().init_error = Some(body);
    StatusCode::ACCEPTED
}

/// Starts `binary` as Lambda would (runtime API in `env`), feeds it `event` once, and times it.
pub async fn cold_start(
    binary: &Path,
    env: &[(String, String)],
    event: &str,
) -> anyhow::Result<ColdStart> {
    let run = run_function(binary, env, event, 1).await?;
    anyhow::ensure!(
        run.errors == 0,
        "the function answered its event with an error"
    );
    Ok(run)
}

/// Starts `binary` as Lambda would (runtime API in `env`), feeds it `event` `invocations` times
/// one after the other, and times each, reading its peak memory before it is killed.
pub async fn run_function(
    binary: &Path,
    env: &[(String, String)],
    event: &str,
    invocations: usize,
) -> anyhow::Result<Run> {
    let api = Api {
        state: Arc::default(),
        event: Arc::new(event.to_owned()),
        invocations: invocations.max(1),
    };
    let router = axum::Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(response),
        )
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state(api.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move { axum::serve(listener, router).await });

    let mut command = tokio::process::Command::new(binary);
    command
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    let started = Instant::now();
    let mut child = command.spawn()?;
    api.state.lock().unwrap().pid = child.id();
    let deadline = started + Duration::from_secs(30 + invocations as u64 / 10);
    let result = loop {
        {
            let s = api.state.lock().unwrap();
            if let Some(err) = &s.init_error {
                break Err(anyhow::anyhow!("function reported an init error: {err}"));
            }
            if let (Some(ready), true) = (s.ready, s.answered.len() >= api.invocations) {
                break Ok(Run {
                    init: ready - started,
                    first_response: s.answered[0] - started,
                    warm: s.handed[1..]
                        .iter()
                        .zip(&s.answered[1..])
                        .map(|(h, a)| *a - *h)
                        .collect(),
                    init_peak_rss_kib: s.init_peak_rss_kib,
                    peak_rss_kib: s.peak_rss_kib,
                    errors: s.errors,
                });
            }
        }
        if Instant::now() > deadline {
            break Err(anyhow::anyhow!("no response within the deadline"));
        }
        if let Some(status) = child.try_wait()? {
            break Err(anyhow::anyhow!("function exited early: {status}"));
        }
        tokio::time::sleep(Duration::from_micros(200)).await;
    };
    child.kill().await.ok();
    server.abort();
    result
}

/// A database of its own for one bench run, on the server `CAREFLOW_DATABASE_URL` (an admin
/// URL) names: one a crashed run left behind is dropped first.
pub struct ScratchDatabase {
    admin: tokio_postgres::Client,
    name: String,
    /// The URL of the new database.
    pub url: String,
}

impl ScratchDatabase {
    pub async fn create(name: &str) -> anyhow::Result<Self> {
        let admin_url = std::env::var("CAREFLOW_DATABASE_URL")?;
        let (admin, conn) = tokio_postgres::connect(&admin_url, tokio_postgres::NoTls).await?;
        tokio::spawn(conn);
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await?;
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await?;
        let server = admin_url
            .rsplit_once('/')
            .map_or(admin_url.as_str(), |(server, _)| server);
        Ok(Self {
            url: format!("{server}/{name}"),
            admin,
            name: name.to_owned(),
        })
    }

    /// Drops the database, with whatever connections are still open to it.
    pub async fn remove(self) {
        let name = &self.name;
        self.admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await
            .ok();
    }
}

/// p50 / p99 / mean of a set of durations, in milliseconds.
pub fn summary(samples: &mut [Duration]) -> (f64, f64, f64) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let pick = |q: f64| ms(samples[((samples.len() as f64 - 1.0) * q).round() as usize]);
    let mean = samples.iter().map(|d| ms(*d)).sum::<f64>() / samples.len() as f64;
    (pick(0.50), pick(0.99), mean)
}
