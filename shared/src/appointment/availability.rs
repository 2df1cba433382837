//! A doctor's availability: weekly hours in the doctor's IANA time zone, one-off exceptions,
//! the appointment types offered, the slot interval, buffers and minimum notice; and the free
//! start times it leaves ([`Availability::free_slots`]).
//!
//! Hours are local wall-clock times, so 09:00 Europe/Berlin stays 09:00 local across a DST
//! change. Each local time is turned into an instant with [`instant`]: a time that occurs twice
//! (clocks going back) is its first occurrence, a time that does not occur (clocks going
//! forward) is no start time, and an hour's end that does not occur is the first instant after
//! the gap. An appointment lies within one interval of one local day (intervals that touch on
//! the same day count as one); it never spans midnight.
//!
//! The exclusion constraints on `appointments` stay the final arbiter of overlaps: a slot
//! answered free can still be taken by someone else before it is booked (409).

use std::collections::BTreeMap;

use chrono::{
    DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike, Utc,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::AppointmentType;
use crate::{Error, Result};

/// The widest range one slot query may cover.
pub const MAX_RANGE_DAYS: i64 = 31;
/// Local times are on this grid (the booking grid).
pub const GRID_MINUTES: u16 = 5;
const MINUTES_PER_DAY: u16 = 24 * 60;
const MAX_INTERVALS_PER_DAY: usize = 8;
const MAX_EXCEPTIONS: usize = 400;
const MAX_BUFFER_MINUTES: u16 = 120;
const MAX_NOTICE_MINUTES: u32 = 30 * 24 * 60;

/// A doctor's availability as the API reads and writes it (`/doctors/{id}/availability`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AvailabilityDocument {
    /// IANA time zone of the hours, e.g. `Europe/Berlin`.
    pub time_zone: String,
    pub weekly_hours: Vec<WeeklyHours>,
    #[serde(default)]
    pub exceptions: Vec<ExceptionDay>,
    pub appointment_types: Vec<AppointmentType>,
    /// Start times are this far apart within an interval (5 to 120, a multiple of 5).
    #[serde(default = "default_interval")]
    pub slot_interval_minutes: u16,
    /// Free time kept before and after every appointment (0 to 120, a multiple of 5).
    #[serde(default)]
    pub buffer_minutes: u16,
    /// How long before its start an appointment may be booked at the latest.
    #[serde(default)]
    pub minimum_notice_minutes: u32,
}

fn default_interval() -> u16 {
    15
}

/// Open hours on one ISO weekday (1 = Monday).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeeklyHours {
    pub weekday: u8,
    pub start: String,
    pub end: String,
}

/// One local date whose hours replace the weekly ones: none (closed) or others (extra or
/// shorter hours).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExceptionDay {
    pub date: NaiveDate,
    pub hours: Vec<Hours>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hours {
    pub start: String,
    pub end: String,
}

/// Minutes after local midnight, `[start, end)`, end up to 24:00.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Span {
    start: u16,
    end: u16,
}

/// A validated availability: what booking and the slot lists use.
#[derive(Debug, Clone)]
pub struct Availability {
    time_zone: Tz,
    /// Index 0 = Monday; spans sorted, touching ones merged.
    weekly: [Vec<Span>; 7],
    exceptions: BTreeMap<NaiveDate, Vec<Span>>,
    types: Vec<AppointmentType>,
    interval: u16,
    buffer: u16,
    notice: u32,
}

/// An appointment already holding the doctor's time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// Why a start time is not bookable (the booking's 400 says which).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    TypeNotOffered,
    TooSoon,
    OutsideHours,
}

impl Refusal {
    pub fn into_error(self) -> Error {
        match self {
            Self::TypeNotOffered => {
                Error::invalid("appointment_type", "is not offered by this doctor")
            }
            Self::TooSoon => {
                Error::invalid("start_time", "is sooner than the doctor's minimum notice")
            }
            Self::OutsideHours => Error::invalid(
                "start_time",
                "is not one of the doctor's start times (see GET /doctors/{doctorId}/slots)",
            ),
        }
    }
}

