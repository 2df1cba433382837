//! Configuration from the environment (Cloud Run sets `PORT`; the rest comes from the service's
//! env vars and Secret Manager references).

use std::time::Duration;

use anyhow::{Context, bail};
use rdkafka::ClientConfig;

use crate::window::WindowConfig;

#[derive(Debug, Clone)]
pub struct Config {
    /// `KAFKA_BOOTSTRAP_SERVERS` (required).
    pub bootstrap_servers: String,
    /// `KAFKA_SASL_USERNAME` / `KAFKA_SASL_PASSWORD`: when set, SASL_SSL with PLAIN (Confluent
    /// Cloud API key and secret); otherwise `KAFKA_SECURITY_PROTOCOL` (default `plaintext`).
    pub sasl: Option<(String, String)>,
    pub security_protocol: String,
    /// `ANALYTICS_GROUP_ID` (default `gcp-analytics`).
    pub group_id: String,
    /// `ANALYTICS_INPUT_TOPIC` (default `appointments`).
    pub input_topic: String,
    /// `ANALYTICS_OUTPUT_TOPIC` (default `analytics-results`).
    pub output_topic: String,
    /// `ANALYTICS_WINDOW_MS` (default 60000) and `ANALYTICS_LATENESS_MS` (default 10000).
    pub window: WindowConfig,
    /// `ANALYTICS_IDLE_TIMEOUT_MS` (default 30000): a partition caught up and silent this long
    /// has its watermark advanced to processing time minus the lateness.
    pub idle_timeout: Duration,
    /// `ANALYTICS_COMMIT_INTERVAL_MS` (default 1000).
    pub commit_interval: Duration,
    /// `KAFKA_SESSION_TIMEOUT_MS` (default 45000).
    pub session_timeout: Duration,
    /// `KAFKA_TRANSACTIONAL_ID`: when set, results and offsets go out in one Kafka transaction
    /// (layer 2). Must be unique per running instance.
    pub transactional_id: Option<String>,
    /// `PORT` (default 8080) for `/healthz`, `/readyz`, `/metrics`; 0 picks a free port.
    pub port: u16,
}

impl Config {
    /// Defaults for a broker at `bootstrap_servers` (local runner, tests).
    pub fn new(bootstrap_servers: impl Into<String>) -> Self {
        Self {
            bootstrap_servers: bootstrap_servers.into(),
            sasl: None,
            security_protocol: "plaintext".into(),
            group_id: "gcp-analytics".into(),
            input_topic: careflow::events::APPOINTMENTS_TOPIC.into(),
            output_topic: careflow::events::ANALYTICS_RESULTS_TOPIC.into(),
            window: WindowConfig::default(),
            idle_timeout: Duration::from_secs(30),
            commit_interval: Duration::from_secs(1),
            session_timeout: Duration::from_secs(45),
            transactional_id: None,
            port: 8080,
        }
    }

    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let servers =
            get("KAFKA_BOOTSTRAP_SERVERS").context("KAFKA_BOOTSTRAP_SERVERS is not set")?;
        let mut c = Self::new(servers);
        let num = |name: &str, default: u64| -> anyhow::Result<u64> {
            match get(name) {
                None => Ok(default),
                Some(v) => v
                    .trim()
                    .parse()
                    .with_context(|| format!("{name}={v:?} is not a number")),
            }
        };
        c.sasl = match (get("KAFKA_SASL_USERNAME"), get("KAFKA_SASL_PASSWORD")) {
            (Some(user), Some(pass)) => Some((user, pass)),
            (None, None) => None,
            _ => bail!("set both KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD, or neither"),
        };
        c.security_protocol = get("KAFKA_SECURITY_PROTOCOL").unwrap_or_else(|| {
            if c.sasl.is_some() {
                "sasl_ssl"
            } else {
                "plaintext"
            }
            .into()
        });
        if let Some(v) = get("ANALYTICS_GROUP_ID") {
            c.group_id = v;
        }
        if let Some(v) = get("ANALYTICS_INPUT_TOPIC") {
            c.input_topic = v;
        }
        if let Some(v) = get("ANALYTICS_OUTPUT_TOPIC") {
            c.output_topic = v;
        }
        c.window.size_ms = num("ANALYTICS_WINDOW_MS", 60_000)? as i64;
        c.window.lateness_ms = num("ANALYTICS_LATENESS_MS", 10_000)? as i64;
        if c.window.size_ms <= 0 {
            bail!("ANALYTICS_WINDOW_MS must be positive");
        }
        c.idle_timeout = Duration::from_millis(num("ANALYTICS_IDLE_TIMEOUT_MS", 30_000)?);
        c.commit_interval = Duration::from_millis(num("ANALYTICS_COMMIT_INTERVAL_MS", 1_000)?);
        c.session_timeout = Duration::from_millis(num("KAFKA_SESSION_TIMEOUT_MS", 45_000)?);
        c.transactional_id = get("KAFKA_TRANSACTIONAL_ID").filter(|v| !v.is_empty());
        c.port = num("PORT", 8080)?.try_into().context("PORT out of range")?;
        Ok(c)
    }

    /// Connection settings shared by the consumer and the producer.
    pub(crate) fn client(&self) -> ClientConfig {
        let mut cc = ClientConfig::new();
        cc.set("bootstrap.servers", &self.bootstrap_servers)
            .set("security.protocol", &self.security_protocol)
            .set("client.id", "gcp-analytics")
            .set("log_level", "4");
        if self.security_protocol.to_ascii_lowercase().contains("ssl") {
            // The vendored OpenSSL knows no system CA path: let librdkafka find the image's.
            cc.set("ssl.ca.location", "probe");
        }
        if let Some((user, pass)) = &self.sasl {
            cc.set("sasl.mechanisms", "PLAIN")
                .set("sasl.username", user)
                .set("sasl.password", pass);
        }
        cc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_defaults_and_confluent_cloud() {
        let env = [
            (
                "KAFKA_BOOTSTRAP_SERVERS",
                "pkc-1.europe-west1.gcp.confluent.cloud:9092",
            ),
            ("KAFKA_SASL_USERNAME", "KEY"),
            ("KAFKA_SASL_PASSWORD", "SECRET"),
            ("ANALYTICS_LATENESS_MS", "5000"),
        ];
        let c = Config::from_lookup(|k| {
            env.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        })
        .unwrap();
        assert_eq!(c.security_protocol, "sasl_ssl");
        assert_eq!(
            c.window,
            WindowConfig {
                size_ms: 60_000,
                lateness_ms: 5_000
            }
        );
        assert_eq!(c.port, 8080);
        assert!(Config::from_lookup(|_| None).is_err());
    }
}
