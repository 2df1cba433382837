use chrono::DurationRound;
use proptest::prelude::*;

use super::*;

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn hours(start: &str, end: &str) -> Hours {
    Hours {
        start: start.into(),
        end: end.into(),
    }
}

fn weekly(day: u8, start: &str, end: &str) -> WeeklyHours {
    WeeklyHours {
        weekday: day,
        start: start.into(),
        end: end.into(),
    }
}

fn document(time_zone: &str, weekly_hours: Vec<WeeklyHours>) -> AvailabilityDocument {
    AvailabilityDocument {
        time_zone: time_zone.into(),
        weekly_hours,
        exceptions: vec![],
        appointment_types: vec![AppointmentType::Consultation, AppointmentType::FollowUp],
        slot_interval_minutes: 30,
        buffer_minutes: 0,
        minimum_notice_minutes: 0,
    }
}

const LONG_AGO: &str = "2020-01-01T00:00:00Z";

#[test]
fn nine_oclock_in_berlin_stays_nine_across_both_dst_changes() {
    // Every day 09:00-10:00 Berlin; 2026's changes are on 29 March and 25 October.
    let av = document(
        "Europe/Berlin",
        (1..=7).map(|d| weekly(d, "09:00", "10:00")).collect(),
    )
    .validated()
    .unwrap();
    let slots = |from: &str, to: &str| {
        av.free_slots(
            AppointmentType::Consultation,
            utc(from),
            utc(to),
            utc(LONG_AGO),
            &[],
        )
    };
    assert_eq!(
        slots("2026-03-28T00:00:00Z", "2026-03-30T00:00:00Z"),
        vec![
            utc("2026-03-28T08:00:00Z"), // CET, UTC+1
            utc("2026-03-28T08:30:00Z"),
            utc("2026-03-29T07:00:00Z"), // CEST, UTC+2
            utc("2026-03-29T07:30:00Z"),
        ]
    );
    assert_eq!(
        slots("2026-10-24T00:00:00Z", "2026-10-26T00:00:00Z"),
        vec![
            utc("2026-10-24T07:00:00Z"),
            utc("2026-10-24T07:30:00Z"),
            utc("2026-10-25T08:00:00Z"),
            utc("2026-10-25T08:30:00Z"),
        ]
    );
}

#[test]
fn skipped_and_repeated_local_times() {
    // 01:00-05:00 New York on the spring change (2026-03-08: 02:00 -> 03:00) and the autumn
    // one (2026-11-01: 02:00 -> 01:00), every hour.
    let mut doc = document("America/New_York", vec![weekly(7, "01:00", "05:00")]);
    doc.slot_interval_minutes = 60;
    let av = doc.validated().unwrap();
    let on = |day: &str| {
        av.free_slots(
            AppointmentType::Consultation,
            utc(&format!("{day}T00:00:00Z")),
            utc(&format!("{day}T23:59:00Z")) + Duration::days(1),
            utc(LONG_AGO),
            &[],
        )
    };
    // 02:00 does not exist: 01:00 EST, 03:00 and 04:00 EDT.
    assert_eq!(
        on("2026-03-08"),
        vec![
            utc("2026-03-08T06:00:00Z"),
            utc("2026-03-08T07:00:00Z"),
            utc("2026-03-08T08:00:00Z"),
        ]
    );
    // 01:00 happens twice and is offered once, at its first occurrence.
    assert_eq!(
        on("2026-11-01"),
        vec![
            utc("2026-11-01T05:00:00Z"),
            utc("2026-11-01T07:00:00Z"),
            utc("2026-11-01T08:00:00Z"),
            utc("2026-11-01T09:00:00Z"),
        ]
    );
}