fn parse_clock(field: &str, value: &str, allow_midnight_end: bool) -> Result<u16> {
    let bad = || Error::invalid(field, "must be a time HH:MM on a 5-minute grid");
    if allow_midnight_end && value == "24:00" {
        return Ok(MINUTES_PER_DAY);
    }
    let time = NaiveTime::parse_from_str(value, "%H:%M").map_err(|_| bad())?;
    if value.len() != 5 {
        return Err(bad());
    }
    let minutes = (time.hour() * 60 + time.minute()) as u16;
    if !minutes.is_multiple_of(GRID_MINUTES) {
        return Err(bad());
    }
    Ok(minutes)
}

fn clock(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// Parses one day's hours: each `[start, end)` non-empty, none overlapping; touching ones merged.
fn day_spans<'a>(
    field: &str,
    hours: impl Iterator<Item = (&'a str, &'a str)>,
) -> Result<Vec<Span>> {
    let mut spans = Vec::new();
    for (i, (start, end)) in hours.enumerate() {
        let start_m = parse_clock(&format!("{field}[{i}].start"), start, false)?;
        let end_m = parse_clock(&format!("{field}[{i}].end"), end, true)?;
        if end_m <= start_m {
            return Err(Error::invalid(
                format!("{field}[{i}].end"),
                "must be after start",
            ));
        }
        spans.push(Span {
            start: start_m,
            end: end_m,
        });
    }
    if spans.len() > MAX_INTERVALS_PER_DAY {
        return Err(Error::invalid(
            field,
            format!("at most {MAX_INTERVALS_PER_DAY} intervals a day"),
        ));
    }
    spans.sort();
    let mut merged: Vec<Span> = Vec::with_capacity(spans.len());
    for span in spans {
        match merged.last_mut() {
            Some(last) if span.start < last.end => {
                return Err(Error::invalid(
                    field,
                    "intervals of one day must not overlap",
                ));
            }
            Some(last) if span.start == last.end => last.end = span.end,
            _ => merged.push(span),
        }
    }
    Ok(merged)
}

impl AvailabilityDocument {
    /// Checks every field (errors name it, e.g. `weekly_hours[2].end`).
    pub fn validated(&self) -> Result<Availability> {
        let time_zone: Tz = self.time_zone.parse().map_err(|_| {
            Error::invalid("time_zone", "must be an IANA time zone, e.g. Europe/Berlin")
        })?;
        let mut by_day: [Vec<(usize, &WeeklyHours)>; 7] = Default::default();
        for (i, hours) in self.weekly_hours.iter().enumerate() {
            if !(1..=7).contains(&hours.weekday) {
                return Err(Error::invalid(
                    format!("weekly_hours[{i}].weekday"),
                    "must be 1 (Monday) to 7 (Sunday)",
                ));
            }
            by_day[usize::from(hours.weekday - 1)].push((i, hours));
        }
        let mut weekly: [Vec<Span>; 7] = Default::default();
        for (day, entries) in by_day.iter().enumerate() {
            // Errors name the entry's own index in the whole list for a bad time or an empty
            // interval, the list for overlaps.
            for (i, hours) in entries {
                let start = parse_clock(&format!("weekly_hours[{i}].start"), &hours.start, false)?;
                let end = parse_clock(&format!("weekly_hours[{i}].end"), &hours.end, true)?;
                if end <= start {
                    return Err(Error::invalid(
                        format!("weekly_hours[{i}].end"),
                        "must be after start",
                    ));
                }
            }
            weekly[day] = day_spans(
                "weekly_hours",
                entries
                    .iter()
                    .map(|(_, h)| (h.start.as_str(), h.end.as_str())),
            )?;
        }
        if self.exceptions.len() > MAX_EXCEPTIONS {
            return Err(Error::invalid(
                "exceptions",
                format!("at most {MAX_EXCEPTIONS} days"),
            ));
        }
        let mut exceptions = BTreeMap::new();
        for (i, day) in self.exceptions.iter().enumerate() {
            let spans = day_spans(
                &format!("exceptions[{i}].hours"),
                day.hours.iter().map(|h| (h.start.as_str(), h.end.as_str())),
            )?;
            if exceptions.insert(day.date, spans).is_some() {
                return Err(Error::invalid(
                    format!("exceptions[{i}].date"),
                    "appears twice",
                ));
            }
        }
        if self.appointment_types.is_empty() {
            return Err(Error::invalid(
                "appointment_types",
                "must name at least one appointment type",
            ));
        }
        let mut types = self.appointment_types.clone();
        types.sort_by_key(|t| t.as_str());
        types.dedup();
        if types.len() != self.appointment_types.len() {
            return Err(Error::invalid(
                "appointment_types",
                "must not repeat a type",
            ));
        }
        let interval = self.slot_interval_minutes;
        if !(GRID_MINUTES..=120).contains(&interval) || !interval.is_multiple_of(GRID_MINUTES) {
            return Err(Error::invalid(
                "slot_interval_minutes",
                "must be 5 to 120, a multiple of 5",
            ));
        }
        if self.buffer_minutes > MAX_BUFFER_MINUTES
            || !self.buffer_minutes.is_multiple_of(GRID_MINUTES)
        {
            return Err(Error::invalid(
                "buffer_minutes",
                "must be 0 to 120, a multiple of 5",
            ));
        }
        if self.minimum_notice_minutes > MAX_NOTICE_MINUTES {
            return Err(Error::invalid(
                "minimum_notice_minutes",
                format!("must be at most {MAX_NOTICE_MINUTES} (30 days)"),
            ));
        }
        Ok(Availability {
            time_zone,
            weekly,
            exceptions,
            types: self.appointment_types.clone(),
            interval,
            buffer: self.buffer_minutes,
            notice: self.minimum_notice_minutes,
        })
    }
}

