use outbox_relay::OutboxRelay;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    careflow::telemetry::init();
    let relay = OutboxRelay::from_vars(careflow::config::Vars::process()).await?;
    careflow::event_function::run("RelayError", |_: serde_json::Value| relay.run()).await
}
