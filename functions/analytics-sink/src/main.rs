use analytics_sink::AnalyticsSink;
use aws_lambda_events::kafka::KafkaEvent;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    careflow::telemetry::init();
    let sink = AnalyticsSink::from_vars(careflow::config::Vars::process()).await?;
    careflow::event_function::run("AnalyticsSinkTransientError", |event: KafkaEvent| {
        sink.handle(event)
    })
    .await
}