#[test]
fn exceptions_buffers_notice_and_types() {
    let mut doc = document(
        "UTC",
        (1..=5).map(|d| weekly(d, "09:00", "11:00")).collect(),
    );
    doc.exceptions = vec![
        ExceptionDay {
            date: "2026-12-24".parse().unwrap(), // a Thursday: closed
            hours: vec![],
        },
        ExceptionDay {
            date: "2026-12-26".parse().unwrap(), // a Saturday: extra hours
            hours: vec![hours("10:00", "11:00")],
        },
    ];
    doc.buffer_minutes = 10;
    doc.minimum_notice_minutes = 60;
    let av = doc.validated().unwrap();
    let now = utc("2026-12-23T08:45:00Z");
    let busy = [Busy {
        start: utc("2026-12-23T10:00:00Z"),
        end: utc("2026-12-23T10:30:00Z"),
    }];
    let slots = av.free_slots(
        AppointmentType::Consultation,
        utc("2026-12-23T00:00:00Z"),
        utc("2026-12-27T00:00:00Z"),
        now,
        &busy,
    );
    assert_eq!(
        slots,
        vec![
            // 09:00 and 09:30 are within the hour of notice; 10:00 is taken; 10:30 ends at
            // 11:00 but starts right after the busy one ends (no 10 minutes between).
            utc("2026-12-25T09:00:00Z"),
            utc("2026-12-25T09:30:00Z"),
            utc("2026-12-25T10:00:00Z"),
            utc("2026-12-25T10:30:00Z"),
            utc("2026-12-26T10:00:00Z"),
            utc("2026-12-26T10:30:00Z"),
        ]
    );
    assert!(
        av.free_slots(
            AppointmentType::LabReview,
            utc("2026-12-25T00:00:00Z"),
            utc("2026-12-26T00:00:00Z"),
            now,
            &[]
        )
        .is_empty()
    );
    assert_eq!(
        av.admits(AppointmentType::LabReview, utc("2026-12-25T09:00:00Z"), now),
        Err(Refusal::TypeNotOffered)
    );
    assert_eq!(
        av.admits(
            AppointmentType::Consultation,
            utc("2026-12-23T09:30:00Z"),
            now
        ),
        Err(Refusal::TooSoon)
    );
    assert_eq!(
        av.admits(
            AppointmentType::Consultation,
            utc("2026-12-24T09:00:00Z"),
            now
        ),
        Err(Refusal::OutsideHours)
    );
    assert_eq!(
        av.admits(
            AppointmentType::Consultation,
            utc("2026-12-25T09:15:00Z"),
            now
        ),
        Err(Refusal::OutsideHours)
    );
    assert_eq!(
        av.admits(
            AppointmentType::Consultation,
            utc("2026-12-25T10:45:00Z"),
            now
        ),
        Err(Refusal::OutsideHours)
    );
    assert_eq!(
        av.admits(
            AppointmentType::Consultation,
            utc("2026-12-25T10:30:00Z"),
            now
        ),
        Ok(())
    );
}

#[test]
fn bad_documents_name_the_field() {
    let field = |doc: AvailabilityDocument| {
        doc.validated()
            .unwrap_err()
            .problem()
            .field
            .unwrap_or_default()
    };
    let ok = || {
        document(
            "Europe/Berlin",
            vec![weekly(1, "09:00", "12:00"), weekly(1, "13:00", "17:00")],
        )
    };
    assert!(ok().validated().is_ok());
    let mut d = ok();
    d.time_zone = "Mars/Olympus".into();
    assert_eq!(field(d), "time_zone");
    let mut d = ok();
    d.weekly_hours[1].weekday = 8;
    assert_eq!(field(d), "weekly_hours[1].weekday");
    let mut d = ok();
    d.weekly_hours[1].end = "12:30".into();
    assert_eq!(field(d), "weekly_hours[1].end");
    // The index is the entry's place in the whole list, not within its weekday.
    let mut d = ok();
    d.weekly_hours.push(weekly(2, "10:00", "09:00"));
    assert_eq!(field(d), "weekly_hours[2].end");
    let mut d = ok();
    d.weekly_hours[0].start = "09:07".into();
    assert_eq!(field(d), "weekly_hours[0].start");
    let mut d = ok();
    d.weekly_hours[1].start = "11:00".into();
    assert_eq!(field(d), "weekly_hours");
    let mut d = ok();
    d.weekly_hours[0].start = "24:00".into();
    assert_eq!(field(d), "weekly_hours[0].start");
    let mut d = ok();
    d.appointment_types = vec![];
    assert_eq!(field(d), "appointment_types");
    let mut d = ok();
    d.appointment_types = vec![AppointmentType::FollowUp, AppointmentType::FollowUp];
    assert_eq!(field(d), "appointment_types");
    let mut d = ok();
    d.slot_interval_minutes = 7;
    assert_eq!(field(d), "slot_interval_minutes");
    let mut d = ok();
    d.buffer_minutes = 121;
    assert_eq!(field(d), "buffer_minutes");
    let mut d = ok();
    d.minimum_notice_minutes = 50_000;
    assert_eq!(field(d), "minimum_notice_minutes");
    let mut d = ok();
    d.exceptions = vec![
        ExceptionDay {
            date: "2026-12-24".parse().unwrap(),
            hours: vec![],
        },
        ExceptionDay {
            date: "2026-12-24".parse().unwrap(),
            hours: vec![],
        },
    ];
    assert_eq!(field(d), "exceptions[1].date");
    let mut d = ok();
    d.exceptions = vec![ExceptionDay {
        date: "2026-12-24".parse().unwrap(),
        hours: vec![hours("10:00", "09:00")],
    }];
    assert_eq!(field(d), "exceptions[0].hours[0].end");
    // Touching intervals are one; the document comes back merged.
    let mut d = ok();
    d.weekly_hours[1].start = "12:00".into();
    assert_eq!(
        d.validated().unwrap().document().weekly_hours,
        vec![weekly(1, "09:00", "17:00")]
    );
}

