//! Bringing the local stack up: database and migrations, signing key, first admin, functions.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use careflow::auth::accounts::Accounts;
use careflow::auth::token::{
    Jwks, SigningKey, SigningKeyDocument, TokenIssuer, TokenSettings, Verifier,
};
use careflow::db::{self, DbConfig};
use careflow::kafka::mock::MockKafka;

use crate::authorizer::JwtAuthorizer;
use crate::aws::{AwsFunctions, FunctionIdentities};
use crate::functions::{self, Deps, LocalEnvironment};
use crate::gateway::Gateway;
use crate::kafka_source::{self, KafkaSource};
use crate::resources;
use crate::template::Template;
use careflow::appointment::service::Appointments;
use careflow::billing::BillingSettings;
use careflow::billing::service::Billing;
use careflow::kafka::KafkaConfig;
use careflow::outbox::Publisher;
use outbox_relay::OutboxRelay;

/// Everything the runner needs to know, from the environment or the command line.
#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: String,
    pub port: u16,
    pub template: PathBuf,
    /// Where the runner keeps its signing key between runs (`.local/`).
    pub state_dir: PathBuf,
    pub admin_email: String,
    pub admin_password: Option<String>,
    /// Token issuer; defaults to the runner's own URL so discovery works against it.
    pub issuer: Option<String>,
    pub audience: String,
    /// The built web portal, served beside the API when it exists (`web/dist`).
    pub web_root: Option<PathBuf>,
    /// Names resources like a deployment of this stage would (`careflow-{stage}-records`).
    pub stage: String,
    /// An external broker; when unset the runner starts librdkafka's mock cluster.
    pub kafka_bootstrap_servers: Option<String>,
}

impl Settings {
    pub fn from_env() -> anyhow::Result<Self> {
        let vars = careflow::config::Vars::process();
        let optional = |name| vars.optional(name);
        Ok(Self {
            database_url: vars.required("DATABASE_URL")?,
            port: vars.parsed_or("CAREFLOW_PORT", 3000u16)?,
            template: optional("CAREFLOW_TEMPLATE")
                .unwrap_or_else(|| "template.yaml".into())
                .into(),
            state_dir: optional("CAREFLOW_STATE_DIR")
                .unwrap_or_else(|| ".local".into())
                .into(),
            admin_email: optional("CAREFLOW_ADMIN_EMAIL")
                .unwrap_or_else(|| "admin@careflow.local".into()),
            admin_password: optional("CAREFLOW_ADMIN_PASSWORD"),
            issuer: optional("CAREFLOW_JWT_ISSUER"),
            audience: optional("CAREFLOW_JWT_AUDIENCE").unwrap_or_else(|| "careflow-api".into()),
            kafka_bootstrap_servers: optional("KAFKA_BOOTSTRAP_SERVERS"),
            stage: optional("CAREFLOW_STAGE").unwrap_or_else(|| "local".into()),
            web_root: Some(
                optional("CAREFLOW_WEB_ROOT")
                    .unwrap_or_else(|| "web/dist".into())
                    .into(),
            ),
        })
    }
}

