use aws_lambda_events::kafka::KafkaEvent;
use billing_consumer::BillingConsumer;
use careflow::billing::BillingSettings;
use careflow::billing::service::Billing;
use careflow::config;
use careflow::db::DbConfig;
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    careflow::telemetry::init();
    let pool = DbConfig::from_env().await?.pool()?;
    let billing = Billing::new(pool, BillingSettings::from_env()?);
    // Must match the event source mapping's FunctionResponseTypes (template.yaml).
    let partial = config::parsed_or("BILLING_PARTIAL_BATCH_RESPONSE", true)?;
    let consumer = BillingConsumer::new(billing, partial);
    let consumer = &consumer;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<KafkaEvent>| async move {
            consumer
                .handle(event.payload)
                .await
                .map_err(|e| lambda_runtime::Diagnostic {
                    error_type: "BillingTransientError".into(),
                    error_message: e.safe_description(),
                })
        },
    ))
    .await
}
