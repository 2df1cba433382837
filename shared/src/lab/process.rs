//! Processing one uploaded object: size and magic-byte checks, fetch, isolated extraction,
//! parsing, and the idempotent final write. What lab-processor does for each S3 record.

use chrono::Utc;

use super::extract::{Isolated, NO_TEXT_LAYER, Outcome, Owner, Session, looks_like_pdf};
use super::objects::LabObjects;
use super::ocr::{OcrError, Tesseract};
use super::service::{LabReports, Verdict, final_report};
use super::store::Written;
use super::{LabReport, ObjectRef, padded_sequencer, parse_object_key};
use crate::{Error, Result};

/// One `ObjectCreated` record, key already URL-decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectEvent {
    pub bucket: String,
    pub key: String,
    pub size: Option<u64>,
    pub etag: Option<String>,
    pub version_id: Option<String>,
    pub sequencer: Option<String>,
}

/// What became of one record.
#[derive(Debug, Clone, PartialEq)]
pub enum Processed {
    Stored(Box<LabReport>),
    /// Already processed (a redelivery, or an older version than the one on record).
    Duplicate,
    /// Not ours to process (wrong bucket, a key that names no report, object gone).
    Ignored(String),
}

pub struct Processor {
    reports: LabReports,
    objects: LabObjects,
    extractor: Isolated,
    /// The extraction worker kept between records of one uploader for one patient.
    session: tokio::sync::Mutex<Session>,
    ocr: Option<Tesseract>,
    /// Whether the OCR programs run here, checked at the first scanned page (not at start: it
    /// is two process spawns, ~20 ms of every cold start, and most reports have a text layer).
    ocr_runs: tokio::sync::OnceCell<bool>,
    max_bytes: u64,
}

impl Processor {
    pub fn new(
        reports: LabReports,
        objects: LabObjects,
        extractor: Isolated,
        ocr: Option<Tesseract>,
        max_bytes: u64,
    ) -> Self {
        Self {
            reports,
            objects,
            extractor,
            session: Default::default(),
            ocr,
            ocr_runs: tokio::sync::OnceCell::new(),
            max_bytes,
        }
    }

    /// OCR, when configured and its programs run (checked once per process). Programs that
    /// cannot run at all (a layer of the wrong architecture, a missing library, a sandbox that
    /// breaks them) switch OCR off, loudly, rather than failing every scanned report.
    async fn working_ocr(&self) -> Option<&Tesseract> {
        let ocr = self.ocr.as_ref()?;
        let runs = *self
            .ocr_runs
            .get_or_init(|| async {
                match ocr.verify().await {
                    Ok(()) => true,
                    Err(e) => {
                        tracing::error!(error = %e, "OCR does not run here: switched off (scanned reports are not read)");
                        false
                    }
                }
            })
            .await;
        runs.then_some(ocr)
    }

    /// The words of every page: the text layer, and OCR for pages without one. `Err` only for
    /// our own failures (the record is retried).
    async fn read(&self, bytes: &[u8], owner: Option<Owner>) -> Result<Verdict> {
        let extracted = {
            let mut session = self.session.lock().await;
            self.extractor
                .extract_in(&mut session, owner, bytes.to_vec())
                .await
        };
        let mut pages = match extracted {
            Outcome::Text { pages } => pages,
            Outcome::Unreadable { reason } => return Ok(Verdict::Unreadable { reason }),
            Outcome::Failed { reason } => return Err(Error::Unavailable(reason.into())),
        };
        let scanned = Outcome::pages_without_text(&pages);
        if scanned.is_empty() {
            return Ok(Verdict::Read {
                pages,
                unread_pages: 0,
            });
        }
        let Some(ocr) = self.working_ocr().await else {
            if scanned.len() == pages.len() {
                return Ok(Verdict::Unreadable {
                    reason: NO_TEXT_LAYER.into(),
                });
            }
            return Ok(Verdict::Read {
                pages,
                unread_pages: scanned.len(),
            });
        };
        if scanned.len() > ocr.max_pages {
            return Ok(Verdict::Unreadable {
                reason: format!(
                    "{} scanned pages, more than the {} OCR reads per report: a person has to look",
                    scanned.len(),
                    ocr.max_pages
                ),
            });
        }
        let deadline = tokio::time::Instant::now() + ocr.report_budget;
        for number in scanned {
            match ocr.read_page(bytes, number, deadline).await {
                Ok(words) => pages[number as usize - 1] = words,
                Err(OcrError::Unreadable(reason)) => return Ok(Verdict::Unreadable { reason }),
                Err(OcrError::Failed(reason)) => return Err(Error::Unavailable(reason.into())),
            }
        }
        Ok(Verdict::Read {
            pages,
            unread_pages: 0,
        })
    }

