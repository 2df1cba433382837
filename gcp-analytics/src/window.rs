//! The windowing core: one [`PartitionWindows`] per assigned input partition. No I/O: it takes
//! decoded events in offset order and returns closed windows and checkpoints.
//!
//! Rules (a reader's batch recomputation follows the same ones):
//! - window of an event = `[floor(t / size) * size, … + size)` (epoch-aligned event time, ms);
//! - closed mark `C` = the largest window boundary at or below the watermark
//!   (`highest event time seen - lateness`), raised further only by a recorded idle advance;
//!   every window ending at or before `C` is closed, and emitted when it closes;
//! - an event whose window ends at or before `C` is late: it is not counted in any window but
//!   adds one to `late_events` of the window `[C, C + size)` (the oldest one still open), so late
//!   counts are as deterministic as the others;
//! - an event whose `event_id` its open window has already counted is a duplicate (delivery is
//!   at least once: the outbox relay may publish a row twice) and is not counted again. Copies
//!   of one event share its key, so they land in one partition and one window. A copy arriving
//!   after its window closed is counted as late, since a closed window's ids are gone.
//!
//! Checkpoint `(resume, p, C, l, a)`: `resume` = smallest offset an open window still needs
//! (committed offset), `p` = next offset to process, `C` = closed mark, `l` = late events already
//! counted for window `[C, C+size)`, `a` = an idle advance of `C` to apply when reaching offset `a.0`.
//! Restoring it and replaying from `resume` skips the events below `p` whose window is closed
//! (already published, or already in `l`) and recounts the rest: the state at `p` is the same as
//! before the crash, so every window is re-emitted with the same counts.

use std::collections::{BTreeMap, HashMap, HashSet};

use uuid::Uuid;

/// Window size and allowed lateness, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowConfig {
    pub size_ms: i64,
    pub lateness_ms: i64,
}

impl Default for WindowConfig {
    fn default() -> Self {
        Self {
            size_ms: 60_000,
            lateness_ms: 10_000,
        }
    }
}

impl WindowConfig {
    pub fn window_start(&self, t: i64) -> i64 {
        t - t.rem_euclid(self.size_ms)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Created,
    Cancelled,
    Rescheduled,
    Attended,
    NoShow,
}

/// A decoded appointment event: all the core needs.
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    /// The envelope's `event_id`: what makes a redelivered copy recognisable.
    pub id: Uuid,
    /// `occurred_at`, ms since the epoch.
    pub time_ms: i64,
    pub doctor: Uuid,
    pub appointment_type: &'a str,
    pub kind: Kind,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub appointments: u64,
    pub cancellations: u64,
    pub reschedules: u64,
    pub attended: u64,
    pub no_shows: u64,
}

impl Counts {
    fn add(&mut self, kind: Kind) {
        match kind {
            Kind::Created => self.appointments += 1,
            Kind::Cancelled => self.cancellations += 1,
            Kind::Rescheduled => self.reschedules += 1,
            Kind::Attended => self.attended += 1,
            Kind::NoShow => self.no_shows += 1,
        }
    }
}

/// A window that closed, with its counts in a deterministic order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosedWindow {
    pub partition: i32,
    pub start_ms: i64,
    pub end_ms: i64,
    pub total: Counts,
    pub late_events: u64,
    /// Sorted by doctor id.
    pub doctors: Vec<(Uuid, Counts)>,
    /// Sorted by type.
    pub types: Vec<(String, Counts)>,
}

/// What to commit for a partition: offset `resume` with `metadata()` as the offset metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    pub resume: i64,
    pub position: i64,
    pub closed: i64,
    pub late: u64,
    pub advance: Option<(i64, i64)>,
}

const NONE: i64 = i64::MIN;

