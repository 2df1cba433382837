//! gcp-analytics against a real Kafka-protocol broker (librdkafka's mock cluster): results
//! must equal a batch recomputation from the same log, across rebalances and SIGKILLs, with
//! redelivered copies of events in the log.

mod support {
    use std::collections::{BTreeMap, HashMap, HashSet};
    use std::time::{Duration, Instant};

    use careflow::events::analytics::{AnalyticsResult, Dimension, result_key};
    use careflow::events::{
        AppointmentCancelled, AppointmentCreated, AppointmentEvent, Envelope, EventPayload,
        decode_envelope,
    };
    use chrono::{DateTime, Utc};
    use rdkafka::ClientConfig;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::Message;
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
    use uuid::Uuid;

    pub const PARTITIONS: i32 = 3;
    pub const WINDOW_MS: i64 = 60_000;
    pub const LATENESS_MS: i64 = 10_000;
    const TYPES: [&str; 3] = ["consultation", "follow_up", "lab_review"];

    pub fn doctors() -> Vec<Uuid> {
        (0..12u128).map(|i| Uuid::from_u128(0x1000 + i)).collect()
    }

    /// Event `i` of a deterministic stream: mostly in order, 6 % out of order within the
    /// lateness, 2 % later than the lateness. Its `event_id` depends on `i` only, so sending
    /// event `i` again is a redelivery. Returns (partition, key, value).
    pub fn event(i: u64, step_ms: i64) -> (i32, String, Vec<u8>) {
        let mut rng = fastrand::Rng::with_seed(i);
        let base: DateTime<Utc> = "2026-01-05T08:00:00Z".parse().unwrap();
        let jitter = match rng.u8(0..100) {
            0..=5 => -rng.i64(0..LATENESS_MS - 1_000),
            6..=7 => -rng.i64(LATENESS_MS + WINDOW_MS..LATENESS_MS + 3 * WINDOW_MS),
            _ => 0,
        };
        let at = base + chrono::Duration::milliseconds(i as i64 * step_ms + jitter);
        let doctors = doctors();
        let d = rng.usize(0..doctors.len());
        let doctor_id = doctors[d];
        let appointment_type = TYPES[rng.usize(0..TYPES.len())].to_owned();
        let (appointment_id, patient_id) =
            (Uuid::from_u128(u128::from(i) << 32), Uuid::from_u128(7));
        let (start_time, end_time) = (
            at + chrono::Duration::days(3),
            at + chrono::Duration::days(3) + chrono::Duration::minutes(30),
        );
        let event_id = Uuid::from_u128(0xE000_0000_0000 + u128::from(i));
        let value = if rng.u8(0..10) == 0 {
            serde_json::to_vec(&Envelope {
                event_id,
                ..AppointmentCancelled {
                    appointment_id,
                    patient_id,
                    doctor_id,
                    appointment_type,
                    start_time,
                    end_time,
                    duration_minutes: 30,
                    cancelled_by: "patient".into(),
                    reason_code: Some("patient".into()),
                }
                .envelope(at)
            })
        } else {
            serde_json::to_vec(&Envelope {
                event_id,
                ..AppointmentCreated {
                    appointment_id,
                    patient_id,
                    doctor_id,
                    appointment_type,
                    start_time,
                    end_time,
                    duration_minutes: 30,
                }
                .envelope(at)
            })
        }
        .unwrap();
        // Keyed by doctor: one doctor, one partition.
        ((d as i32) % PARTITIONS, doctor_id.to_string(), value)
    }

    pub fn producer(servers: &str) -> BaseProducer {
        ClientConfig::new()
            .set("bootstrap.servers", servers)
            .set("enable.idempotence", "true")
            .set("linger.ms", "5")
            .create()
            .unwrap()
    }

    /// After every 41st event the stream repeats one of the three events before it, as an
    /// outbox relay that publishes a row twice would.
    fn redelivered_after(i: u64) -> Option<u64> {
        (i % 41 == 40).then(|| i - 1 - (i / 41) % 3)
    }

    /// How many records `produce(0..n)` writes: events plus redelivered copies.
    pub fn records(n: u64) -> usize {
        (n + (0..n).filter(|&i| redelivered_after(i).is_some()).count() as u64) as usize
    }