#[test]
fn slot_ranges_are_bounded() {
    let now = utc("2026-12-01T00:00:00Z");
    assert_eq!(
        slot_range(None, None, now).unwrap(),
        (now, now + Duration::days(7))
    );
    assert!(slot_range(Some(now), Some(now + Duration::days(31)), now).is_ok());
    let field = |r: Result<(DateTime<Utc>, DateTime<Utc>)>| r.unwrap_err().problem().field.unwrap();
    assert_eq!(
        field(slot_range(Some(now), Some(now + Duration::days(32)), now)),
        "to"
    );
    assert_eq!(field(slot_range(Some(now), Some(now), now)), "to");
}

// ------------------------------------------------------------------------------ brute force

/// The free start times by checking every 5-minute instant on its own: its local date and time,
/// whether that time is on the interval grid of one of the day's intervals, whether the whole
/// appointment ends within that interval, the notice, and every busy appointment with buffers.
/// Only for documents whose intervals do not touch (so none are merged).
fn brute_force(
    doc: &AvailabilityDocument,
    kind: AppointmentType,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
    busy: &[Busy],
) -> Vec<DateTime<Utc>> {
    let tz: Tz = doc.time_zone.parse().unwrap();
    let minutes = |s: &str| -> i64 {
        if s == "24:00" {
            1440
        } else {
            let t = NaiveTime::parse_from_str(s, "%H:%M").unwrap();
            i64::from(t.hour() * 60 + t.minute())
        }
    };
    let length = Duration::minutes(kind.duration_minutes().into());
    let buffer = Duration::minutes(doc.buffer_minutes.into());
    let mut out = Vec::new();
    if !doc.appointment_types.contains(&kind) {
        return out;
    }
    let step = Duration::minutes(5);
    let mut t = from.duration_trunc(step).unwrap();
    if t < from {
        t += step;
    }
    while t < to {
        let local = t.with_timezone(&tz).naive_local();
        let first_occurrence = tz
            .from_local_datetime(&local)
            .earliest()
            .map(|x| x.with_timezone(&Utc))
            == Some(t);
        let date = local.date();
        let minute = i64::from(local.hour() * 60 + local.minute());
        let spans: Vec<(i64, i64)> = match doc.exceptions.iter().find(|e| e.date == date) {
            Some(e) => e
                .hours
                .iter()
                .map(|h| (minutes(&h.start), minutes(&h.end)))
                .collect(),
            None => doc
                .weekly_hours
                .iter()
                .filter(|w| u32::from(w.weekday) == date.weekday().number_from_monday())
                .map(|w| (minutes(&w.start), minutes(&w.end)))
                .collect(),
        };
        let fits = spans.iter().any(|&(start, end)| {
            if !(start <= minute
                && minute < end
                && (minute - start) % i64::from(doc.slot_interval_minutes) == 0)
            {
                return false;
            }
            // The end as an instant: the local end, or the first instant after a skipped one.
            let end_instant = (0..=1440)
                .step_by(5)
                .find_map(|later| {
                    let naive = date.and_hms_opt(0, 0, 0).unwrap() + Duration::minutes(end + later);
                    tz.from_local_datetime(&naive).earliest()
                })
                .unwrap()
                .with_timezone(&Utc);
            t + length <= end_instant
        });
        let notice_ok = t >= now + Duration::minutes(doc.minimum_notice_minutes.into());
        let clear = busy
            .iter()
            .all(|b| b.end <= t - buffer || b.start >= t + length + buffer);
        if first_occurrence && fits && notice_ok && clear {
            out.push(t);
        }
        t += step;
    }
    out
}

