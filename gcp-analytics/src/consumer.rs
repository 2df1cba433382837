//! The Kafka side: consumer group with cooperative rebalancing, result producer, commits.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use careflow::events::analytics::{AnalyticsResult, Dimension};
use careflow::events::{AppointmentAttended, AppointmentEvent, AppointmentNoShow, EventPayload};
use chrono::{DateTime, Utc};
use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, RebalanceProtocol};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{DeliveryResult, Message};
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer};
use rdkafka::statistics::Statistics;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::RDKafkaRespErr;
use uuid::Uuid;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::window::{Checkpoint, ClosedWindow, Event, Kind, Outcome, PartitionWindows};

const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Counts failed deliveries: a commit is only made when every result before it was delivered.
struct DeliveryContext {
    failures: AtomicU64,
}

impl ClientContext for DeliveryContext {}

impl ProducerContext for DeliveryContext {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, _)) = result {
            self.failures.fetch_add(1, Ordering::Relaxed);
            tracing::error!(error = %e, "result delivery failed");
        }
    }
}

type ResultProducer = ThreadedProducer<DeliveryContext>;

struct PartitionState {
    windows: PartitionWindows,
    /// Set when the partition reached its end, cleared by the next record.
    idle_since: Option<Instant>,
    dirty: bool,
}

/// Everything the poll loop and the rebalance callback share.
struct Engine {
    config: Config,
    producer: ResultProducer,
    transactional: bool,
    partitions: HashMap<i32, PartitionState>,
    out: Vec<ClosedWindow>,
    metrics: Arc<Metrics>,
    delivery_failures_seen: u64,
    fatal: Option<anyhow::Error>,
}

impl Engine {
    fn on_record(&mut self, partition: i32, offset: i64, payload: Option<&[u8]>) {
        let Some(state) = self.partitions.get_mut(&partition) else {
            return; // revoked meanwhile
        };
        state.idle_since = None;
        state.dirty = true;
        self.metrics.events_in.fetch_add(1, Ordering::Relaxed);
        let decoded = payload
            .ok_or_else(|| "empty record".to_owned())
            .and_then(|bytes| AppointmentEvent::decode(bytes).map_err(|e| e.to_string()));
        match &decoded {
            Ok(decoded) => {
                let (kind, doctor, appointment_type) = match &decoded.event {
                    AppointmentEvent::Created(e) => {
                        (Kind::Created, e.doctor_id, e.appointment_type.as_str())
                    }
                    AppointmentEvent::Cancelled(e) => {
                        (Kind::Cancelled, e.doctor_id, e.appointment_type.as_str())
                    }
                    AppointmentEvent::Rescheduled(e) => {
                        (Kind::Rescheduled, e.doctor_id, e.appointment_type.as_str())
                    }
                    AppointmentEvent::Attended(AppointmentAttended(e)) => {
                        (Kind::Attended, e.doctor_id, e.appointment_type.as_str())
                    }
                    AppointmentEvent::NoShow(AppointmentNoShow(e)) => {
                        (Kind::NoShow, e.doctor_id, e.appointment_type.as_str())
                    }
                };
                let event = Event {
                    id: decoded.event_id,
                    time_ms: decoded.occurred_at.timestamp_millis(),
                    doctor,
                    appointment_type,
                    kind,
                };
                match state.windows.process(offset, &event, &mut self.out) {
                    Outcome::Late => self.metrics.late_events.fetch_add(1, Ordering::Relaxed),
                    Outcome::Skipped => {
                        self.metrics.replayed_events.fetch_add(1, Ordering::Relaxed)
                    }
                    Outcome::Duplicate => self
                        .metrics
                        .duplicate_events
                        .fetch_add(1, Ordering::Relaxed),
                    Outcome::Counted => 0,
                };
            }
            Err(error) => {
                // Poison is skipped (deterministically: a replay skips it too), never retried.
                self.metrics.invalid_events.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(partition, offset, %error, "skipping a record that is not an appointment event");
                state.windows.skip(offset, &mut self.out);
            }
        }
        self.emit();
    }

