//! Tracing set-up: JSON lines in Lambda (CloudWatch parses them), readable text locally.
//!
//! Nothing in CareFlow logs request bodies, tokens, passwords or patient data: handlers log
//! ids and outcomes only, and [`crate::Error`] sources are logged through
//! `http::log_failure`, which reduces database errors to their SQLSTATE.

use tracing_subscriber::{EnvFilter, fmt};

/// Installs the global subscriber once; later calls are no-ops (tests call it freely).
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // JSON in Lambda and on Cloud Run (`K_SERVICE`): both platforms parse JSON log lines.
    let in_lambda = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some()
        || std::env::var_os("K_SERVICE").is_some();
    let result = if in_lambda {
        fmt()
            .json()
            .with_env_filter(filter)
            .with_current_span(false)
            .with_ansi(false)
            .without_time() // CloudWatch stamps every line itself.
            .with_target(false)
            .try_init()
    } else {
        fmt().with_env_filter(filter).with_target(false).try_init()
    };
    // Already installed (tests, or the local runner hosting many functions): keep the first.
    let _ = result;
}