/// The instant of local `date` + `minutes` in `tz`: the first occurrence of a repeated time;
/// `None` for a time skipped by a DST change.
pub fn instant(tz: Tz, date: NaiveDate, minutes: u16) -> Option<DateTime<Utc>> {
    let local: NaiveDateTime = date.and_hms_opt(0, 0, 0)? + Duration::minutes(minutes.into());
    tz.from_local_datetime(&local)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

/// The end of an interval as an instant: a skipped local time ends at the first instant after
/// the gap.
fn end_instant(tz: Tz, date: NaiveDate, minutes: u16) -> DateTime<Utc> {
    (0..=24 * 60)
        .step_by(usize::from(GRID_MINUTES))
        .find_map(|later: u32| {
            let local = date.and_hms_opt(0, 0, 0)?
                + Duration::minutes(i64::from(minutes) + i64::from(later));
            tz.from_local_datetime(&local)
                .earliest()
                .map(|t| t.with_timezone(&Utc))
        })
        .expect("a DST gap is shorter than a day")
}

impl Availability {
    pub fn time_zone(&self) -> Tz {
        self.time_zone
    }

    pub fn buffer(&self) -> Duration {
        Duration::minutes(self.buffer.into())
    }

    /// How long before its start an appointment can still be booked.
    pub fn notice(&self) -> Duration {
        Duration::minutes(self.notice.into())
    }

    pub fn offers(&self, kind: AppointmentType) -> bool {
        self.types.contains(&kind)
    }

    /// The hours of one local date: its exception, or its weekday's.
    fn spans_on(&self, date: NaiveDate) -> &[Span] {
        self.exceptions.get(&date).map_or_else(
            || &self.weekly[date.weekday().num_days_from_monday() as usize][..],
            |spans| &spans[..],
        )
    }

    /// The start times of `kind` in `[from, to)` that the hours, the notice (from `now`), the
    /// buffers around `busy` and the appointments in `busy` leave free, in time order.
    pub fn free_slots(
        &self,
        kind: AppointmentType,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
        busy: &[Busy],
    ) -> Vec<DateTime<Utc>> {
        if !self.offers(kind) || to <= from {
            return Vec::new();
        }
        let length = Duration::minutes(kind.duration_minutes().into());
        let earliest = from.max(now + Duration::minutes(self.notice.into()));
        let mut busy: Vec<Busy> = busy.to_vec();
        busy.sort_by_key(|b| b.start);
        let latest_end = latest_ends(&busy);
        let buffer = self.buffer();
        let tz = self.time_zone;
        // Local dates that can hold a start in range (an offset is under a day either way).
        let first = from
            .with_timezone(&tz)
            .date_naive()
            .pred_opt()
            .unwrap_or(NaiveDate::MIN);
        let last = to
            .with_timezone(&tz)
            .date_naive()
            .succ_opt()
            .unwrap_or(NaiveDate::MAX);
        let mut slots = Vec::new();
        let mut date = first;
        while date <= last {
            for span in self.spans_on(date) {
                let end = end_instant(tz, date, span.end);
                let mut minute = span.start;
                while minute < span.end {
                    if let Some(start) = instant(tz, date, minute)
                        && start >= earliest
                        && start < to
                        && start + length <= end
                        && is_clear(&busy, &latest_end, start - buffer, start + length + buffer)
                    {
                        slots.push(start);
                    }
                    minute += self.interval;
                }
            }
            date = match date.succ_opt() {
                Some(next) => next,
                None => break,
            };
        }
        slots.sort();
        slots.dedup();
        slots
    }

    /// Whether `start` is a start time of `kind` by the hours and notice alone (the buffers
    /// and overlaps are checked against the booked appointments by the caller).
    pub fn admits(
        &self,
        kind: AppointmentType,
        start: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> std::result::Result<(), Refusal> {
        if !self.offers(kind) {
            return Err(Refusal::TypeNotOffered);
        }
        if start < now + Duration::minutes(self.notice.into()) {
            return Err(Refusal::TooSoon);
        }
        let window_end = start + Duration::minutes(1);
        if self
            .free_slots(kind, start, window_end, now, &[])
            .contains(&start)
        {
            Ok(())
        } else {
            Err(Refusal::OutsideHours)
        }
    }

    /// The API form, times as HH:MM (touching intervals come back merged).
    pub fn document(&self) -> AvailabilityDocument {
        let hours = |spans: &[Span]| {
            spans
                .iter()
                .map(|s| Hours {
                    start: clock(s.start),
                    end: clock(s.end),
                })
                .collect::<Vec<_>>()
        };
        AvailabilityDocument {
            time_zone: self.time_zone.name().to_owned(),
            weekly_hours: self
                .weekly
                .iter()
                .enumerate()
                .flat_map(|(day, spans)| {
                    spans.iter().map(move |s| WeeklyHours {
                        weekday: day as u8 + 1,
                        start: clock(s.start),
                        end: clock(s.end),
                    })
                })
                .collect(),
            exceptions: self
                .exceptions
                .iter()
                .map(|(date, spans)| ExceptionDay {
                    date: *date,
                    hours: hours(spans),
                })
                .collect(),
            appointment_types: self.types.clone(),
            slot_interval_minutes: self.interval,
            buffer_minutes: self.buffer,
            minimum_notice_minutes: self.notice,
        }
    }
}

/// `latest[i]`: the latest end among `busy[..=i]` (`busy` sorted by start).
fn latest_ends(busy: &[Busy]) -> Vec<DateTime<Utc>> {
    busy.iter()
        .scan(DateTime::<Utc>::MIN_UTC, |latest, b| {
            *latest = (*latest).max(b.end);
            Some(*latest)
        })
        .collect()
}

/// No busy interval overlaps `[start, end)`: every one starting before `end` has ended by
/// `start`. A binary search and one lookup, so a month of a busy doctor's slots stays cheap.
fn is_clear(
    busy: &[Busy],
    latest_end: &[DateTime<Utc>],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> bool {
    let upto = busy.partition_point(|b| b.start < end);
    upto == 0 || latest_end[upto - 1] <= start
}

/// Checks a slot query's range: both ends given or defaulted, `to` after `from`, at most
/// [`MAX_RANGE_DAYS`].
pub fn slot_range(
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>)> {
    let from = from.unwrap_or(now);
    let to = to.unwrap_or(from + Duration::days(7));
    if to <= from {
        return Err(Error::invalid("to", "must be after from"));
    }
    if to - from > Duration::days(MAX_RANGE_DAYS) {
        return Err(Error::invalid(
            "to",
            format!("must be at most {MAX_RANGE_DAYS} days after from"),
        ));
    }
    Ok((from, to))
}

#[cfg(test)]
mod tests;
