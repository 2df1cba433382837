use careflow::lab::extract::{Isolated, Limits, run_child_if_requested};
use careflow::lab::objects::LabObjects;
use careflow::lab::process::Processor;
use careflow::lab::service::LabReports;
use careflow::patient::store::RecordsTable;
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
    let max_bytes =
        careflow::config::parsed_or("LAB_UPLOAD_MAX_BYTES", careflow::lab::DEFAULT_MAX_BYTES)?;
    let processor = LabProcessor::new(Processor::new(
        LabReports::new(RecordsTable::from_env().await?),
        LabObjects::from_env().await?,
        Isolated::current_exe(Limits::from_env()?)?,
        max_bytes,
    ));
    careflow::event_function::run(
        "LabProcessingError",
        |event: aws_lambda_events::s3::S3Event| processor.handle(event),
    )
    .await
}