    /// Publishes the windows in `self.out`.
    fn emit(&mut self) {
        for window in std::mem::take(&mut self.out) {
            self.metrics.windows_emitted.fetch_add(1, Ordering::Relaxed);
            for result in results_of(&window) {
                let key = result.key();
                let envelope = careflow::events::Envelope {
                    event_id: event_id(&key),
                    event_type: AnalyticsResult::TYPE.to_owned(),
                    version: AnalyticsResult::VERSION,
                    occurred_at: result.window_end,
                    data: result,
                };
                let payload = serde_json::to_vec(&envelope).expect("results serialise");
                let mut record = BaseRecord::to(&self.config.output_topic)
                    .key(&key)
                    .payload(&payload);
                loop {
                    match self.producer.send(record) {
                        Ok(()) => break,
                        Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                            record = r;
                            std::thread::sleep(Duration::from_millis(1));
                        }
                        Err((e, _)) => {
                            self.fail(anyhow::Error::new(e).context("cannot queue a result"));
                            break;
                        }
                    }
                }
                self.metrics.results_emitted.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn fail(&mut self, error: anyhow::Error) {
        tracing::error!(
            error = format!("{error:#}"),
            "fatal: stopping so that a restart replays"
        );
        if self.fatal.is_none() {
            self.fatal = Some(error);
        }
    }

    /// Commits the given checkpoints after every result queued so far is durable (or, in
    /// transactional mode, together with them).
    fn commit_checkpoints(
        &mut self,
        consumer: &BaseConsumer<Ctx>,
        checkpoints: &[(i32, Checkpoint)],
    ) -> anyhow::Result<()> {
        if checkpoints.is_empty() || self.fatal.is_some() {
            return Ok(());
        }
        let mut tpl = TopicPartitionList::new();
        for (partition, cp) in checkpoints {
            let mut elem = tpl.add_partition(&self.config.input_topic, *partition);
            elem.set_offset(Offset::Offset(cp.resume))?;
            elem.set_metadata(cp.metadata());
        }
        if self.transactional {
            let group = consumer
                .group_metadata()
                .context("no consumer group metadata")?;
            let result = self
                .producer
                .send_offsets_to_transaction(&tpl, &group, IO_TIMEOUT)
                .and_then(|()| self.producer.commit_transaction(IO_TIMEOUT))
                .and_then(|()| self.producer.begin_transaction());
            if let Err(e) = result {
                // The transaction's results are aborted but the windows are gone from memory:
                // only a replay from the last committed checkpoint rebuilds them.
                let _ = self.producer.abort_transaction(IO_TIMEOUT);
                let error = anyhow::Error::new(e).context("transaction failed");
                self.fail(anyhow::anyhow!("{error:#}"));
                return Err(error);
            }
        } else {
            self.producer
                .flush(IO_TIMEOUT)
                .context("results not delivered in time")?;
            let failures = self.producer.context().failures.load(Ordering::Relaxed);
            if failures != self.delivery_failures_seen {
                self.delivery_failures_seen = failures;
                let error = anyhow::anyhow!("a result could not be delivered");
                self.fail(anyhow::anyhow!("{error:#}"));
                return Err(error);
            }
            consumer
                .commit(&tpl, CommitMode::Sync)
                .context("offset commit failed")?;
        }
        self.metrics.commits.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Commits every partition with progress since its last commit.
    fn commit_dirty(&mut self, consumer: &BaseConsumer<Ctx>) -> anyhow::Result<()> {
        let checkpoints: Vec<(i32, Checkpoint)> = self
            .partitions
            .iter()
            .filter(|(_, s)| s.dirty)
            .map(|(p, s)| (*p, s.windows.checkpoint()))
            .collect();
        self.commit_checkpoints(consumer, &checkpoints)?;
        for (p, _) in &checkpoints {
            if let Some(s) = self.partitions.get_mut(p) {
                s.dirty = false;
            }
        }
        Ok(())
    }

    /// Idle partitions: advance the watermark to processing time minus the lateness. The
    /// decision is committed (as a checkpoint that carries it) before any window it closes is
    /// published, so a replay repeats it at the same offset.
    fn advance_idle(&mut self, consumer: &BaseConsumer<Ctx>) {
        let watermark = Utc::now().timestamp_millis() - self.config.window.lateness_ms;
        let idle_timeout = self.config.idle_timeout;
        let due: Vec<(i32, Checkpoint, i64)> = self
            .partitions
            .iter()
            .filter(|(_, s)| s.idle_since.is_some_and(|t| t.elapsed() >= idle_timeout))
            .filter_map(|(p, s)| {
                let mark = s.windows.idle_mark(watermark)?;
                let mut cp = s.windows.checkpoint();
                cp.advance = Some((s.windows.position(), mark));
                Some((*p, cp, mark))
            })
            .collect();
        for (partition, cp, mark) in due {
            if let Err(e) = self.commit_checkpoints(consumer, &[(partition, cp)]) {
                tracing::warn!(
                    partition,
                    error = format!("{e:#}"),
                    "idle advance not recorded; not applied"
                );
                continue;
            }
            if let Some(state) = self.partitions.get_mut(&partition) {
                state.windows.advance(mark, &mut self.out);
                state.dirty = true;
                tracing::debug!(
                    partition,
                    mark,
                    "idle partition: watermark advanced by processing time"
                );
            }
            self.emit();
        }
    }
}

fn millis(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// The messages of one closed window: total, then each doctor, then each type.
pub fn results_of(window: &ClosedWindow) -> impl Iterator<Item = AnalyticsResult> + '_ {
    let (start, end) = (millis(window.start_ms), millis(window.end_ms));
    let make = move |dimension, value: Option<String>, counts: crate::window::Counts, late| {
        AnalyticsResult {
            window_start: start,
            window_end: end,
            partition: window.partition,
            dimension,
            value,
            appointments: counts.appointments,
            cancellations: counts.cancellations,
            reschedules: counts.reschedules,
            attended: counts.attended,
            no_shows: counts.no_shows,
            late_events: late,
        }
    };
    std::iter::once(make(
        Dimension::Total,
        None,
        window.total,
        window.late_events,
    ))
    .chain(
        window
            .doctors
            .iter()
            .map(move |(d, c)| make(Dimension::Doctor, Some(d.to_string()), *c, 0)),
    )
    .chain(
        window
            .types
            .iter()
            .map(move |(t, c)| make(Dimension::AppointmentType, Some(t.clone()), *c, 0)),
    )
}

/// A deterministic envelope id from the result key (UUID version 8, 128-bit FNV-1a), so a
/// re-published result is byte-for-byte the same message.
pub fn event_id(key: &str) -> Uuid {
    let mut h: u128 = 0x6c62272e07bb014262b821756295c58d;
    for b in key.bytes() {
        h ^= u128::from(b);
        h = h.wrapping_mul(0x0000000001000000000000000000013B);
    }
    let h = (h & !(0xF << 76) & !(0x3 << 62)) | (0x8 << 76) | (0x2 << 62);
    Uuid::from_u128(h)
}

/// Consumer context: rebalances and statistics.
pub(crate) struct Ctx {
    engine: Arc<Mutex<Engine>>,
    metrics: Arc<Metrics>,
    input_topic: String,
}

fn lock(engine: &Mutex<Engine>) -> MutexGuard<'_, Engine> {
    engine.lock().unwrap_or_else(|poison| poison.into_inner())
}

impl ClientContext for Ctx {
    fn stats(&self, statistics: Statistics) {
        if let Some(topic) = statistics.topics.get(&self.input_topic) {
            let lag: i64 = topic
                .partitions
                .values()
                .filter(|p| p.partition >= 0)
                .map(|p| p.consumer_lag.max(0))
                .sum();
            self.metrics.lag.store(lag as u64, Ordering::Relaxed);
        }
    }
}

impl ConsumerContext for Ctx {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        let cooperative = matches!(
            consumer.rebalance_protocol(),
            RebalanceProtocol::Cooperative
        );
        self.metrics.rebalances.fetch_add(1, Ordering::Relaxed);
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                let mut engine = lock(&self.engine);
                if let Err(e) = assign(&mut engine, consumer, tpl) {
                    engine.fail(e.context("cannot restore the assigned partitions"));
                }
                let result = if cooperative {
                    consumer.incremental_assign(tpl)
                } else {
                    consumer.assign(tpl)
                };
                if let Err(e) = result {
                    engine.fail(anyhow::Error::new(e).context("assign failed"));
                }
                self.metrics
                    .assigned
                    .store(engine.partitions.len() as u64, Ordering::Relaxed);
                self.metrics.joined.store(true, Ordering::Relaxed);
                tracing::info!(partitions = ?partitions(tpl), "partitions assigned");
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                let mut engine = lock(&self.engine);
                let revoked = partitions(tpl);
                if consumer.assignment_lost() {
                    // Another member may own them already: drop the state, commit nothing.
                    tracing::warn!(partitions = ?revoked, "partitions lost");
                } else {
                    // Flush what the revoked partitions emitted and commit their checkpoints,
                    // so the next owner resumes exactly here.
                    let checkpoints: Vec<(i32, Checkpoint)> = revoked
                        .iter()
                        .filter_map(|p| {
                            engine
                                .partitions
                                .get(p)
                                .map(|s| (*p, s.windows.checkpoint()))
                        })
                        .collect();
                    if let Err(e) = engine.commit_checkpoints(consumer, &checkpoints) {
                        tracing::warn!(
                            error = format!("{e:#}"),
                            "commit on revoke failed; the next owner replays further"
                        );
                    }
                    tracing::info!(partitions = ?revoked, "partitions revoked");
                }
                for p in &revoked {
                    engine.partitions.remove(p);
                }
                let result = if cooperative {
                    consumer.incremental_unassign(tpl)
                } else {
                    consumer.unassign()
                };
                if let Err(e) = result {
                    tracing::warn!(error = %e, "unassign failed");
                }
                self.metrics
                    .assigned
                    .store(engine.partitions.len() as u64, Ordering::Relaxed);
            }
            other => tracing::error!(error = ?other, "rebalance error"),
        }
    }
}