    /// Processes one record. Errors are transient (S3 or DynamoDB unavailable): retry the
    /// record; everything about the file itself ends in a stored status instead.
    pub async fn process(&self, event: &ObjectEvent) -> Result<Processed> {
        if event.bucket != self.objects.bucket() {
            return Ok(Processed::Ignored(format!(
                "bucket {} is not the lab bucket",
                event.bucket
            )));
        }
        let Some((patient_id, report_id)) = parse_object_key(&event.key) else {
            return Ok(Processed::Ignored("the key names no lab report".into()));
        };
        let current = self
            .reports
            .store()
            .get_lab_report(patient_id, report_id)
            .await?;
        let sequencer = event.sequencer.as_deref().map(padded_sequencer);
        if let Some(done) = current.as_ref().filter(|r| r.status.is_final())
            && already_done(done.object.as_ref(), event, sequencer.as_deref())
        {
            return Ok(Processed::Duplicate);
        }
        let Some(head) = self
            .objects
            .head(&event.key, event.version_id.as_deref())
            .await?
        else {
            return Ok(Processed::Ignored("the object no longer exists".into()));
        };
        let object = ObjectRef {
            etag: head.etag.clone().or_else(|| event.etag.clone()),
            version_id: head.version_id.clone().or_else(|| event.version_id.clone()),
            sequencer,
        };
        let verdict = if head.size == 0 {
            Verdict::Unreadable {
                reason: "the file is empty".into(),
            }
        } else if head.size > self.max_bytes {
            Verdict::Unreadable {
                reason: format!(
                    "too large: {} bytes, the limit is {} bytes",
                    head.size, self.max_bytes
                ),
            }
        } else {
            match self
                .objects
                .get(&event.key, object.version_id.as_deref(), self.max_bytes)
                .await
            {
                Ok(None) => return Ok(Processed::Ignored("the object no longer exists".into())),
                Err(Error::PayloadTooLarge { .. }) => Verdict::Unreadable {
                    reason: format!("too large: the limit is {} bytes", self.max_bytes),
                },
                Err(e) => return Err(e),
                Ok(Some(bytes)) if !looks_like_pdf(&bytes) => Verdict::Unreadable {
                    reason: "not a PDF (no %PDF- header)".into(),
                },
                Ok(Some(bytes)) => {
                    // One worker may read on for the same uploader's reports of this patient.
                    let owner = current
                        .as_ref()
                        .and_then(|r| r.uploaded_by)
                        .map(|uploader| Owner {
                            patient: patient_id,
                            uploader,
                        });
                    self.read(&bytes, owner).await?
                }
            }
        };
        let read_revision = current.as_ref().map_or(0, |r| r.revision);
        let report = final_report(
            current,
            patient_id,
            report_id,
            object,
            head.size,
            verdict,
            Utc::now(),
        );
        match self.reports.finish(&report, read_revision).await? {
            Written::Stored => {
                tracing::info!(
                    patient_id = %patient_id,
                    report_id = %report_id,
                    status = report.status.as_str(),
                    values = report.results.len(),
                    "lab report processed"
                );
                Ok(Processed::Stored(Box::new(report)))
            }
            Written::Duplicate => Ok(Processed::Duplicate),
            // Reviewed while it was being read: the record is retried and read afresh.
            Written::Changed => Err(Error::Unavailable(
                "the report was reviewed while it was being read; retried".into(),
            )),
        }
    }
}

fn already_done(object: Option<&ObjectRef>, event: &ObjectEvent, sequencer: Option<&str>) -> bool {
    let Some(object) = object else {
        return false;
    };
    match (object.sequencer.as_deref(), sequencer) {
        (Some(done), Some(new)) => new <= done,
        _ => {
            let etag = event.etag.as_deref().map(|e| e.trim_matches('"'));
            object.etag.as_deref() == etag && object.version_id == event.version_id
        }
    }
}
