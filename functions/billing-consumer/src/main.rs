use aws_lambda_events::kafka::KafkaEvent;
use billing_consumer::BillingConsumer;
use careflow::billing::BillingSettings;
use careflow::billing::service::Billing;
use careflow::config;
use careflow::db::DbConfig;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    careflow::telemetry::init();
    let pool = DbConfig::from_env().await?.pool()?;
    let billing = Billing::new(pool, BillingSettings::from_env()?);
    // Must match the event source mapping's FunctionResponseTypes (template.yaml).
    let partial = config::parsed_or("BILLING_PARTIAL_BATCH_RESPONSE", true)?;
    let consumer = BillingConsumer::new(billing, partial);
    careflow::event_function::run("BillingTransientError", |event: KafkaEvent| {
        consumer.handle(event)
    })
    .await
}