fn partitions(tpl: &TopicPartitionList) -> Vec<i32> {
    tpl.elements().iter().map(|e| e.partition()).collect()
}

/// Restores each newly assigned partition from its committed checkpoint and sets the offset
/// to resume from in `tpl`.
fn assign(
    engine: &mut Engine,
    consumer: &BaseConsumer<Ctx>,
    tpl: &mut TopicPartitionList,
) -> anyhow::Result<()> {
    let committed = consumer
        .committed_offsets(tpl.clone(), IO_TIMEOUT)
        .context("cannot read committed offsets")?;
    let window = engine.config.window;
    for elem in committed.elements() {
        let partition = elem.partition();
        let (windows, offset) = match elem.offset() {
            Offset::Offset(resume) => match Checkpoint::parse(resume, elem.metadata()) {
                Some(cp) => (
                    PartitionWindows::restore(partition, window, cp, &mut engine.out),
                    Offset::Offset(resume),
                ),
                None => (
                    PartitionWindows::new(partition, window, resume),
                    Offset::Offset(resume),
                ),
            },
            _ => (
                PartitionWindows::new(partition, window, 0),
                Offset::Beginning,
            ),
        };
        tracing::info!(
            partition,
            ?offset,
            closed_mark = windows.closed_mark(),
            "partition restored"
        );
        tpl.set_partition_offset(elem.topic(), partition, offset)?;
        engine.partitions.insert(
            partition,
            PartitionState {
                windows,
                idle_since: None,
                dirty: false,
            },
        );
    }
    engine.emit();
    Ok(())
}

