//! Counters for `/metrics` (Prometheus text format) and the readiness probe.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

#[derive(Debug)]
pub struct Metrics {
    started: Instant,
    pub events_in: AtomicU64,
    pub late_events: AtomicU64,
    pub replayed_events: AtomicU64,
    pub duplicate_events: AtomicU64,
    pub invalid_events: AtomicU64,
    pub windows_emitted: AtomicU64,
    pub results_emitted: AtomicU64,
    pub commits: AtomicU64,
    pub rebalances: AtomicU64,
    pub assigned: AtomicU64,
    pub lag: AtomicU64,
    /// Joined the group (an assignment arrived, possibly empty) and not yet closing.
    pub joined: AtomicBool,
    last_poll_ms: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            events_in: AtomicU64::new(0),
            late_events: AtomicU64::new(0),
            replayed_events: AtomicU64::new(0),
            duplicate_events: AtomicU64::new(0),
            invalid_events: AtomicU64::new(0),
            windows_emitted: AtomicU64::new(0),
            results_emitted: AtomicU64::new(0),
            commits: AtomicU64::new(0),
            rebalances: AtomicU64::new(0),
            assigned: AtomicU64::new(0),
            lag: AtomicU64::new(0),
            joined: AtomicBool::new(false),
            last_poll_ms: AtomicU64::new(0),
        }
    }
}

impl Metrics {
    /// Records that the poll loop is alive.
    pub(crate) fn touch(&self) {
        self.last_poll_ms
            .store(self.started.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// Ready: in the group and polling (the loop came round within the last 10 s).
    pub fn ready(&self) -> bool {
        let since_poll = self.started.elapsed().as_millis() as u64
            - self
                .last_poll_ms
                .load(Ordering::Relaxed)
                .min(self.started.elapsed().as_millis() as u64);
        self.joined.load(Ordering::Relaxed) && since_poll < 10_000
    }

    pub fn render(&self) -> String {
        let mut s = String::new();
        let mut line = |name: &str, kind: &str, help: &str, value: u64| {
            let _ = writeln!(
                s,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        };
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        line(
            "analytics_events_in_total",
            "counter",
            "Records consumed from the input topic.",
            get(&self.events_in),
        );
        line(
            "analytics_late_events_total",
            "counter",
            "Events later than the allowed lateness (not counted in their window).",
            get(&self.late_events),
        );
        line(
            "analytics_replayed_events_total",
            "counter",
            "Replayed records skipped as already accounted for.",
            get(&self.replayed_events),
        );
        line(
            "analytics_duplicate_events_total",
            "counter",
            "Redelivered copies of an event already counted in its window (not counted again).",
            get(&self.duplicate_events),
        );
        line(
            "analytics_invalid_events_total",
            "counter",
            "Records that are not appointment events (skipped).",
            get(&self.invalid_events),
        );
        line(
            "analytics_windows_emitted_total",
            "counter",
            "Partition windows closed and published.",
            get(&self.windows_emitted),
        );
        line(
            "analytics_results_emitted_total",
            "counter",
            "AnalyticsResult messages published.",
            get(&self.results_emitted),
        );
        line(
            "analytics_commits_total",
            "counter",
            "Offset commits (or committed transactions).",
            get(&self.commits),
        );
        line(
            "analytics_rebalances_total",
            "counter",
            "Rebalance callbacks.",
            get(&self.rebalances),
        );
        line(
            "analytics_assigned_partitions",
            "gauge",
            "Input partitions assigned to this instance.",
            get(&self.assigned),
        );
        line(
            "analytics_consumer_lag",
            "gauge",
            "Records behind the end of the assigned partitions.",
            get(&self.lag),
        );
        s
    }
}