    pub fn produce(producer: &BaseProducer, range: std::ops::Range<u64>, step_ms: i64) {
        let stream = range.flat_map(|i| std::iter::once(i).chain(redelivered_after(i)));
        for i in stream {
            let (partition, key, value) = event(i, step_ms);
            let mut record = BaseRecord::to("appointments")
                .partition(partition)
                .key(&key)
                .payload(&value);
            loop {
                match producer.send(record) {
                    Ok(()) => break,
                    Err((_, r)) => {
                        record = r;
                        producer.poll(Duration::from_millis(5));
                    }
                }
            }
            producer.poll(Duration::ZERO);
        }
        producer.flush(Duration::from_secs(30)).unwrap();
    }

    fn read_partitions(
        servers: &str,
        topic: &str,
        mut each: impl FnMut(i32, &[u8], &[u8]) -> bool,
        idle: Duration,
        deadline: Duration,
    ) {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", servers)
            .set("group.id", "reader")
            .set("enable.auto.commit", "false")
            .create()
            .unwrap();
        let mut tpl = TopicPartitionList::new();
        for p in 0..PARTITIONS {
            tpl.add_partition_offset(topic, p, Offset::Beginning)
                .unwrap();
        }
        consumer.assign(&tpl).unwrap();
        let (start, mut last) = (Instant::now(), Instant::now());
        while start.elapsed() < deadline && last.elapsed() < idle {
            if let Some(message) = consumer.poll(Duration::from_millis(50)) {
                let message = message.unwrap();
                last = Instant::now();
                if !each(
                    message.partition(),
                    message.key().unwrap_or_default(),
                    message.payload().unwrap_or_default(),
                ) {
                    return;
                }
            }
        }
    }

    /// (total, late events, per-dimension counts, event ids counted); counts are
    /// (appointments, cancellations).
    type BatchWindow = (
        (u64, u64),
        u64,
        BTreeMap<(Dimension, String), (u64, u64)>,
        HashSet<Uuid>,
    );

    /// (event id, event time, doctor, appointment type, cancelled) of one input record.
    type LogEntry = (Uuid, i64, Uuid, String, bool);

    /// (appointments, cancellations, late_events) per result key.
    pub type Figures = BTreeMap<String, (u64, u64, u64)>;

    /// The batch recomputation: the input log, partition by partition in offset order, under
    /// the documented rules (window of `occurred_at`; closed mark = floor(max time - lateness);
    /// an event of a closed window is late and counts for the oldest open window; an open
    /// window counts each event id once), every window closed at the end.
    pub fn batch(servers: &str, expected_events: usize) -> Figures {
        let mut logs: HashMap<i32, Vec<LogEntry>> = HashMap::new();
        let mut n = 0;
        read_partitions(
            servers,
            "appointments",
            |partition, _, value| {
                let raw = decode_envelope(value).unwrap();
                let (doctor, kind, cancelled) = match AppointmentEvent::from_envelope(&raw).unwrap()
                {
                    AppointmentEvent::Created(e) => (e.doctor_id, e.appointment_type, false),
                    AppointmentEvent::Cancelled(e) => (e.doctor_id, e.appointment_type, true),
                    AppointmentEvent::Rescheduled(_)
                    | AppointmentEvent::Attended(_)
                    | AppointmentEvent::NoShow(_) => {
                        unreachable!(
                            "this test's producer publishes bookings and cancellations only"
                        )
                    }
                };
                logs.entry(partition).or_default().push((
                    raw.event_id,
                    raw.occurred_at.timestamp_millis(),
                    doctor,
                    kind,
                    cancelled,
                ));
                n += 1;
                n < expected_events
            },
            Duration::from_secs(5),
            Duration::from_secs(60),
        );
        assert_eq!(
            n,
            expected_events,
            "the input log is complete ({:?})",
            logs.iter().map(|(p, l)| (*p, l.len())).collect::<Vec<_>>()
        );
        let mut figures = Figures::new();
        let mut copies_dropped = 0;
        let ms = |t: i64| DateTime::<Utc>::from_timestamp_millis(t).unwrap();
        for (partition, log) in logs {
            let mut max = i64::MIN;
            let mut closed = i64::MIN;
            let mut windows: BTreeMap<i64, BatchWindow> = BTreeMap::new();
            for (id, t, doctor, kind, cancelled) in log {
                let start = t.div_euclid(WINDOW_MS) * WINDOW_MS;
                if start + WINDOW_MS <= closed {
                    windows.entry(closed).or_default().1 += 1;
                } else if !windows.entry(start).or_default().3.insert(id) {
                    copies_dropped += 1;
                } else {
                    let w = windows.entry(start).or_default();
                    let bump = |c: &mut (u64, u64)| if cancelled { c.1 += 1 } else { c.0 += 1 };
                    bump(&mut w.0);
                    bump(
                        w.2.entry((Dimension::Doctor, doctor.to_string()))
                            .or_default(),
                    );
                    bump(w.2.entry((Dimension::AppointmentType, kind)).or_default());
                }
                max = max.max(t);
                closed = closed.max((max - LATENESS_MS).div_euclid(WINDOW_MS) * WINDOW_MS);
            }
            for (start, (total, late, dims, _)) in windows {
                figures.insert(
                    result_key(ms(start), partition, Dimension::Total, None),
                    (total.0, total.1, late),
                );
                for ((dimension, value), c) in dims {
                    figures.insert(
                        result_key(ms(start), partition, dimension, Some(&value)),
                        (c.0, c.1, 0),
                    );
                }
            }
        }
        assert!(copies_dropped > 0, "the log holds redelivered copies");
        figures
    }

