//! Shared benchmark tools: a fake Lambda Runtime API that times a function's cold start, and
//! percentile summaries.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};

/// What one cold start took.
#[derive(Debug, Clone, Copy)]
pub struct ColdStart {
    /// Process spawn → first `GET /runtime/invocation/next` (clients built, ready for events).
    pub init: Duration,
    /// Process spawn → the first invocation's response posted.
    pub first_response: Duration,
}

#[derive(Default)]
struct RunState {
    started: Option<Instant>,
    ready: Option<Instant>,
    responded: Option<Instant>,
    served: bool,
    error: Option<String>,
}

#[derive(Clone)]
struct Api {
    state: Arc<Mutex<RunState>>,
    event: Arc<String>,
}

async fn next(State(api): State<Api>) -> axum::response::Response {
    let first = {
        let mut s = api.state.lock().unwrap();
        if s.ready.is_none() {
            s.ready = Some(Instant::now());
        }
        !std::mem::replace(&mut s.served, true)
    };
    if !first {
        // One invocation per cold start: park the function until it is killed.
        std::future::pending::<()>().await;
    }
    let deadline = (std::time::SystemTime::now() + Duration::from_secs(30))
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let mut headers = HeaderMap::new();
    headers.insert(
        "lambda-runtime-aws-request-id",
        "bench-0001".parse().unwrap(),
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

async fn response(State(api): State<Api>, UrlPath(_id): UrlPath<String>) -> StatusCode {
    api.state
        .lock()
        .unwrap()
        .responded
        .get_or_insert(Instant::now());
    StatusCode::ACCEPTED
}

async fn error(State(api): State<Api>, body: String) -> StatusCode {
    let mut s = api.state.lock().unwrap();
    s.error = Some(body);
    s.responded.get_or_insert(Instant::now());
    StatusCode::ACCEPTED
}

/// Starts `binary` as Lambda would (runtime API in `env`), feeds it `event` once, and times it.
pub async fn cold_start(
    binary: &Path,
    env: &[(String, String)],
    event: &str,
) -> anyhow::Result<ColdStart> {
    let api = Api {
        state: Arc::default(),
        event: Arc::new(event.to_owned()),
    };
    let router = axum::Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(response),
        )
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(error))
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
    api.state.lock().unwrap().started = Some(started);
    let mut child = command.spawn()?;
    let deadline = started + Duration::from_secs(30);
    let result = loop {
        {
            let s = api.state.lock().unwrap();
            if let Some(err) = &s.error {
                break Err(anyhow::anyhow!("function reported an error: {err}"));
            }
            if let (Some(ready), Some(responded)) = (s.ready, s.responded) {
                break Ok(ColdStart {
                    init: ready - started,
                    first_response: responded - started,
                });
            }
        }
        if Instant::now() > deadline {
            break Err(anyhow::anyhow!("no response within 30 s"));
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

/// p50 / p99 / mean of a set of durations, in milliseconds.
pub fn summary(samples: &mut [Duration]) -> (f64, f64, f64) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let pick = |q: f64| ms(samples[((samples.len() as f64 - 1.0) * q).round() as usize]);
    let mean = samples.iter().map(|d| ms(*d)).sum::<f64>() / samples.len() as f64;
    (pick(0.50), pick(0.99), mean)
}