impl Checkpoint {
    /// Offset-commit metadata, e.g. `cf1;p=120;c=1764579600000;l=2;a=120:1764579660000`.
    pub fn metadata(&self) -> String {
        let closed = if self.closed == NONE {
            "-".to_owned()
        } else {
            self.closed.to_string()
        };
        let mut s = format!("cf1;p={};c={closed};l={}", self.position, self.late);
        if let Some((at, mark)) = self.advance {
            s.push_str(&format!(";a={at}:{mark}"));
        }
        s
    }

    /// Parses [`Checkpoint::metadata`]; `None` for anything else (a fresh partition).
    pub fn parse(resume: i64, metadata: &str) -> Option<Self> {
        let mut parts = metadata.split(';');
        if parts.next()? != "cf1" {
            return None;
        }
        let (mut position, mut closed, mut late, mut advance) = (None, None, 0, None);
        for part in parts {
            let (k, v) = part.split_once('=')?;
            match k {
                "p" => position = Some(v.parse().ok()?),
                "c" => closed = Some(if v == "-" { NONE } else { v.parse().ok()? }),
                "l" => late = v.parse().ok()?,
                "a" => {
                    let (at, mark) = v.split_once(':')?;
                    advance = Some((at.parse().ok()?, mark.parse().ok()?));
                }
                _ => {}
            }
        }
        Some(Self {
            resume,
            position: position?,
            closed: closed?,
            late,
            advance,
        })
    }
}

#[derive(Debug)]
struct Window {
    /// First offset of an on-time event (late events are carried by the checkpoint's `l`).
    first_offset: Option<i64>,
    total: Counts,
    late: u64,
    doctors: HashMap<Uuid, Counts>,
    types: HashMap<u32, Counts>,
    /// Event ids counted here. A replay from the checkpoint's `resume` offset sees every
    /// event of an open window again, so this set is rebuilt exactly after a restart.
    ids: HashSet<Uuid>,
}

impl Window {
    fn new() -> Self {
        Self {
            first_offset: None,
            total: Counts::default(),
            late: 0,
            doctors: HashMap::new(),
            types: HashMap::new(),
            ids: HashSet::new(),
        }
    }
}

/// What [`PartitionWindows::process`] did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Counted,
    Late,
    /// Another copy of an event this window already counted.
    Duplicate,
    /// Replayed event already accounted for before the last checkpoint.
    Skipped,
}

/// The open windows, watermark and closed mark of one input partition.
#[derive(Debug)]
pub struct PartitionWindows {
    partition: i32,
    cfg: WindowConfig,
    windows: BTreeMap<i64, Window>,
    closed: i64,
    max_time: i64,
    position: i64,
    skip_below: i64,
    pending: Option<(i64, i64)>,
    type_ids: HashMap<Box<str>, u32>,
    type_names: Vec<Box<str>>,
}

impl PartitionWindows {
    /// A partition with no checkpoint: replay starts at `start_offset` (usually the log start).
    pub fn new(partition: i32, cfg: WindowConfig, start_offset: i64) -> Self {
        Self {
            partition,
            cfg,
            windows: BTreeMap::new(),
            closed: NONE,
            max_time: NONE,
            position: start_offset,
            skip_below: NONE,
            pending: None,
            type_ids: HashMap::new(),
            type_names: Vec::new(),
        }
    }

    /// Resumes from a committed checkpoint; replay must start at `checkpoint.resume`.
    /// Windows an idle advance closes at once are pushed to `out`.
    pub fn restore(
        partition: i32,
        cfg: WindowConfig,
        checkpoint: Checkpoint,
        out: &mut Vec<ClosedWindow>,
    ) -> Self {
        let mut state = Self::new(partition, cfg, checkpoint.resume);
        state.closed = checkpoint.closed;
        state.skip_below = checkpoint.position;
        state.pending = checkpoint.advance;
        if checkpoint.late > 0 && checkpoint.closed != NONE {
            state
                .windows
                .entry(checkpoint.closed)
                .or_insert_with(Window::new)
                .late = checkpoint.late;
        }
        state.apply_pending(out);
        state
    }

