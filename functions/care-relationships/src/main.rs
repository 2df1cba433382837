use aws_lambda_events::kafka::KafkaEvent;
use care_relationships::CareRelationships;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    careflow::telemetry::init();
    let consumer = CareRelationships::from_vars(careflow::config::Vars::process()).await?;
    careflow::event_function::run("CareRelationshipsTransientError", |event: KafkaEvent| {
        consumer.handle(event)
    })
    .await
}
