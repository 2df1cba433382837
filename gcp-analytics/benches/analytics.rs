//! `cargo bench -p gcp-analytics` (or scripts/bench-analytics.sh): the windowing core's
//! events/s on one core, decode + core, the mock broker's raw consume rate, and the service's
//! end-to-end rate (consume → window → publish results) on the same broker.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use careflow::events::{
    AppointmentCreated, AppointmentEvent, Decoded, EventPayload, decode_envelope,
};
use careflow::kafka::mock::MockKafka;
use gcp_analytics::window::{Event, Kind, PartitionWindows, WindowConfig};
use gcp_analytics::{Config, Metrics, run_with_metrics};
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use uuid::Uuid;

const TYPES: [&str; 3] = ["consultation", "follow_up", "lab_review"];

/// Counts live heap bytes, for the memory an open window holds.
struct Counting;

static LIVE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

unsafe impl std::alloc::GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { std::alloc::System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { std::alloc::System.realloc(ptr, layout, new) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Heap bytes one open window holds with 10,000 doctors: its counts per doctor and type, and
/// the event ids it has counted (for recognising redelivered copies).
fn window_memory() {
    let mut rng = fastrand::Rng::with_seed(3);
    let doctors: Vec<Uuid> = (0..10_000).map(|_| Uuid::from_u128(rng.u128(..))).collect();
    for events in [10_000u64, 100_000] {
        let before = LIVE.load(Ordering::Relaxed);
        let mut state = PartitionWindows::new(0, WindowConfig::default(), 0);
        let mut out = Vec::new();
        for i in 0..events {
            let event = Event {
                id: Uuid::from_u128(u128::from(i) + 1),
                // All in one minute: the window stays open.
                time_ms: 1_767_600_000_000 + (i % 50_000) as i64,
                doctor: doctors[(i % 10_000) as usize],
                appointment_type: TYPES[(i % 3) as usize],
                kind: Kind::Created,
            };
            state.process(i as i64, &event, &mut out);
        }
        assert!(out.is_empty(), "the window closed");
        let bytes = LIVE.load(Ordering::Relaxed) - before;
        println!(
            "one open window, 10,000 doctors, {events:>7} events: {:>8.1} KiB ({:.0} bytes a doctor, {:.0} bytes an event)",
            bytes as f64 / 1024.0,
            bytes as f64 / 10_000.0,
            bytes as f64 / events as f64
        );
        drop(state);
    }
}

fn envelope_bytes(i: u64, rng: &mut fastrand::Rng, doctors: &[Uuid]) -> (usize, Vec<u8>) {
    let at = chrono::DateTime::from_timestamp_millis(
        1_767_600_000_000 + i as i64 * 5 - rng.i64(0..2_000),
    )
    .unwrap();
    let d = rng.usize(0..doctors.len());
    let created = AppointmentCreated {
        appointment_id: Uuid::from_u128(u128::from(i)),
        patient_id: Uuid::from_u128(7),
        doctor_id: doctors[d],
        appointment_type: TYPES[rng.usize(0..3)].into(),
        start_time: at,
        end_time: at,
        duration_minutes: 30,
    };
    (d, serde_json::to_vec(&created.envelope(at)).unwrap())
}

fn core(n: u64) {
    let mut rng = fastrand::Rng::with_seed(1);
    let doctors: Vec<Uuid> = (0..200).map(|_| Uuid::from_u128(rng.u128(..))).collect();
    let events: Vec<Event<'static>> = (0..n)
        .map(|i| Event {
            id: Uuid::from_u128(u128::from(i)),
            time_ms: 1_767_600_000_000 + i as i64 * 5 - rng.i64(0..2_000),
            doctor: doctors[rng.usize(0..doctors.len())],
            appointment_type: TYPES[rng.usize(0..3)],
            kind: if rng.u8(0..10) == 0 {
                Kind::Cancelled
            } else {
                Kind::Created
            },
        })
        .collect();
    let mut best = f64::MAX;
    let mut windows = 0;
    for _ in 0..5 {
        let mut state = PartitionWindows::new(0, WindowConfig::default(), 0);
        let mut out = Vec::new();
        let start = Instant::now();
        for (offset, e) in events.iter().enumerate() {
            state.process(offset as i64, e, &mut out);
            windows += out.len();
            out.clear();
        }
        best = best.min(start.elapsed().as_secs_f64());
    }
    println!(
        "core (decoded events, 1 core):  {:>12.0} events/s  ({n} events, {windows} windows closed)",
        n as f64 / best
    );

    let bytes: Vec<Vec<u8>> = (0..n / 4)
        .map(|i| envelope_bytes(i, &mut rng, &doctors).1)
        .collect();
    // Before: the envelope to a generic JSON tree, then the tree to the typed payload.
    decode_and_window("two-pass decode + core:         ", &bytes, |b| {
        let raw = decode_envelope(b).unwrap();
        Decoded {
            event: AppointmentEvent::from_envelope(&raw).unwrap(),
            event_id: raw.event_id,
            occurred_at: raw.occurred_at,
        }
    });
    // What the service does: one pass from the bytes to the typed payload.
    decode_and_window("single-pass decode + core:      ", &bytes, |b| {
        AppointmentEvent::decode(b).unwrap()
    });
}

/// Decodes every envelope with `decode` and windows it, one core; prints events/s.
fn decode_and_window(
    label: &str,
    bytes: &[Vec<u8>],
    decode: impl Fn(&[u8]) -> Decoded<AppointmentEvent>,
) {
    let mut state = PartitionWindows::new(0, WindowConfig::default(), 0);
    let mut out = Vec::new();
    let start = Instant::now();
    for (offset, b) in bytes.iter().enumerate() {
        let decoded = decode(b);
        let AppointmentEvent::Created(e) = &decoded.event else {
            unreachable!()
        };
        let event = Event {
            id: decoded.event_id,
            time_ms: decoded.occurred_at.timestamp_millis(),
            doctor: e.doctor_id,
            appointment_type: &e.appointment_type,
            kind: Kind::Created,
        };
        state.process(offset as i64, &event, &mut out);
        out.clear();
    }
    println!(
        "{label} {:>12.0} events/s",
        bytes.len() as f64 / start.elapsed().as_secs_f64()
    );
}

fn main() {
    window_memory();
    core(4_000_000);
    if std::env::var_os("CORE_ONLY").is_some() {
        return;
    }

    // The mock keeps ~5 MB per partition; 8 partitions hold the whole run.
    const PARTITIONS: i32 = 8;
    const N: u64 = 64_000;
    let kafka = MockKafka::start(1).unwrap();
    kafka.create_topic("appointments", PARTITIONS).unwrap();
    kafka.create_topic("analytics-results", PARTITIONS).unwrap();
    let servers = kafka.bootstrap_servers();
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &servers)
        .set("linger.ms", "5")
        .create()
        .unwrap();
    let mut rng = fastrand::Rng::with_seed(2);
    let doctors: Vec<Uuid> = (0..200).map(|_| Uuid::from_u128(rng.u128(..))).collect();
    let start = Instant::now();
    for i in 0..N {
        let (d, value) = envelope_bytes(i, &mut rng, &doctors);
        let key = doctors[d].to_string();
        let mut record = BaseRecord::to("appointments")
            .partition(d as i32 % PARTITIONS)
            .key(&key)
            .payload(&value);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, r)) => {
                    record = r;
                    producer.poll(Duration::from_millis(1));
                }
            }
        }
        producer.poll(Duration::ZERO);
    }
    producer.flush(Duration::from_secs(60)).unwrap();
    println!(
        "produce to the mock broker:      {:>12.0} events/s",
        N as f64 / start.elapsed().as_secs_f64()
    );

    // Raw consume rate: a group consumer that only touches the payloads. Both this and the
    // service are timed from their first record, best of three passes over the same records
    // (a pass lasts tens of milliseconds, and single passes vary by 2× on this machine).
    const PASSES: usize = 3;
    let mut raw = 0f64;
    let mut bytes = 0;
    for pass in 0..PASSES {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &servers)
            .set("group.id", format!("bench-raw-{pass}"))
            .set("auto.offset.reset", "earliest")
            .create()
            .unwrap();
        consumer.subscribe(&["appointments"]).unwrap();
        let (mut n, mut first) = (0u64, None);
        bytes = 0;
        while n < N {
            if let Some(m) = consumer.poll(Duration::from_millis(100)) {
                first.get_or_insert_with(Instant::now);
                bytes += rdkafka::Message::payload(&m.unwrap()).map_or(0, <[u8]>::len);
                n += 1;
            }
        }
        raw = raw.max(N as f64 / first.unwrap().elapsed().as_secs_f64());
    }
    println!(
        "broker raw consume (1 consumer):  {raw:>12.0} events/s  ({} MB; best of {PASSES})",
        bytes / 1_000_000
    );

    // End to end: the service consumes, windows and publishes results (flushed per commit).
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut e2e = 0f64;
    let mut published = 0;
    for pass in 0..PASSES {
        let metrics = Arc::new(Metrics::default());
        let mut config = Config::new(&servers);
        config.port = 0;
        config.group_id = format!("bench-service-{pass}");
        config.idle_timeout = Duration::from_secs(3600);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let service = runtime.spawn(run_with_metrics(config, metrics.clone(), async {
            let _ = stopped.await;
        }));
        let mut first = None;
        loop {
            let seen = metrics.events_in.load(Ordering::Relaxed);
            if seen > 0 {
                first.get_or_insert_with(Instant::now);
            }
            if seen >= N {
                break;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        e2e = e2e.max(N as f64 / first.unwrap().elapsed().as_secs_f64());
        stop.send(()).unwrap();
        runtime.block_on(service).unwrap().unwrap();
        published = metrics.results_emitted.load(Ordering::Relaxed);
    }
    println!(
        "end to end (service):            {e2e:>12.0} events/s  ({published} results published a pass; best of {PASSES})"
    );
    println!("end to end / broker consume:     {:>12.2}", e2e / raw);
}
