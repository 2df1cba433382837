use scheduling_events::SchedulingEvents;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    careflow::telemetry::init();
    let function = SchedulingEvents::from_vars(careflow::config::Vars::process()).await?;
    careflow::event_function::run("SchedulingTransientError", |event: serde_json::Value| {
        function.handle(event)
    })
    .await
}