    /// Reads `analytics-results` until it holds `want` distinct keys (and then goes quiet),
    /// asserting that every repeat of a key is byte-identical (no conflicting result).
    pub fn results(servers: &str, want: usize, deadline: Duration) -> Figures {
        let mut seen: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
        let mut figures = Figures::new();
        let start = Instant::now();
        read_partitions(
            servers,
            "analytics-results",
            |_, key, value| {
                if let Some(previous) = seen.get(key) {
                    assert_eq!(
                        previous,
                        value,
                        "conflicting results for {}",
                        String::from_utf8_lossy(key)
                    );
                    return true;
                }
                let envelope: Envelope<AnalyticsResult> = serde_json::from_slice(value).unwrap();
                assert_eq!(envelope.event_type, AnalyticsResult::TYPE);
                let r = envelope.data;
                assert_eq!(r.key().as_bytes(), key, "record key = result key");
                figures.insert(r.key(), (r.appointments, r.cancellations, r.late_events));
                seen.insert(key.to_vec(), value.to_vec());
                let _ = start;
                true
            },
            Duration::from_secs(4),
            deadline,
        );
        let _ = want;
        figures
    }

    /// Polls `results` until it reaches `want.len()` keys or the deadline passes.
    pub fn wait_for(servers: &str, want: &Figures, deadline: Duration) -> Figures {
        let start = Instant::now();
        loop {
            let got = results(servers, want.len(), deadline);
            if got.len() >= want.len() || start.elapsed() > deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    pub fn assert_same(got: &Figures, want: &Figures) {
        let missing: Vec<_> = want
            .keys()
            .filter(|k| !got.contains_key(*k))
            .take(5)
            .collect();
        let extra: Vec<_> = got
            .keys()
            .filter(|k| !want.contains_key(*k))
            .take(5)
            .collect();
        let wrong: Vec<_> = want
            .iter()
            .filter_map(|(k, v)| got.get(k).filter(|g| *g != v).map(|g| (k, v, g)))
            .take(5)
            .collect();
        assert!(
            missing.is_empty() && extra.is_empty() && wrong.is_empty(),
            "{} results, {} expected; missing {missing:?}; extra {extra:?}; wrong (key, want, got) {wrong:?}",
            got.len(),
            want.len()
        );
        let late: u64 = want.values().map(|v| v.2).sum();
        assert!(late > 0, "the scenario includes late events");
    }
}

mod windows {
    use std::sync::Arc;
    use std::time::Duration;

    use careflow::kafka::mock::MockKafka;
    use gcp_analytics::{Config, Metrics, run_with_metrics};

    use super::support::*;

    fn config(servers: &str) -> Config {
        let mut c = Config::new(servers);
        c.group_id = "windows-test".into();
        c.window.size_ms = WINDOW_MS;
        c.window.lateness_ms = LATENESS_MS;
        // Long enough that a partition never counts as idle between the test's own phases on a
        // loaded 2-core runner (at 1.5 s one closed its windows early once, under a parallel
        // build): the batch recomputation assumes windows close by event time until the end.
        c.idle_timeout = Duration::from_millis(4000);
        c.commit_interval = Duration::from_millis(100);
        c.session_timeout = Duration::from_millis(2000);
        c.port = 0;
        c
    }

    /// Out-of-order and late events over 3 partitions, two instances with a cooperative
    /// rebalance when the second joins and another when the first stops: the published counts
    /// equal the batch recomputation, with no key published twice with different counts.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn counts_match_a_batch_recomputation_across_rebalances() {
        let kafka = MockKafka::start(1).unwrap();
        kafka.create_topic("appointments", PARTITIONS).unwrap();
        kafka.create_topic("analytics-results", PARTITIONS).unwrap();
        let servers = kafka.bootstrap_servers();
        let producer = producer(&servers);
        const N: u64 = 6_000;
        produce(&producer, 0..N / 2, 150);

        let metrics_a = Arc::new(Metrics::default());
        let (stop_a, stopped_a) = tokio::sync::oneshot::channel::<()>();
        let a = tokio::spawn(run_with_metrics(
            config(&servers),
            metrics_a.clone(),
            async {
                let _ = stopped_a.await;
            },
        ));
        tokio::time::sleep(Duration::from_millis(600)).await;
        let (stop_b, stopped_b) = tokio::sync::oneshot::channel::<()>();
        let b = tokio::spawn(run_with_metrics(
            config(&servers),
            Arc::new(Metrics::default()),
            async {
                let _ = stopped_b.await;
            },
        ));
        produce(&producer, N / 2..N * 3 / 4, 150);
        tokio::time::sleep(Duration::from_millis(600)).await;
        // A leaves gracefully: its partitions are committed and revoked, B takes them over.
        stop_a.send(()).unwrap();
        a.await.unwrap().unwrap();
        assert!(
            metrics_a
                .events_in
                .load(std::sync::atomic::Ordering::Relaxed)
                > 0,
            "A consumed"
        );
        produce(&producer, N * 3 / 4..N, 150);

        let servers2 = servers.clone();
        let (got, want) = tokio::task::spawn_blocking(move || {
            let want = batch(&servers2, records(N));
            (wait_for(&servers2, &want, Duration::from_secs(60)), want)
        })
        .await
        .unwrap();
        stop_b.send(()).unwrap();
        b.await.unwrap().unwrap();
        assert_same(&got, &want);
    }
}

mod kill {
    use std::process::{Child, Command, Stdio};
    use std::time::Duration;

