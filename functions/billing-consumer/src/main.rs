use aws_lambda_events::kafka::KafkaEvent;
use billing_consumer::BillingConsumer;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    careflow::telemetry::init();
    let consumer = BillingConsumer::from_vars(careflow::config::Vars::process()).await?;
    careflow::event_function::run("BillingTransientError", |event: KafkaEvent| {
        consumer.handle(event)
    })
    .await
}