/// The blocking consume loop; returns when `stop` is set (after a final commit) or on a fatal
/// error.
pub(crate) fn consume(
    config: Config,
    metrics: Arc<Metrics>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<()> {
    let mut producer_config = config.client();
    producer_config
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("compression.type", "zstd");
    if let Some(id) = &config.transactional_id {
        producer_config.set("transactional.id", id);
    }
    let producer: ResultProducer = producer_config
        .create_with_context(DeliveryContext {
            failures: AtomicU64::new(0),
        })
        .context("cannot create the producer")?;
    if config.transactional_id.is_some() {
        producer
            .init_transactions(IO_TIMEOUT)
            .context("init_transactions")?;
        producer.begin_transaction().context("begin_transaction")?;
    }
    let engine = Arc::new(Mutex::new(Engine {
        transactional: config.transactional_id.is_some(),
        config: config.clone(),
        producer,
        partitions: HashMap::new(),
        out: Vec::new(),
        metrics: metrics.clone(),
        delivery_failures_seen: 0,
        fatal: None,
    }));
    let mut consumer_config = config.client();
    consumer_config
        .set("group.id", &config.group_id)
        .set("partition.assignment.strategy", "cooperative-sticky")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("enable.partition.eof", "true")
        .set("isolation.level", "read_committed")
        .set(
            "session.timeout.ms",
            config.session_timeout.as_millis().to_string(),
        )
        .set(
            "heartbeat.interval.ms",
            (config.session_timeout.as_millis() / 3)
                .max(100)
                .to_string(),
        )
        .set("statistics.interval.ms", "5000");
    let consumer: BaseConsumer<Ctx> = consumer_config
        .create_with_context(Ctx {
            engine: engine.clone(),
            metrics: metrics.clone(),
            input_topic: config.input_topic.clone(),
        })
        .context("cannot create the consumer")?;
    consumer
        .subscribe(&[&config.input_topic])
        .context("subscribe")?;
    tracing::info!(topic = %config.input_topic, group = %config.group_id, "consuming");

    let tick = config
        .commit_interval
        .min(config.idle_timeout / 2)
        .max(Duration::from_millis(10));
    let mut last_tick = Instant::now();
    // The clock is read once per this many records while they flow (and at every idle poll).
    const CLOCK_EVERY: u32 = 64;
    let mut since_clock = 0u32;
    let result = loop {
        if stop.load(Ordering::Relaxed) {
            break Ok(());
        }
        // Never hold the engine across `poll`: the rebalance callback runs inside it and locks it.
        let polled = consumer.poll(Duration::from_millis(100));
        let mut engine = lock(&engine);
        let busy = match polled {
            Some(Ok(message)) => {
                engine.on_record(message.partition(), message.offset(), message.payload());
                true
            }
            Some(Err(KafkaError::PartitionEOF(partition))) => {
                if let Some(s) = engine.partitions.get_mut(&partition) {
                    s.idle_since.get_or_insert_with(Instant::now);
                }
                false
            }
            Some(Err(e)) => {
                tracing::warn!(error = %e, "consumer error");
                false
            }
            None => false,
        };
        if let Some(e) = engine.fatal.take() {
            break Err(e);
        }
        since_clock += 1;
        if busy && since_clock < CLOCK_EVERY {
            continue;
        }
        since_clock = 0;
        metrics.touch();
        if last_tick.elapsed() >= tick {
            last_tick = Instant::now();
            if let Err(e) = engine.commit_dirty(&consumer) {
                tracing::warn!(
                    error = format!("{e:#}"),
                    "commit failed; retrying at the next tick"
                );
            }
            engine.advance_idle(&consumer);
        }
    };
    if result.is_ok() {
        let mut engine = lock(&engine);
        if let Err(e) = engine.commit_dirty(&consumer) {
            tracing::warn!(
                error = format!("{e:#}"),
                "final commit failed; a restart replays further"
            );
        }
    }
    metrics.joined.store(false, Ordering::Relaxed);
    // Leaves the group (the revoke callback commits nothing new: everything is committed).
    // The revoke runs in poll; closing while it is still in progress trips an assertion in
    // librdkafka, so poll until the assignment is empty (bounded well inside Cloud Run's 10 s).
    consumer.unsubscribe();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let _ = consumer.poll(Duration::from_millis(50));
        if consumer.assignment().is_ok_and(|a| a.count() == 0) {
            break;
        }
    }
    drop(consumer);
    tracing::info!("consumer closed");
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `events/gcp-analytics/analytics-result.json` is exactly what the service publishes.
    #[test]
    fn example_message_is_what_we_publish() {
        let example: serde_json::Value = serde_json::from_str(include_str!(
            "../../events/gcp-analytics/analytics-result.json"
        ))
        .unwrap();
        let doctor: Uuid = "8d3c5a4e-2f1b-4c6a-9e07-5b1d2a3c4f60".parse().unwrap();
        let start = "2026-12-01T09:00:00Z"
            .parse::<DateTime<Utc>>()
            .unwrap()
            .timestamp_millis();
        let counts = crate::window::Counts {
            appointments: 4,
            cancellations: 1,
            reschedules: 2,
            attended: 4,
            no_shows: 1,
        };
        let window = ClosedWindow {
            partition: 1,
            start_ms: start,
            end_ms: start + 60_000,
            total: counts,
            late_events: 0,
            doctors: vec![(doctor, counts)],
            types: vec![],
        };
        let result = results_of(&window).nth(1).unwrap();
        let key = result.key();
        let envelope = careflow::events::Envelope {
            event_id: event_id(&key),
            event_type: AnalyticsResult::TYPE.to_owned(),
            version: AnalyticsResult::VERSION,
            occurred_at: result.window_end,
            data: result,
        };
        assert_eq!(example["key"], key.as_str());
        assert_eq!(example["value"], serde_json::to_value(&envelope).unwrap());
        assert_eq!(event_id(&key).get_version_num(), 8);
    }
}
