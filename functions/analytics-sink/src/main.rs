use analytics_sink::AnalyticsSink;
use aws_lambda_events::kafka::KafkaEvent;
use careflow::analytics::AnalyticsStore;
use careflow::config;
use careflow::db::DbConfig;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    careflow::telemetry::init();
    let pool = DbConfig::from_env().await?.pool()?;
    // Must match the event source mapping's FunctionResponseTypes (template.yaml).
    let partial = config::parsed_or("PARTIAL_BATCH_RESPONSE", true)?;
    let sink = AnalyticsSink::new(AnalyticsStore::new(pool), partial);
    careflow::event_function::run("AnalyticsSinkTransientError", |event: KafkaEvent| {
        sink.handle(event)
    })
    .await
}
