//! librdkafka's mock cluster: a real Kafka-protocol broker over TCP, in this process.
//!
//! rdkafka's own `MockCluster` does not expose the native handle, and the mock delays a consumer
//! group's first assignment by ~3 s unless `rd_kafka_mock_group_initial_rebalance_delay_ms` is
//! set; so the cluster is created here directly through `rdkafka::bindings`.

use std::ffi::{CStr, CString};

use rdkafka::ClientConfig;
use rdkafka::bindings as rd;
use rdkafka::producer::{BaseProducer, Producer};

/// A running mock cluster. Dropping it stops the brokers.
pub struct MockKafka {
    cluster: *mut rd::rd_kafka_mock_cluster_t,
    // The cluster lives inside this client's handle; it must outlive `cluster`.
    _owner: BaseProducer,
}

impl std::fmt::Debug for MockKafka {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockKafka")
            .field("bootstrap_servers", &self.bootstrap_servers())
            .finish()
    }
}

// The mock cluster API is thread-safe (librdkafka serialises it on the cluster's own thread).
unsafe impl Send for MockKafka {}
unsafe impl Sync for MockKafka {}

#[derive(Debug, thiserror::Error)]
pub enum MockKafkaError {
    #[error("cannot create the Kafka client that hosts the mock cluster: {0}")]
    Client(#[from] rdkafka::error::KafkaError),
    #[error("librdkafka could not start the mock cluster")]
    Start,
    #[error("mock cluster refused {what}: {code}")]
    Refused { what: String, code: String },
}

impl MockKafka {
    /// Starts `brokers` brokers on ephemeral loopback ports, with no initial rebalance delay.
    pub fn start(brokers: i32) -> Result<Self, MockKafkaError> {
        let owner: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", "127.0.0.1:1") // never contacted: the handle only hosts the cluster
            .set("log_level", "3")
            .create()?;
        // SAFETY: the handle is valid for the lifetime of `owner`, which we keep.
        let cluster =
            unsafe { rd::rd_kafka_mock_cluster_new(owner.client().native_ptr(), brokers) };
        if cluster.is_null() {
            return Err(MockKafkaError::Start);
        }
        let mock = Self {
            cluster,
            _owner: owner,
        };
        // SAFETY: `cluster` was just created and is not yet destroyed.
        unsafe { rd::rd_kafka_mock_group_initial_rebalance_delay_ms(cluster, 0) };
        Ok(mock)
    }

    /// `host:port,…` of the brokers, for `bootstrap.servers` (also usable by other processes).
    pub fn bootstrap_servers(&self) -> String {
        // SAFETY: returns a pointer owned by the cluster, valid while it lives; copied at once.
        unsafe { CStr::from_ptr(rd::rd_kafka_mock_cluster_bootstraps(self.cluster)) }
            .to_string_lossy()
            .into_owned()
    }

    /// Creates a topic (idempotent for an existing topic with the same layout).
    pub fn create_topic(&self, name: &str, partitions: i32) -> Result<(), MockKafkaError> {
        let c_name = CString::new(name).map_err(|_| MockKafkaError::Refused {
            what: format!("topic {name:?}"),
            code: "name contains NUL".into(),
        })?;
        // SAFETY: valid cluster; the name is a NUL-terminated string that outlives the call.
        let code =
            unsafe { rd::rd_kafka_mock_topic_create(self.cluster, c_name.as_ptr(), partitions, 1) };
        self.check(code, &format!("topic {name}"))
    }

    fn check(&self, code: rd::rd_kafka_resp_err_t, what: &str) -> Result<(), MockKafkaError> {
        if code == rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
            Ok(())
        } else {
            Err(MockKafkaError::Refused {
                what: what.to_owned(),
                code: format!("{code:?}"),
            })
        }
    }
}

impl Drop for MockKafka {
    fn drop(&mut self) {
        // SAFETY: created in `start`, destroyed exactly once, before its owning client.
        unsafe { rd::rd_kafka_mock_cluster_destroy(self.cluster) };
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use rdkafka::Message;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::producer::{BaseRecord, Producer};

    use super::*;

    #[test]
    fn serves_produce_and_a_consumer_group_over_tcp() {
        let kafka = MockKafka::start(1).unwrap();
        kafka.create_topic("probe", 3).unwrap();
        let servers = kafka.bootstrap_servers();
        assert!(
            servers.starts_with("127.0.0.1:") || servers.contains(':'),
            "{servers}"
        );

        let producer: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", &servers)
            .create()
            .unwrap();
        producer
            .send(BaseRecord::to("probe").key("k").payload("hello"))
            .map_err(|(e, _)| e)
            .unwrap();
        producer.flush(Duration::from_secs(5)).unwrap();

        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &servers)
            .set("group.id", "probe-group")
            .set("auto.offset.reset", "earliest")
            .create()
            .unwrap();
        consumer.subscribe(&["probe"]).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let payload = loop {
            assert!(
                std::time::Instant::now() < deadline,
                "no message within 10 s"
            );
            if let Some(msg) = consumer.poll(Duration::from_millis(100)) {
                break msg.unwrap().payload().map(<[u8]>::to_vec);
            }
        };
        assert_eq!(payload.as_deref(), Some(&b"hello"[..]));
    }
}
