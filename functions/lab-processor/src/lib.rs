//! S3 `ObjectCreated` on `lab-reports/*.pdf`: reads each uploaded PDF into lab values on the
//! patient's record (see `careflow::lab::process`).
//!
//! A batch may hold several records; each is processed on its own, so one bad file never
//! stops the others. Problems with a file end as a stored status (`unreadable` with a reason);
//! only transient failures (S3 or DynamoDB unavailable) fail the invocation, after every
//! record has been tried, so that Lambda's retry redelivers the batch, in which the records
//! already done are no-ops.

use aws_lambda_events::s3::{S3Event, S3EventRecord};
use careflow::config::Vars;
use careflow::lab::process::{ObjectEvent, Processed, Processor};
use careflow::lab::{Status, decode_event_key};
use careflow::{Error, Result};
use serde::Serialize;

/// What one invocation did, by record outcome.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct BatchReport {
    pub processed: usize,
    pub needs_review: usize,
    pub unreadable: usize,
    pub duplicates: usize,
    pub ignored: usize,
    pub failed: usize,
}

pub struct LabProcessor {
    processor: Processor,
}

/// The object a record names, key decoded (`+` is a space, `%XX` a byte).
pub fn object_event(record: &S3EventRecord) -> Option<ObjectEvent> {
    let object = &record.s3.object;
    Some(ObjectEvent {
        bucket: record.s3.bucket.name.clone()?,
        key: decode_event_key(object.key.as_deref()?),
        size: object.size.and_then(|s| u64::try_from(s).ok()),
        etag: object.e_tag.clone().filter(|e| !e.is_empty()),
        version_id: object.version_id.clone().filter(|v| !v.is_empty()),
        sequencer: object.sequencer.clone().filter(|s| !s.is_empty()),
    })
}

impl LabProcessor {
    pub fn new(processor: Processor) -> Self {
        Self { processor }
    }

    /// `CAREFLOW_TABLE`, `LAB_BUCKET`, `LAB_UPLOAD_MAX_BYTES` and the extraction child's limits;
    /// the child is this very binary (`main` calls `run_child_if_requested` first).
    pub async fn from_vars(vars: Vars) -> std::result::Result<Self, careflow::config::ConfigError> {
        let program = std::env::current_exe().map_err(|e| careflow::config::ConfigError::Load {
            what: "the extraction program",
            message: e.to_string(),
        })?;
        Self::with_extractor(vars, program).await
    }

    /// As [`Self::from_vars`], with another program as the extraction child (the runner and the
    /// tests, whose own binary is not the lab processor's).
    pub async fn with_extractor(
        vars: Vars,
        program: std::path::PathBuf,
    ) -> std::result::Result<Self, careflow::config::ConfigError> {
        use careflow::config::FromVars;
        use careflow::lab::extract::{Isolated, Limits};
        use careflow::lab::objects::LabObjects;
        use careflow::lab::ocr::Tesseract;
        use careflow::lab::service::LabReports;
        let max_bytes = vars.parsed_or("LAB_UPLOAD_MAX_BYTES", careflow::lab::DEFAULT_MAX_BYTES)?;
        // Whether the OCR programs run is checked at the first scanned page (Processor).
        let ocr = Tesseract::from_vars(&vars)?;
        Ok(Self::new(Processor::new(
            LabReports::build(&vars).await?,
            LabObjects::from_vars(&vars).await?,
            Isolated::with_program(program, Limits::from_vars(&vars)?),
            ocr,
            max_bytes,
        )))
    }

    /// Processes every record; fails (for a retry) only if some record failed transiently.
    pub async fn handle(&self, event: S3Event) -> Result<BatchReport> {
        let mut report = BatchReport::default();
        let mut last_error = None;
        for record in &event.records {
            if !record
                .event_name
                .as_deref()
                .is_some_and(|n| n.starts_with("ObjectCreated:"))
            {
                report.ignored += 1;
                continue;
            }
            let Some(object) = object_event(record) else {
                tracing::warn!("an S3 record without bucket or key");
                report.ignored += 1;
                continue;
            };
            match self.processor.process(&object).await {
                Ok(Processed::Stored(r)) => match r.status {
                    Status::Processed => report.processed += 1,
                    Status::NeedsReview => report.needs_review += 1,
                    _ => report.unreadable += 1,
                },
                Ok(Processed::Duplicate) => report.duplicates += 1,
                Ok(Processed::Ignored(why)) => {
                    tracing::warn!(key = %object.key, reason = %why, "S3 record ignored");
                    report.ignored += 1;
                }
                Err(e) => {
                    tracing::error!(key = %object.key, error = %e.safe_description(), "lab report not processed; will be retried");
                    report.failed += 1;
                    last_error = Some(e);
                }
            }
        }
        tracing::info!(?report, "lab-processor batch");
        match last_error {
            Some(e) => Err(Error::Unavailable(
                format!(
                    "{} of the batch's records failed: {}",
                    report.failed,
                    e.safe_description()
                )
                .into(),
            )),
            None => Ok(report),
        }
    }
}
