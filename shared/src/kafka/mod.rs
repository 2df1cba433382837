//! Kafka: client configuration (local brokers and Confluent Cloud) and the in-process mock
//! cluster used by the local runner and the tests.

pub mod mock;

use crate::config::{ConfigError, Vars};

/// How to reach the brokers: plaintext locally, SASL_SSL/PLAIN for Confluent Cloud.
#[derive(Clone)]
pub struct KafkaConfig {
    pub bootstrap_servers: String,
    pub sasl: Option<SaslCredentials>,
}

/// A Confluent Cloud API key and secret.
#[derive(Clone, serde::Deserialize)]
pub struct SaslCredentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for KafkaConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaConfig")
            .field("bootstrap_servers", &self.bootstrap_servers)
            .field("sasl", &self.sasl.as_ref().map(|s| &s.username))
            .finish()
    }
}

impl KafkaConfig {
    pub fn plaintext(bootstrap_servers: impl Into<String>) -> Self {
        Self {
            bootstrap_servers: bootstrap_servers.into(),
            sasl: None,
        }
    }

    /// Reads `KAFKA_BOOTSTRAP_SERVERS` and, for SASL_SSL, either `KAFKA_SASL_SECRET_ARN`
    /// (Secrets Manager `{"username","password"}`, needs the `secrets` feature) or
    /// `KAFKA_SASL_USERNAME` / `KAFKA_SASL_PASSWORD`.
    pub async fn from_vars(vars: &Vars) -> Result<Self, ConfigError> {
        let bootstrap_servers = vars.required("KAFKA_BOOTSTRAP_SERVERS")?;
        let sasl = match (
            vars.optional("KAFKA_SASL_SECRET_ARN"),
            vars.optional("KAFKA_SASL_USERNAME"),
            vars.optional("KAFKA_SASL_PASSWORD"),
        ) {
            #[cfg(feature = "secrets")]
            (Some(arn), _, _) => {
                Some(crate::secrets::get_json::<SaslCredentials>(vars, &arn).await?)
            }
            #[cfg(not(feature = "secrets"))]
            (Some(_), _, _) => {
                return Err(ConfigError::Invalid {
                    name: "KAFKA_SASL_SECRET_ARN",
                    message: "this binary was built without Secrets Manager support".into(),
                });
            }
            (None, Some(username), Some(password)) => Some(SaslCredentials { username, password }),
            (None, None, None) => None,
            _ => {
                return Err(ConfigError::Invalid {
                    name: "KAFKA_SASL_USERNAME",
                    message: "set both KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD".into(),
                });
            }
        };
        Ok(Self {
            bootstrap_servers,
            sasl,
        })
    }

    /// A client configuration with the connection settings filled in.
    pub fn client_config(&self) -> rdkafka::ClientConfig {
        let mut config = rdkafka::ClientConfig::new();
        config.set("bootstrap.servers", &self.bootstrap_servers);
        if let Some(sasl) = &self.sasl {
            config
                .set("security.protocol", "SASL_SSL")
                .set("sasl.mechanisms", "PLAIN")
                .set("sasl.username", &sasl.username)
                .set("sasl.password", &sasl.password);
        }
        config
    }
}

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;

/// The topics CareFlow uses, with their partition counts for local brokers.
pub const TOPICS: &[(&str, i32)] = &[("appointments", 3), ("analytics-results", 3)];

/// Creates `TOPICS` on a broker, leaving existing ones alone.
pub async fn ensure_topics(bootstrap_servers: &str) -> Result<(), rdkafka::error::KafkaError> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap_servers)
        .create()?;
    let topics: Vec<NewTopic> = TOPICS
        .iter()
        .map(|(name, partitions)| NewTopic::new(name, *partitions, TopicReplication::Fixed(1)))
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    for result in admin.create_topics(&topics, &options).await? {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(rdkafka::error::KafkaError::AdminOp(code)).inspect_err(|_| {
                    tracing::error!(%topic, "cannot create topic");
                });
            }
        }
    }
    Ok(())
}