const ZONES: &[&str] = &[
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe", // a 30-minute DST shift
    "Asia/Kathmandu",      // UTC+05:45
    "America/Santiago",
];

/// Cut points on the 5-minute grid, strictly increasing and never adjacent, paired into
/// intervals: up to `max` non-touching intervals in a day.
fn day_hours(max: usize) -> impl Strategy<Value = Vec<(u16, u16)>> {
    proptest::collection::btree_set(0u16..=288, 0..=max * 2).prop_map(|points| {
        // Distinct increasing points: consecutive pairs never touch or overlap.
        let points: Vec<u16> = points.into_iter().map(|p| p * 5).collect();
        points
            .chunks_exact(2)
            .map(|c| (c[0], c[1]))
            .collect::<Vec<_>>()
    })
}

fn as_hours(spans: &[(u16, u16)]) -> Vec<(String, String)> {
    spans.iter().map(|&(s, e)| (clock(s), clock(e))).collect()
}

fn kinds() -> impl Strategy<Value = AppointmentType> {
    prop_oneof![
        Just(AppointmentType::Consultation),
        Just(AppointmentType::FollowUp),
        Just(AppointmentType::LabReview)
    ]
}

prop_compose! {
    fn documents()(
        zone in proptest::sample::select(ZONES),
        week in proptest::collection::vec(day_hours(2), 7),
        exceptions in proptest::collection::vec((0i64..40, day_hours(2)), 0..6),
        types in proptest::sample::subsequence(vec![AppointmentType::Consultation, AppointmentType::FollowUp, AppointmentType::LabReview], 1..=3),
        interval in proptest::sample::select(vec![5u16, 10, 15, 20, 30, 45, 60]),
        buffer in proptest::sample::select(vec![0u16, 5, 10, 15, 30]),
        notice in proptest::sample::select(vec![0u32, 30, 60, 24 * 60]),
    ) -> AvailabilityDocument {
        let base: NaiveDate = "2026-03-01".parse().unwrap();
        let mut seen = std::collections::BTreeSet::new();
        AvailabilityDocument {
            time_zone: zone.into(),
            weekly_hours: week.iter().enumerate().flat_map(|(day, spans)| {
                as_hours(spans).into_iter().map(move |(start, end)| WeeklyHours { weekday: day as u8 + 1, start, end })
            }).collect(),
            exceptions: exceptions.into_iter()
                .filter(|(offset, _)| seen.insert(*offset))
                .map(|(offset, spans)| ExceptionDay {
                    date: base + Duration::days(offset),
                    hours: as_hours(&spans).into_iter().map(|(start, end)| Hours { start, end }).collect(),
                })
                .collect(),
            appointment_types: types,
            slot_interval_minutes: interval,
            buffer_minutes: buffer,
            minimum_notice_minutes: notice,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Ranges around March's and April's DST changes (northern spring, southern autumn), with
    /// up to 40 booked appointments anywhere in them.
    #[test]
    fn slot_lists_equal_the_brute_force(
        doc in documents(),
        kind in kinds(),
        from_minutes in 0i64..(40 * 24 * 12),
        days in 1i64..=31,
        now_offset in -(3i64 * 24 * 12)..(10 * 24 * 12),
        busy in proptest::collection::vec((0i64..(45 * 24 * 12), 1i64..=24), 0..40),
    ) {
        let av = doc.validated().unwrap();
        let base = utc("2026-03-01T00:00:00Z");
        let from = base + Duration::minutes(from_minutes * 5);
        let to = from + Duration::days(days);
        let now = from + Duration::minutes(now_offset * 5);
        let busy: Vec<Busy> = busy
            .iter()
            .map(|&(start, length)| {
                let start = base + Duration::minutes(start * 5);
                Busy { start, end: start + Duration::minutes(length * 5) }
            })
            .collect();
        let fast = av.free_slots(kind, from, to, now, &busy);
        let slow = brute_force(&doc, kind, from, to, now, &busy);
        prop_assert_eq!(fast, slow);
    }
}