    pub fn partition(&self) -> i32 {
        self.partition
    }

    /// Next offset to process.
    pub fn position(&self) -> i64 {
        self.position
    }

    pub fn closed_mark(&self) -> i64 {
        self.closed
    }

    pub fn open_windows(&self) -> usize {
        self.windows.len()
    }

    /// Highest event time seen since this state was created (`i64::MIN` if none).
    pub fn max_event_time(&self) -> i64 {
        self.max_time
    }

    /// Counts one event at `offset` (offsets must increase); closed windows go to `out`.
    pub fn process(
        &mut self,
        offset: i64,
        event: &Event<'_>,
        out: &mut Vec<ClosedWindow>,
    ) -> Outcome {
        self.position = offset + 1;
        let start = self.cfg.window_start(event.time_ms);
        let end = start + self.cfg.size_ms;
        let outcome = if end <= self.closed {
            if offset < self.skip_below {
                Outcome::Skipped
            } else {
                self.windows
                    .entry(self.closed)
                    .or_insert_with(Window::new)
                    .late += 1;
                Outcome::Late
            }
        } else {
            let type_id = self.type_id(event.appointment_type);
            let window = self.windows.entry(start).or_insert_with(Window::new);
            if !window.ids.insert(event.id) {
                // A copy met again while replaying up to the checkpoint was reported the first
                // time.
                if offset < self.skip_below {
                    Outcome::Skipped
                } else {
                    Outcome::Duplicate
                }
            } else {
                window.first_offset.get_or_insert(offset);
                window.total.add(event.kind);
                window
                    .doctors
                    .entry(event.doctor)
                    .or_default()
                    .add(event.kind);
                window.types.entry(type_id).or_default().add(event.kind);
                Outcome::Counted
            }
        };
        if event.time_ms > self.max_time {
            self.max_time = event.time_ms;
            let mark = self
                .cfg
                .window_start(self.max_time.saturating_sub(self.cfg.lateness_ms));
            if mark > self.closed {
                self.close_up_to(mark, out);
            }
        }
        self.apply_pending(out);
        outcome
    }

    /// Moves past a record that is not an event (undecodable): it only advances the position.
    pub fn skip(&mut self, offset: i64, out: &mut Vec<ClosedWindow>) {
        self.position = offset + 1;
        self.apply_pending(out);
    }

    /// The checkpoint to commit now.
    pub fn checkpoint(&self) -> Checkpoint {
        let resume = self
            .windows
            .values()
            .filter_map(|w| w.first_offset)
            .min()
            .map_or(self.position, |first| first.min(self.position));
        let late = if self.closed == NONE {
            0
        } else {
            self.windows.get(&self.closed).map_or(0, |w| w.late)
        };
        Checkpoint {
            resume,
            position: self.position.max(self.skip_below),
            closed: self.closed,
            late,
            advance: self.pending,
        }
    }

    /// The closed mark an idle advance to watermark `watermark_ms` would set, if it closes at
    /// least one window. Commit `checkpoint()` with `advance = Some((position, mark))` first,
    /// then call [`PartitionWindows::advance`]: a replay then makes the same decision at the
    /// same offset.
    pub fn idle_mark(&self, watermark_ms: i64) -> Option<i64> {
        let mark = self.cfg.window_start(watermark_ms);
        let (&first, _) = self.windows.first_key_value()?;
        (mark > self.closed && first + self.cfg.size_ms <= mark).then_some(mark)
    }

    /// Raises the closed mark (idle advance), closing windows.
    pub fn advance(&mut self, mark: i64, out: &mut Vec<ClosedWindow>) {
        if mark > self.closed {
            self.close_up_to(mark, out);
        }
    }

    fn apply_pending(&mut self, out: &mut Vec<ClosedWindow>) {
        if let Some((at, mark)) = self.pending
            && self.position >= at
        {
            self.pending = None;
            self.advance(mark, out);
        }
    }

