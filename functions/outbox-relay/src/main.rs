use std::time::Duration;

use careflow::config;
use careflow::db::DbConfig;
use careflow::outbox::Publisher;
use outbox_relay::{OutboxRelay, Retention};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    careflow::telemetry::init();
    let pool = DbConfig::from_env().await?.pool()?;
    let publisher = Publisher::from_env(10_000).await?;
    let budget = config::parsed_or("RELAY_BUDGET_SECONDS", 45u64)?;
    let retention = Retention::from_env()?;
    let relay = OutboxRelay::new(pool, publisher, Duration::from_secs(budget), retention);
    careflow::event_function::run("RelayError", |_: serde_json::Value| relay.run()).await
}
