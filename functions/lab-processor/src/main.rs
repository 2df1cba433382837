use careflow::lab::extract::run_child_if_requested;
use lab_processor::LabProcessor;

fn main() -> Result<(), lambda_runtime::Error> {
    // The extraction child: this same binary, re-executed per PDF (see careflow::lab::extract).
    run_child_if_requested();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

async fn run() -> Result<(), lambda_runtime::Error> {
    careflow::telemetry::init();
    let processor = LabProcessor::from_vars(careflow::config::Vars::process()).await?;
    careflow::event_function::run(
        "LabProcessingError",
        |event: aws_lambda_events::s3::S3Event| processor.handle(event),
    )
    .await
}