    fn type_id(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.type_ids.get(name) {
            return id;
        }
        let id = self.type_names.len() as u32;
        self.type_names.push(name.into());
        self.type_ids.insert(name.into(), id);
        id
    }

    fn close_up_to(&mut self, mark: i64, out: &mut Vec<ClosedWindow>) {
        self.closed = mark;
        while let Some(entry) = self.windows.first_entry() {
            let start = *entry.key();
            if start + self.cfg.size_ms > mark {
                break;
            }
            let window = entry.remove();
            let mut doctors: Vec<(Uuid, Counts)> = window.doctors.into_iter().collect();
            doctors.sort_unstable_by_key(|(d, _)| *d);
            let mut types: Vec<(String, Counts)> = window
                .types
                .into_iter()
                .map(|(id, c)| (self.type_names[id as usize].to_string(), c))
                .collect();
            types.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            out.push(ClosedWindow {
                partition: self.partition,
                start_ms: start,
                end_ms: start + self.cfg.size_ms,
                total: window.total,
                late_events: window.late,
                doctors,
                types,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TYPES: [&str; 3] = ["consultation", "follow_up", "lab_review"];

    type Record = (i64, Uuid, usize, Kind, Uuid);

    /// A stream of records (time, doctor, type, kind, event id): mostly in order, some a little
    /// late, some far too late, and every 23rd record another copy of one of the three before.
    fn events(n: usize, seed: u64) -> Vec<Record> {
        let mut rng = fastrand::Rng::with_seed(seed);
        let doctors: Vec<Uuid> = (0..5).map(|i| Uuid::from_u128(i + 1)).collect();
        let mut t = 1_000_000i64;
        let mut out: Vec<Record> = Vec::with_capacity(n);
        for i in 0..n {
            if i % 23 == 22 {
                let copy = out[i - 1 - rng.usize(0..3)];
                out.push(copy);
                continue;
            }
            t += rng.i64(0..400);
            let jitter = match rng.u8(0..20) {
                0 => -rng.i64(3_000..10_000),
                1..=4 => -rng.i64(0..1_500),
                _ => 0,
            };
            let kind = if rng.u8(0..10) == 0 {
                Kind::Cancelled
            } else {
                Kind::Created
            };
            let id = Uuid::from_u128(0xE000_0000 + i as u128);
            out.push((
                t + jitter,
                doctors[rng.usize(0..5)],
                rng.usize(0..3),
                kind,
                id,
            ));
        }
        out
    }

    fn ev(e: &Record) -> Event<'static> {
        Event {
            id: e.4,
            time_ms: e.0,
            doctor: e.1,
            appointment_type: TYPES[e.2],
            kind: e.3,
        }
    }

    const CFG: WindowConfig = WindowConfig {
        size_ms: 1_000,
        lateness_ms: 500,
    };

    fn run_clean(evs: &[Record], idle_at: &[(i64, i64)]) -> Vec<ClosedWindow> {
        let mut out = Vec::new();
        let mut p = PartitionWindows::new(0, CFG, 0);
        for (offset, e) in evs.iter().enumerate() {
            p.process(offset as i64, &ev(e), &mut out);
            for &(at, wm) in idle_at {
                if at == offset as i64 + 1
                    && let Some(mark) = p.idle_mark(wm)
                {
                    p.advance(mark, &mut out);
                }
            }
        }
        p.advance(i64::MAX / 2, &mut out);
        out
    }

    #[test]
    fn counts_add_up_and_late_events_and_copies_are_separate() {
        let evs = events(5_000, 1);
        let mut out = Vec::new();
        let mut p = PartitionWindows::new(0, CFG, 0);
        let mut duplicates = 0u64;
        for (offset, e) in evs.iter().enumerate() {
            if p.process(offset as i64, &ev(e), &mut out) == Outcome::Duplicate {
                duplicates += 1;
            }
        }
        p.advance(i64::MAX / 2, &mut out);
        let counted: u64 = out
            .iter()
            .map(|w| w.total.appointments + w.total.cancellations)
            .sum();
        let late: u64 = out.iter().map(|w| w.late_events).sum();
        let distinct: std::collections::HashSet<Uuid> = evs.iter().map(|e| e.4).collect();
        assert_eq!(counted + late + duplicates, evs.len() as u64);
        assert!(late > 0, "the data has late events");
        assert!(duplicates > 150, "the data has copies: {duplicates}");
        assert!(
            counted <= distinct.len() as u64,
            "no event counted twice: {counted} counted, {} distinct",
            distinct.len()
        );
        for w in &out {
            let by_doctor: u64 = w
                .doctors
                .iter()
                .map(|(_, c)| c.appointments + c.cancellations)
                .sum();
            assert_eq!(by_doctor, w.total.appointments + w.total.cancellations);
        }
        let starts: Vec<i64> = out.iter().map(|w| w.start_ms).collect();
        assert!(
            starts.windows(2).all(|p| p[0] < p[1]),
            "each window closes once, in order"
        );
    }

    /// Crash at every offset (after a checkpoint at a random earlier point), restore, replay:
    /// the union of everything emitted equals one clean run, with no conflicting window.
    #[test]
    fn crash_restore_replay_is_exact() {
        let evs = events(600, 7);
        // Idle advances (decided by processing time) at a few offsets.
        let idle_at = [(100, 1_025_000), (350, 1_080_000)];
        let clean = run_clean(&evs, &idle_at);
        let mut rng = fastrand::Rng::with_seed(3);
        for crash in (0..evs.len()).step_by(7) {
            let mut out = Vec::new();
            let mut p = PartitionWindows::new(0, CFG, 0);
            let mut committed: Option<Checkpoint> = None;
            let mut offset = 0usize;
            let mut crashed = false;
            let mut frontier = 0;
            while offset < evs.len() {
                p.process(offset as i64, &ev(&evs[offset]), &mut out);
                offset += 1;
                // Processing-time decisions are made once, where the original run made them.
                let fresh = offset > frontier;
                frontier = frontier.max(offset);
                for &(at, wm) in &idle_at {
                    if fresh
                        && at == offset as i64
                        && let Some(mark) = p.idle_mark(wm)
                    {
                        let mut cp = p.checkpoint();
                        cp.advance = Some((p.position(), mark));
                        committed = Some(cp);
                        p.advance(mark, &mut out);
                    }
                }
                if rng.u8(0..10) == 0 {
                    committed = Some(p.checkpoint());
                }
                if offset == crash && !crashed {
                    crashed = true;
                    p = match committed {
                        Some(cp) => {
                            offset = cp.resume as usize;
                            PartitionWindows::restore(
                                0,
                                CFG,
                                Checkpoint::parse(cp.resume, &cp.metadata()).unwrap(),
                                &mut out,
                            )
                        }
                        None => {
                            offset = 0;
                            PartitionWindows::new(0, CFG, 0)
                        }
                    };
                }
            }
            p.advance(i64::MAX / 2, &mut out);
            let mut seen: BTreeMap<i64, &ClosedWindow> = BTreeMap::new();
            for w in &out {
                if let Some(prev) = seen.insert(w.start_ms, w) {
                    assert_eq!(
                        prev, w,
                        "crash at {crash}: window {} emitted twice, differently",
                        w.start_ms
                    );
                }
            }
            let got: Vec<&ClosedWindow> = seen.into_values().collect();
            let want: Vec<&ClosedWindow> = clean.iter().collect();
            assert_eq!(got, want, "crash at {crash}");
        }
    }

    #[test]
    fn moves_attendance_and_no_shows_are_counted_apart_from_bookings_and_cancellations() {
        let mut out = Vec::new();
        let mut p = PartitionWindows::new(0, CFG, 0);
        let doctor = Uuid::from_u128(7);
        let events = [
            (10_100, doctor, 0, Kind::Created, Uuid::from_u128(0x1)),
            (10_200, doctor, 0, Kind::Rescheduled, Uuid::from_u128(0x2)),
            (10_300, doctor, 0, Kind::Rescheduled, Uuid::from_u128(0x3)),
            (10_400, doctor, 0, Kind::Cancelled, Uuid::from_u128(0x4)),
            (10_500, doctor, 0, Kind::NoShow, Uuid::from_u128(0x5)),
            (10_600, doctor, 0, Kind::Attended, Uuid::from_u128(0x6)),
            (10_700, doctor, 0, Kind::NoShow, Uuid::from_u128(0x7)),
        ];
        for (offset, e) in events.iter().enumerate() {
            assert_eq!(p.process(offset as i64, &ev(e), &mut out), Outcome::Counted);
        }
        // A redelivered move is a duplicate like any event.
        assert_eq!(p.process(7, &ev(&events[1]), &mut out), Outcome::Duplicate);
        p.advance(i64::MAX / 2, &mut out);
        assert_eq!(out.len(), 1);
        let counts = Counts {
            appointments: 1,
            cancellations: 1,
            reschedules: 2,
            attended: 1,
            no_shows: 2,
        };
        assert_eq!(out[0].total, counts);
        assert_eq!(out[0].doctors, vec![(doctor, counts)]);
    }

    #[test]
    fn a_redelivered_event_is_counted_once() {
        let mut out = Vec::new();
        let mut p = PartitionWindows::new(0, CFG, 0);
        let a = (
            10_100,
            Uuid::from_u128(1),
            0,
            Kind::Created,
            Uuid::from_u128(0xA),
        );
        let b = (
            10_200,
            Uuid::from_u128(1),
            0,
            Kind::Created,
            Uuid::from_u128(0xB),
        );
        assert_eq!(p.process(0, &ev(&a), &mut out), Outcome::Counted);
        assert_eq!(p.process(1, &ev(&a), &mut out), Outcome::Duplicate);
        assert_eq!(p.process(2, &ev(&b), &mut out), Outcome::Counted);
        // A later event moves the watermark past the first window, which closes.
        let far = (
            20_100,
            Uuid::from_u128(1),
            0,
            Kind::Created,
            Uuid::from_u128(0xC),
        );
        assert_eq!(p.process(3, &ev(&far), &mut out), Outcome::Counted);
        assert_eq!(out.len(), 1, "the first window closed");
        assert_eq!(out[0].total.appointments, 2);
        assert_eq!(out[0].doctors, vec![(Uuid::from_u128(1), out[0].total)]);
        // A copy after its window closed can no longer be recognised: it is late.
        assert_eq!(p.process(4, &ev(&a), &mut out), Outcome::Late);
        // The ids survive a restart: restored from a checkpoint taken after `far`, the replay
        // from `resume` rebuilds them, so a copy of `far` is still a duplicate.
        let cp = p.checkpoint();
        let mut q = PartitionWindows::restore(0, CFG, cp, &mut out);
        assert_eq!(q.process(3, &ev(&far), &mut out), Outcome::Counted);
        assert_eq!(q.process(4, &ev(&a), &mut out), Outcome::Skipped);
        assert_eq!(q.process(5, &ev(&far), &mut out), Outcome::Duplicate);
    }

    #[test]
    fn metadata_round_trips() {
        let cp = Checkpoint {
            resume: 5,
            position: 9,
            closed: 60_000,
            late: 2,
            advance: Some((9, 120_000)),
        };
        assert_eq!(Checkpoint::parse(5, &cp.metadata()), Some(cp));
        let fresh = Checkpoint {
            closed: NONE,
            advance: None,
            ..cp
        };
        assert_eq!(Checkpoint::parse(5, &fresh.metadata()), Some(fresh));
        assert_eq!(Checkpoint::parse(5, ""), None);
    }
}
