//! Analytics results for readers: the sink that keeps the latest result per key, and the
//! per-minute totals the portal charts.
//!
//! Results are deterministic per key (see gcp-analytics), so storing them is an idempotent
//! upsert: a replayed identical result changes nothing. Window totals are the sum of the
//! per-partition `total` results of a window.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::db::{self, PgPool};
use crate::events::analytics::{AnalyticsResult, Dimension};
use crate::events::{ApplyError, EventPayload, decode_envelope, payload};
use crate::{Error, Result};

/// One minute (one window) of appointment activity, all partitions summed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WindowTotals {
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub total: i64,
    pub cancellations: i64,
    pub reschedules: i64,
    pub attended: i64,
    pub no_shows: i64,
    pub late_events: i64,
}

/// `GET /analytics/appointments-per-minute`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PerMinute {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub windows: Vec<WindowTotals>,
}

/// The range a reader asks for: `to` defaults to a minute from `now` (the open window), `from`
/// to an hour before `to`; `from` must come before `to`, at most a day apart.
pub fn per_minute_range(
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>)> {
    use chrono::Duration;
    let given_to = to;
    let to = to.unwrap_or(now + Duration::minutes(1));
    let from = from.unwrap_or(to - Duration::hours(1));
    if from >= to {
        return Err(match given_to {
            Some(_) => Error::invalid("to", "must be after from"),
            None => Error::invalid("from", "must be before to (a minute from now by default)"),
        });
    }
    if to - from > Duration::days(1) {
        return Err(Error::invalid("from", "the range is at most one day"));
    }
    Ok((from, to))
}

#[derive(Clone)]
pub struct AnalyticsStore {
    pool: PgPool,
}

impl crate::config::FromVars for AnalyticsStore {
    async fn build(vars: &crate::config::Vars) -> Result<Self, crate::config::ConfigError> {
        Ok(Self::new(
            crate::db::DbConfig::from_vars(vars).await?.pool()?,
        ))
    }
}

impl AnalyticsStore {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Stores one `analytics-results` record value.
    pub async fn apply(&self, value: &[u8]) -> Result<(), ApplyError> {
        let raw = decode_envelope(value)?;
        if (raw.event_type.as_str(), raw.version)
            != (AnalyticsResult::TYPE, AnalyticsResult::VERSION)
        {
            return Err(ApplyError::Poison(format!(
                "unknown event type {} version {}",
                raw.event_type, raw.version
            )));
        }
        let result: AnalyticsResult = payload(&raw)?;
        let client = db::client(&self.pool).await?;
        let changed = client
            .execute(
                "INSERT INTO analytics_results (result_key, window_start, window_end, partition, dimension,
                                                value, appointments, cancellations, late_events, event_id,
                                                reschedules, attended, no_shows)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
                 ON CONFLICT (result_key) DO UPDATE SET
                     appointments = excluded.appointments, cancellations = excluded.cancellations,
                     reschedules = excluded.reschedules, attended = excluded.attended,
                     no_shows = excluded.no_shows,
                     late_events = excluded.late_events, event_id = excluded.event_id, received_at = now()
                 WHERE (analytics_results.appointments, analytics_results.cancellations,
                        analytics_results.reschedules, analytics_results.attended,
                        analytics_results.no_shows, analytics_results.late_events)
                       IS DISTINCT FROM (excluded.appointments, excluded.cancellations,
                                         excluded.reschedules, excluded.attended,
                                         excluded.no_shows, excluded.late_events)",
                &[
                    &result.key(),
                    &result.window_start,
                    &result.window_end,
                    &result.partition,
                    &result.dimension.as_str(),
                    &result.value,
                    &(result.appointments as i64),
                    &(result.cancellations as i64),
                    &(result.late_events as i64),
                    &raw.event_id,
                    &(result.reschedules as i64),
                    &(result.attended as i64),
                    &(result.no_shows as i64),
                ],
            )
            .await?;
        if changed == 1 {
            tracing::debug!(key = %result.key(), "analytics result stored");
        }
        Ok(())
    }

    /// Per-window totals of a range the caller names ([`per_minute_range`]), for admins. The
    /// range (`from`, `to`) is read only once the caller may see analytics.
    pub async fn per_minute_for(
        &self,
        caller: &crate::auth::Caller,
        range: impl FnOnce() -> Result<(Option<DateTime<Utc>>, Option<DateTime<Utc>>)>,
    ) -> Result<PerMinute> {
        crate::policy::read_analytics(caller)?;
        let (from, to) = range()?;
        let (from, to) = per_minute_range(from, to, Utc::now())?;
        let windows = self.per_minute(from, to).await?;
        Ok(PerMinute { from, to, windows })
    }

    /// Per-window totals with `from <= window_start < to`, oldest first.
    pub async fn per_minute(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<WindowTotals>> {
        let client = db::client(&self.pool).await?;
        let rows = client
            .query(
                "SELECT window_start, window_end, sum(appointments)::bigint AS total,
                        sum(cancellations)::bigint AS cancellations,
                        sum(reschedules)::bigint AS reschedules,
                        sum(attended)::bigint AS attended,
                        sum(no_shows)::bigint AS no_shows,
                        sum(late_events)::bigint AS late_events
                 FROM analytics_results
                 WHERE dimension = $3 AND window_start >= $1 AND window_start < $2
                 GROUP BY window_start, window_end
                 ORDER BY window_start",
                &[&from, &to, &Dimension::Total.as_str()],
            )
            .await
            .map_err(Error::from)?;
        use crate::db::column;
        rows.iter()
            .map(|r| {
                Ok(WindowTotals {
                    window_start: column(r, "window_start")?,
                    window_end: column(r, "window_end")?,
                    total: column(r, "total")?,
                    cancellations: column(r, "cancellations")?,
                    reschedules: column(r, "reschedules")?,
                    attended: column(r, "attended")?,
                    no_shows: column(r, "no_shows")?,
                    late_events: column(r, "late_events")?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    #[test]
    fn the_per_minute_range_defaults_and_limits() {
        let now = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
        let field = |r: Result<_>| match r {
            Err(Error::InvalidField { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            per_minute_range(None, None, now).unwrap(),
            (
                now + Duration::minutes(1) - Duration::hours(1),
                now + Duration::minutes(1)
            )
        );
        let to = now - Duration::hours(3);
        assert_eq!(
            per_minute_range(None, Some(to), now).unwrap(),
            (to - Duration::hours(1), to)
        );
        assert_eq!(field(per_minute_range(Some(to), Some(to), now)), "to");
        assert_eq!(
            field(per_minute_range(Some(now + Duration::hours(1)), None, now)),
            "from"
        );
        assert_eq!(
            field(per_minute_range(
                Some(to - Duration::days(2)),
                Some(to),
                now
            )),
            "from"
        );
        let day = per_minute_range(Some(to - Duration::days(1)), Some(to), now).unwrap();
        assert_eq!(day, (to - Duration::days(1), to));
    }
}
