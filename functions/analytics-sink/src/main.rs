use analytics_sink::AnalyticsSink;
use aws_lambda_events::kafka::KafkaEvent;
use careflow::analytics::AnalyticsStore;
use careflow::config;
use careflow::db::DbConfig;
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    careflow::telemetry::init();
    let pool = DbConfig::from_env().await?.pool()?;
    // Must match the event source mapping's FunctionResponseTypes (template.yaml).
    let partial = config::parsed_or("PARTIAL_BATCH_RESPONSE", true)?;
    let sink = AnalyticsSink::new(AnalyticsStore::new(pool), partial);
    let sink = &sink;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<KafkaEvent>| async move {
            sink.handle(event.payload)
                .await
                .map_err(|e| lambda_runtime::Diagnostic {
                    error_type: "AnalyticsSinkTransientError".into(),
                    error_message: e.safe_description(),
                })
        },
    ))
    .await
}
