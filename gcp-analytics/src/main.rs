//! Cloud Run entry point: env config, JSON logs, SIGTERM → graceful stop.

use gcp_analytics::{Config, run};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    careflow::telemetry::init();
    let config = Config::from_env()?;
    let shutdown = async {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    };
    let result = run(config, shutdown).await;
    if let Err(e) = &result {
        tracing::error!(error = format!("{e:#}"), "gcp-analytics stopped");
    }
    result
}
