//! gcp-analytics: the Cloud Run service that counts appointments in event-time tumbling
//! windows. It consumes `appointments` (AppointmentCreated / AppointmentRescheduled /
//! AppointmentCancelled / AppointmentAttended / AppointmentNoShow, keyed by doctor id) and publishes `AnalyticsResult` messages to `analytics-results`.
//!
//! # Windows
//!
//! Windows are epoch-aligned tumbling windows on the envelope's `occurred_at` (size
//! `ANALYTICS_WINDOW_MS`, default one minute). All state is per input partition
//! ([`window::PartitionWindows`]): the watermark is the highest event time the partition has
//! shown minus the allowed lateness (`ANALYTICS_LATENESS_MS`), and a window closes when the
//! watermark passes its end. A partition that has reached its end and stayed silent for
//! `ANALYTICS_IDLE_TIMEOUT_MS` has its watermark advanced to processing time minus the lateness,
//! so its last windows do close. Each closed window yields one result per dimension: `total`,
//! each `doctor`, each `appointment_type`, with `appointments` (created), `cancellations`,
//! `reschedules`, `attended` and `no_shows` as separate metrics. An event whose window has already closed is *late*: it is never merged
//! into that window; it is counted in `late_events` of the partition's oldest open window (so
//! the late figure is as deterministic as the others) and in the `analytics_late_events_total`
//! metric. Kafka delivers at least once, so the same event (same `event_id`) may arrive twice:
//! a window counts each `event_id` once, and the other copies go to
//! `analytics_duplicate_events_total` (a copy arriving after its window closed is late).
//!
//! # Exactly-once results
//!
//! Layer 1, deterministic keyed results (always on, what the tests prove):
//! - A result is keyed `{window_start}|{partition}|{dimension}[:{value}]` and its content is a
//!   function of the partition's log alone: the partition's order is fixed, every watermark
//!   step is derived from it, and the one processing-time input (the idle advance) is recorded
//!   in Kafka before it has any effect. The envelope's `event_id` is derived from the key and
//!   `occurred_at` is the window end, so a replay re-publishes byte-identical messages that a
//!   reader (or a compacted topic) collapses. Counts are per-partition partials; the window
//!   total is the sum of the `total` partials of all partitions, each final and deterministic
//!   on its own (a doctor's events are all in one partition, so a per-doctor figure is a single
//!   partial; an appointment type's figure is the sum of its partials).
//! - Offsets are committed manually, only after every result published before the commit is
//!   acknowledged by the broker (idempotent producer, `acks=all`, then `flush`). The committed
//!   offset is the smallest offset still needed by an open window of the partition, and the
//!   commit's metadata carries the rest of the progress ([`window::Checkpoint`]): the next
//!   offset to process, the closed-window mark, the late events already counted for the
//!   oldest open window, and a pending idle advance with the offset at which it applies.
//! - On assignment (start, restart, rebalance) a partition is restored from that checkpoint and
//!   replayed from the committed offset. Replayed events below the recorded position whose
//!   window is closed are skipped (they are in a published window or in the restored late
//!   count), the others rebuild the open windows. So counts never double, closed windows never
//!   reopen, and every window emitted again has exactly the counts emitted before.
//! - Cooperative rebalancing: on revocation, the revoked partitions' results are flushed and
//!   their checkpoints committed before they are unassigned, then their state is dropped;
//!   on a lost assignment the state is dropped without committing. A zombie can only
//!   re-publish identical messages; its commits are fenced by the group generation, and an idle
//!   advance is applied only after its checkpoint commit succeeded.
//!
//! Layer 2, Kafka transactions (when `KAFKA_TRANSACTIONAL_ID` is set, e.g. on Confluent
//! Cloud): results are produced inside a transaction and the same checkpoints (offset and
//! metadata) go into it with `send_offsets_to_transaction`, so readers with
//! `isolation.level=read_committed` never see results of an uncommitted step. A failed
//! transaction stops the service (the windows it carried are gone from memory); the restart
//! replays from the last committed checkpoint. librdkafka's mock cluster does not enforce
//! transactions, so the tests prove layer 1 only.
//!
//! # Cloud Run
//!
//! [`run`] serves `/healthz`, `/readyz` and `/metrics` on `$PORT` and stops on the shutdown
//! future (SIGTERM in `main`) within Cloud Run's 10 s: the loop stops polling, commits, and
//! leaves the group. Configuration: [`Config::from_env`].

pub mod config;
mod consumer;
pub mod http;
pub mod metrics;
pub mod window;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;

pub use config::Config;
pub use consumer::{event_id, results_of};
pub use metrics::Metrics;

/// Runs the service until `shutdown` completes (then stops cleanly) or the consumer fails.
/// Serves HTTP on `config.port` (0: any free port; the address is logged).
pub async fn run(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    run_with_metrics(config, Arc::new(Metrics::default()), shutdown).await
}

/// [`run`] with caller-owned metrics (to watch progress in-process).
pub async fn run_with_metrics(
    config: Config,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(("0.0.0.0", config.port))
        .await
        .with_context(|| format!("cannot listen on port {}", config.port))?;
    tracing::info!(address = %listener.local_addr()?, "HTTP probes listening");
    let (http_stop_tx, http_stop_rx) = tokio::sync::oneshot::channel::<()>();
    let app = http::router(metrics.clone());
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = http_stop_rx.await;
            })
            .await
    });

    let stop = Arc::new(AtomicBool::new(false));
    let mut worker = {
        let (stop, metrics) = (stop.clone(), metrics.clone());
        tokio::task::spawn_blocking(move || consumer::consume(config, metrics, stop))
    };
    let result = tokio::select! {
        joined = &mut worker => joined.context("consumer thread panicked").and_then(|r| r),
        () = shutdown => {
            tracing::info!("shutting down");
            stop.store(true, Ordering::Relaxed);
            match tokio::time::timeout(Duration::from_secs(8), &mut worker).await {
                Ok(joined) => joined.context("consumer thread panicked").and_then(|r| r),
                Err(_) => Err(anyhow::anyhow!("consumer did not stop within 8 s")),
            }
        }
    };
    let _ = http_stop_tx.send(());
    let _ = server.await;
    result
}