/// The running stack's parts, exposed for tests.
pub struct Stack {
    pub gateway: Arc<Gateway>,
    pub deps: Deps,
    /// Set when this start created the first admin.
    pub admin: Option<(String, String)>,
    pub kafka: Kafka,
    /// `outbox-relay`, which the template schedules; `main` runs it on that schedule.
    pub relay: Arc<OutboxRelay>,
    /// EventBridge Scheduler's one-time schedules, fired by `main` when due.
    pub scheduler: Arc<crate::scheduler::LocalScheduler>,
    /// `scheduling-events` as the scheduler invokes it (`main` runs the waitlist sweep, which
    /// the template schedules every minute, with it).
    pub timers: crate::functions::EventFunction,
    /// Background event sources (Kafka triggers); stopped when the stack is dropped.
    pub tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Stack {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// The broker the stack uses: one it started (kept alive here) or one it was given.
pub struct Kafka {
    pub bootstrap_servers: String,
    mock: Option<Arc<MockKafka>>,
}

impl Kafka {
    async fn start(external: Option<&str>) -> anyhow::Result<Self> {
        let (bootstrap_servers, mock) = match external {
            Some(servers) => {
                careflow::kafka::ensure_topics(servers)
                    .await
                    .with_context(|| format!("creating topics on {servers}"))?;
                (servers.to_owned(), None)
            }
            None => {
                // The mock cluster does not serve CreateTopics; it has its own call.
                let mock = MockKafka::start(1)?;
                for (topic, partitions) in careflow::kafka::TOPICS {
                    mock.create_topic(topic, *partitions)?;
                }
                (mock.bootstrap_servers(), Some(mock))
            }
        };
        Ok(Self {
            bootstrap_servers,
            mock: mock.map(Arc::new),
        })
    }
}

/// Loads the signing key kept in `state_dir`, or creates one, so tokens survive a restart.
fn signing_key(state_dir: &Path) -> anyhow::Result<SigningKey> {
    let path = state_dir.join("signing-key.json");
    if let Ok(raw) = std::fs::read_to_string(&path) {
        let doc: SigningKeyDocument = serde_json::from_str(&raw).context("signing-key.json")?;
        match SigningKey::from_document(&doc) {
            Ok(key) => return Ok(key),
            // An Ed25519 key of an earlier version: API Gateway verifies RSA only.
            Err(e) => {
                tracing::warn!(error = %e, "replacing the stored signing key with an RSA key")
            }
        }
    }
    let key = SigningKey::generate().map_err(|e| anyhow::anyhow!("{e}"))?;
    std::fs::create_dir_all(state_dir)?;
    write_private(&path, &serde_json::to_string_pretty(&key.to_document())?)?;
    Ok(key)
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    options.open(path)?.write_all(contents.as_bytes())
}

/// Connects, migrates, bootstraps the admin and builds the gateway over every function.
pub async fn start(settings: &Settings, bound_port: u16) -> anyhow::Result<Stack> {
    let db = DbConfig::from_url(&settings.database_url)?;
    let pool = db.pool()?;
    let mut client = db::client(&pool)
        .await
        .map_err(|e| anyhow::anyhow!("cannot reach PostgreSQL at DATABASE_URL: {e:?}"))?;
    let applied = db::migrate::run(&mut client)
        .await
        .map_err(|e| anyhow::anyhow!("migrations: {e:?}"))?;
    drop(client);
    tracing::info!(?applied, "database ready");

    let key = signing_key(&settings.state_dir)?;
    let domain = format!("localhost:{bound_port}");
    let token_settings = TokenSettings {
        issuer: settings
            .issuer
            .clone()
            .unwrap_or_else(|| format!("http://{domain}")),
        audience: settings.audience.clone(),
    };
    let jwks = Jwks {
        keys: vec![key.public_jwk().clone()],
    };
    let verifier = Verifier::new(&jwks, &token_settings)?;
    let issuer = TokenIssuer::new(
        key.clone(),
        token_settings.clone(),
        Duration::from_secs(900),
    );
    let accounts = Accounts::new(pool, careflow::auth::accounts::DEFAULT_REFRESH_TTL);

    let admin = accounts
        .bootstrap_admin(&settings.admin_email, settings.admin_password.clone())
        .await
        .map_err(|e| anyhow::anyhow!("bootstrapping the admin: {e}"))?
        .map(|(user, password)| (user.email, password));

    let kafka = Kafka::start(settings.kafka_bootstrap_servers.as_deref()).await?;
    tracing::info!(bootstrap_servers = %kafka.bootstrap_servers, "kafka ready");
    let template = Template::load(&settings.template)?;
    let dynamodb = resources::dynamodb_client().await;
    let records = template
        .tables
        .iter()
        .find(|t| t.logical_id == "RecordsTable")
        .context("template.yaml declares no RecordsTable")?;
    let aws = AwsFunctions::for_stage(FunctionIdentities::from_env().await?, &settings.stage);
    resources::create_table(&dynamodb, records, &aws.records_table).await?;
    // Every function is built by its own `from_vars` from the variables the template gives it,
    // with the local database, broker, key, table and bucket in place of the deployment's.
    let portal_url = format!("http://{domain}");
    let local = LocalEnvironment {
        database_url: &settings.database_url,
        kafka_bootstrap_servers: &kafka.bootstrap_servers,
        tokens: &token_settings,
        key: &key,
        aws: &aws,
        portal_url: &portal_url,
    }
    .variables()?;
    // The sender of registration e-mails, verified in the emulator as DNS verifies it in AWS.
    if let Some(sender) = aws
        .identities
        .vars("auth-register", &local)?
        .optional("CAREFLOW_EMAIL_FROM")
    {
        resources::verify_sender_domain(&sender).await?;
    }
    // Lab reports: the template's bucket in the emulator, its uploads relayed to lab-processor.
    let lab_relay = crate::s3_relay::start_lab_relay(
        &settings.template,
        &aws,
        &local,
        &format!("careflow-{}-lab-uploads", settings.stage),
    )
    .await?;
    let relay = OutboxRelay::from_vars(aws.identities.vars("outbox-relay", &local)?).await?;
    let publisher = Publisher::new(
        &KafkaConfig::plaintext(&kafka.bootstrap_servers),
        Duration::from_secs(2),
    )?;
    let appointments = Appointments::with_publisher(accounts.pool().clone(), publisher);
    let billing = Billing::new(accounts.pool().clone(), BillingSettings::default());
    let http = functions::http_functions(&aws, &local).await?;
    // The template's Kafka triggers, run like event source mappings on the stack's broker.
    let mut tasks = vec![lab_relay.spawn()];
    for trigger in &template.kafka_triggers {
        let function = functions::build_kafka(
            &trigger.function,
            aws.identities.vars(&trigger.function, &local)?,
        )
        .await
        .with_context(|| format!("template.yaml triggers {} from Kafka", trigger.function))?;
        let source = KafkaSource {
            bootstrap_servers: kafka.bootstrap_servers.clone(),
            topic: trigger.topic.clone(),
            group_id: format!("careflow-{}-{}", trigger.function, settings.stage),
            batch_size: trigger.batch_size,
            batching_window: Duration::from_millis(200),
            broker: kafka.mock.clone(),
        };
        tasks.push(tokio::spawn(async move {
            if let Err(e) = kafka_source::run(source, function).await {
                tracing::error!(error = %e, "kafka event source stopped");
            }
        }));
    }
    let timers = functions::build_timer_target(aws.identities.vars("scheduling-events", &local)?)
        .await
        .context("scheduling-events")?;
    let scheduler = crate::scheduler::LocalScheduler::new(
        resources::scheduler_client().await,
        &settings.stage,
        std::collections::HashMap::from([(
            format!("careflow-{}-scheduling-events", settings.stage),
            timers.clone(),
        )]),
    );
    let deps = Deps {
        billing,
        appointments,
        accounts,
        issuer,
        verifier,
        jwks,
        settings: token_settings,
        aws,
        local,
    };
    let authorizer = JwtAuthorizer {
        issuer: deps.settings.issuer.clone(),
        audiences: vec![deps.settings.audience.clone()],
    };
    let mut gateway = Gateway::new(template, http, authorizer, domain)?;
    gateway.web_root = settings
        .web_root
        .clone()
        .filter(|root| root.join("index.html").exists());
    Ok(Stack {
        gateway: Arc::new(gateway),
        deps,
        admin,
        kafka,
        relay: Arc::new(relay),
        scheduler: Arc::new(scheduler),
        timers,
        tasks,
    })
}