    use careflow::kafka::mock::MockKafka;

    use super::support::*;

    /// Kills the child when dropped, so a failing test leaves no process behind.
    struct Guard(Child);

    impl Drop for Guard {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    fn spawn(servers: &str) -> Child {
        Command::new(env!("CARGO_BIN_EXE_gcp-analytics"))
            .env("KAFKA_BOOTSTRAP_SERVERS", servers)
            .env("ANALYTICS_GROUP_ID", "kill-test")
            .env("ANALYTICS_WINDOW_MS", WINDOW_MS.to_string())
            .env("ANALYTICS_LATENESS_MS", LATENESS_MS.to_string())
            .env("ANALYTICS_IDLE_TIMEOUT_MS", "3000")
            .env("ANALYTICS_COMMIT_INTERVAL_MS", "50")
            .env("KAFKA_SESSION_TIMEOUT_MS", "1000")
            .env("PORT", "0")
            .env("RUST_LOG", "error")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap()
    }

    /// The service binary is SIGKILLed at random points 25 times while events keep arriving;
    /// the results, deduplicated by key, equal the batch recomputation: no window missing, no
    /// key with two different counts, no event counted twice.
    #[test]
    fn results_survive_sigkill_at_random_points() {
        let kafka = MockKafka::start(1).unwrap();
        kafka.create_topic("appointments", PARTITIONS).unwrap();
        kafka.create_topic("analytics-results", PARTITIONS).unwrap();
        let servers = kafka.bootstrap_servers();
        // The mock keeps ~5 MB per partition: stay below it so the whole log is replayable.
        const N: u64 = 24_000;
        const BATCH: u64 = 300;
        let feeder = {
            let servers = servers.clone();
            std::thread::spawn(move || {
                let producer = producer(&servers);
                for from in (0..N).step_by(BATCH as usize) {
                    produce(&producer, from..from + BATCH, 60);
                    std::thread::sleep(Duration::from_millis(150));
                }
            })
        };
        let started = std::time::Instant::now();
        let mut rng = fastrand::Rng::with_seed(42);
        let kills = 25;
        for _ in 0..kills {
            let mut child = spawn(&servers);
            std::thread::sleep(Duration::from_millis(rng.u64(150..900)));
            child.kill().unwrap(); // SIGKILL: no shutdown, no final commit
            let status = child.wait().unwrap();
            assert!(
                status.code().is_none(),
                "killed by a signal, not exited: {status:?}"
            );
        }
        feeder.join().unwrap();
        eprintln!("{kills} kills done after {:?}", started.elapsed());
        let last = Guard(spawn(&servers));
        let want = batch(&servers, records(N));
        eprintln!(
            "batch recomputed after {:?}: {} results",
            started.elapsed(),
            want.len()
        );
        let got = wait_for(&servers, &want, Duration::from_secs(90));
        eprintln!("results read after {:?}", started.elapsed());
        drop(last);
        assert_same(&got, &want);
    }
}
