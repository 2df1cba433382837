//! `AnalyticsResult` (topic `analytics-results`): appointment counts per tumbling window.
//! Defined by the gcp-analytics service (issue 7).
//!
//! One message per (window, input partition, dimension). Counts are *per input partition*
//! partials: appointment events are keyed by doctor id, so each partition's order is fixed and
//! each partial is deterministic; the window's figure for a dimension is the sum of its partials
//! over the partitions (a per-doctor figure lives in exactly one partition). A result is final
//! when published and re-published identically after a replay, so the record key
//! ([`AnalyticsResult::key`]) can be compacted: readers keep the last value per key.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::EventPayload;

/// What a result counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    /// Every appointment event of the window (`value` is null); carries `late_events`.
    Total,
    /// One doctor (`value` is the doctor id).
    Doctor,
    /// One appointment type (`value` is e.g. `consultation`).
    AppointmentType,
}

impl Dimension {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Total => "total",
            Self::Doctor => "doctor",
            Self::AppointmentType => "appointment_type",
        }
    }
}

/// Counts added after the first release are left out when zero, so a sink that predates them
/// still reads results that carry none.
fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalyticsResult {
    /// Inclusive start of the event-time window, aligned to the epoch.
    pub window_start: DateTime<Utc>,
    /// Exclusive end.
    pub window_end: DateTime<Utc>,
    /// Partition of `appointments` this partial count comes from.
    pub partition: i32,
    pub dimension: Dimension,
    /// The doctor id or appointment type; `None` for [`Dimension::Total`].
    pub value: Option<String>,
    /// `AppointmentCreated` events in the window.
    pub appointments: u64,
    /// `AppointmentCancelled` events in the window (their own metric, not subtracted).
    pub cancellations: u64,
    /// `AppointmentRescheduled` events in the window (absent in results from before moves
    /// existed: 0).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reschedules: u64,
    /// `AppointmentAttended` events in the window (by when attendance was recorded).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub attended: u64,
    /// `AppointmentNoShow` events in the window (by when the no-show was recorded).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub no_shows: u64,
    /// Events of this partition that arrived after their own window had closed (beyond the
    /// allowed lateness) while this window was the partition's oldest open one. They are not
    /// in any `appointments`/`cancellations` figure. Always 0 outside [`Dimension::Total`].
    pub late_events: u64,
}

impl AnalyticsResult {
    /// The record key: `{window_start}|{partition}|{dimension}[:{value}]`, e.g.
    /// `2026-12-01T09:00:00Z|2|doctor:6f1c…`. Unique per result; identical on replay.
    pub fn key(&self) -> String {
        result_key(
            self.window_start,
            self.partition,
            self.dimension,
            self.value.as_deref(),
        )
    }
}

/// See [`AnalyticsResult::key`].
pub fn result_key(
    window_start: DateTime<Utc>,
    partition: i32,
    dimension: Dimension,
    value: Option<&str>,
) -> String {
    let start = window_start.to_rfc3339_opts(SecondsFormat::AutoSi, true);
    match value {
        Some(value) => format!("{start}|{partition}|{}:{value}", dimension.as_str()),
        None => format!("{start}|{partition}|{}", dimension.as_str()),
    }
}

impl EventPayload for AnalyticsResult {
    const TYPE: &'static str = "AnalyticsResult";
    const VERSION: u32 = 1;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_and_json_shape() {
        let result = AnalyticsResult {
            window_start: "2026-12-01T09:00:00Z".parse().unwrap(),
            window_end: "2026-12-01T09:01:00Z".parse().unwrap(),
            partition: 2,
            dimension: Dimension::AppointmentType,
            value: Some("consultation".into()),
            appointments: 3,
            cancellations: 1,
            reschedules: 2,
            attended: 4,
            no_shows: 1,
            late_events: 0,
        };
        assert_eq!(
            result.key(),
            "2026-12-01T09:00:00Z|2|appointment_type:consultation"
        );
        let json = serde_json::to_value(&result).unwrap();
        assert_eq!(json["dimension"], "appointment_type");
        assert_eq!(
            serde_json::from_value::<AnalyticsResult>(json).unwrap(),
            result
        );
    }
}
