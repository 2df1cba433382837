//! The lab-report service: access rules, audit, uploads and the final state of a report.
//!
//! Access is the patient themself, doctors in a care relationship (or under an emergency grant)
//! and admins ([`Action::UploadLabReport`], [`Action::ReadLabReports`]); it is checked before any
//! lookup and denials are audited, as for the rest of the patient record.

use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::codes::code_results;
use super::layout::{PageWords, parse_pages};
use super::presign::{PostPolicy, PresignedPost, SigningCredentials, presign_post};
use super::store::Written;
use super::{
    DEFAULT_MAX_BYTES, LabReport, LabResult, ObjectRef, PDF_CONTENT_TYPE, Status, UploadRequest,
};
use crate::auth::Caller;
use crate::config::{ConfigError, Vars};
use crate::pagination::Page;
use crate::patient::care::Care;
use crate::patient::store::RecordsTable;
use crate::patient::{AuditEvent, Outcome};
use crate::policy::{Access, Action};
use crate::{Error, Result};

/// Where and how uploads go.
#[derive(Clone)]
pub struct UploadSettings {
    pub bucket: String,
    pub region: String,
    pub max_bytes: u64,
    pub expires_in: Duration,
    /// An emulator's URL (`AWS_ENDPOINT_URL`): path-style form URLs against it.
    pub endpoint: Option<String>,
    credentials: aws_config::SdkConfig,
}

impl std::fmt::Debug for UploadSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadSettings")
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("max_bytes", &self.max_bytes)
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

impl UploadSettings {
    /// `LAB_BUCKET`, `LAB_UPLOAD_MAX_BYTES` (10 MiB), `LAB_UPLOAD_EXPIRES_SECONDS` (300, at most
    /// 3600), the region and credentials of the SDK's default chain, `AWS_ENDPOINT_URL`.
    pub async fn from_vars(vars: &Vars) -> Result<Self, ConfigError> {
        Self::new(
            &vars.aws().await,
            vars.required("LAB_BUCKET")?,
            vars.parsed_or("LAB_UPLOAD_MAX_BYTES", DEFAULT_MAX_BYTES)?,
            Duration::from_secs(
                vars.parsed_or("LAB_UPLOAD_EXPIRES_SECONDS", 300u64)?
                    .min(3600),
            ),
        )
    }

    pub fn new(
        sdk: &aws_config::SdkConfig,
        bucket: String,
        max_bytes: u64,
        expires_in: Duration,
    ) -> Result<Self, ConfigError> {
        let region = sdk
            .region()
            .map(|r| r.to_string())
            .ok_or(ConfigError::Missing("AWS_REGION"))?;
        Ok(Self {
            bucket,
            region,
            max_bytes,
            expires_in,
            endpoint: sdk.endpoint_url().map(str::to_owned),
            credentials: sdk.clone(),
        })
    }

    async fn signing_credentials(&self) -> Result<SigningCredentials> {
        use aws_sdk_dynamodb::config::ProvideCredentials as _;
        let provider = self
            .credentials
            .credentials_provider()
            .ok_or_else(|| Error::internal("no AWS credentials provider"))?;
        let creds = provider
            .provide_credentials()
            .await
            .map_err(|e| Error::Unavailable(Box::new(e)))?;
        Ok(SigningCredentials {
            access_key_id: creds.access_key_id().to_owned(),
            secret_access_key: creds.secret_access_key().to_owned(),
            session_token: creds.session_token().map(str::to_owned),
        })
    }
}

/// The upload-url answer.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UploadGrant {
    pub report_id: Uuid,
    pub method: &'static str,
    pub url: String,
    pub fields: std::collections::BTreeMap<String, String>,
    pub expires_at: DateTime<Utc>,
    pub max_bytes: u64,
    pub report: LabReport,
}

#[derive(Clone, Debug)]
pub struct LabReports {
    care: Care,
}

/// The records table named by `CAREFLOW_TABLE` and the care rules.
impl crate::config::FromVars for LabReports {
    async fn build(vars: &Vars) -> Result<Self, ConfigError> {
        Ok(Self::new(Care::build(vars).await?))
    }
}

impl LabReports {
    pub fn new(care: Care) -> Self {
        Self { care }
    }

    pub fn store(&self) -> &RecordsTable {
        self.care.store()
    }

    pub(crate) fn care(&self) -> &Care {
        &self.care
    }

    async fn allow(&self, caller: &Caller, action: Action, patient: Uuid) -> Result<Access> {
        self.care.allow(caller, action, patient).await
    }

    /// Records a pending report and signs a POST that uploads exactly its PDF.
    pub async fn request_upload(
        &self,
        caller: &Caller,
        patient_id: Uuid,
        request: &UploadRequest,
        settings: &UploadSettings,
    ) -> Result<UploadGrant> {
        let access = self
            .allow(caller, Action::UploadLabReport, patient_id)
            .await?;
        let filename = request.validated(settings.max_bytes)?;
        let now = Utc::now();
        let report = LabReport {
            report_id: Uuid::now_v7(),
            patient_id,
            status: Status::Pending,
            reason: Some("waiting for the upload".into()),
            results: Vec::new(),
            collected_at: None,
            filename,
            size_bytes: request.size_bytes,
            uploaded_by: Some(caller.user_id),
            created_at: now,
            processed_at: None,
            object: None,
            revision: 0,
            extraction_revision: 0,
            reviewed_by: None,
            reviewed_at: None,
        };
        let credentials = settings.signing_credentials().await?;
        let key = super::object_key(patient_id, report.report_id);
        let expires_in =
            chrono::Duration::from_std(settings.expires_in).map_err(Error::internal)?;
        let PresignedPost {
            url,
            fields,
            expires_at,
        } = presign_post(
            &PostPolicy {
                bucket: &settings.bucket,
                key: &key,
                content_type: PDF_CONTENT_TYPE,
                max_bytes: settings.max_bytes,
                region: &settings.region,
                now,
                expires_in,
            },
            &credentials,
            settings.endpoint.as_deref(),
        );
        let audit = AuditEvent::new(
            caller,
            patient_id,
            Action::UploadLabReport,
            Outcome::Allowed,
        )
        .under(access);
        self.store().create_lab_report(&report, &audit).await?;
        tracing::info!(patient_id = %patient_id, report_id = %report.report_id, actor = %caller.user_id, "lab upload granted");
        Ok(UploadGrant {
            report_id: report.report_id,
            method: "POST",
            url,
            fields,
            expires_at,
            max_bytes: settings.max_bytes,
            report,
        })
    }

    pub async fn list(
        &self,
        caller: &Caller,
        patient_id: Uuid,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<LabReport>> {
        let access = self
            .allow(caller, Action::ReadLabReports, patient_id)
            .await?;
        let page = self
            .store()
            .list_lab_reports(patient_id, limit, cursor)
            .await?;
        let audit = AuditEvent::new(caller, patient_id, Action::ReadLabReports, Outcome::Allowed)
            .under(access);
        self.store().record(&[audit]).await?;
        Ok(page)
    }

    pub async fn get(
        &self,
        caller: &Caller,
        patient_id: Uuid,
        report_id: Uuid,
    ) -> Result<LabReport> {
        let access = self
            .allow(caller, Action::ReadLabReports, patient_id)
            .await?;
        let Some(report) = self.store().get_lab_report(patient_id, report_id).await? else {
            let event = AuditEvent::new(
                caller,
                patient_id,
                Action::ReadLabReports,
                Outcome::NotFound,
            )
            .under(access);
            self.store().record(&[event]).await?;
            return Err(Error::NotFound("lab report"));
        };
        let audit = AuditEvent::new(caller, patient_id, Action::ReadLabReports, Outcome::Allowed)
            .under(access);
        self.store().record(&[audit]).await?;
        Ok(report)
    }

    /// Stores the final state of a report computed from the one at `read_revision`; a
    /// duplicate (same or older object) changes nothing.
    pub async fn finish(&self, report: &LabReport, read_revision: u32) -> Result<Written> {
        self.store().finish_lab_report(report, read_revision).await
    }
}

/// How processing one object ended, before it is stored.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// The words of the pages, from their text layer or OCR.
    Read {
        pages: Vec<PageWords>,
        /// Pages without a text layer that were not read (OCR is off).
        unread_pages: usize,
    },
    Unreadable {
        reason: String,
    },
}

impl Verdict {
    /// Plain text as if extracted (pages split at form feeds).
    pub fn from_text(text: &str) -> Self {
        Verdict::Read {
            pages: PageWords::from_text(text),
            unread_pages: 0,
        }
    }
}

/// The final report for an object: the pending one (or a new one, for an object that arrived
/// without a pending record) with status, reason, values and the object it was read from.
/// The most extracted text a report is parsed from. A lab report is a few KiB; a PDF with
/// megabytes of text is something else, and a person should look at it.
pub const MAX_REPORT_TEXT_BYTES: usize = 1024 * 1024;
/// The most values one report keeps: all of them or none, never a silent cut of a medical
/// record. With [`MAX_REPORT_VALUES_BYTES`] it keeps the stored item far below DynamoDB's
/// 400 KB item limit, so a final report can always be written.
pub const MAX_REPORT_VALUES: usize = 1000;
/// The most bytes the values of one report may take when stored.
pub const MAX_REPORT_VALUES_BYTES: usize = 256 * 1024;

pub fn final_report(
    pending: Option<LabReport>,
    patient_id: Uuid,
    report_id: Uuid,
    object: ObjectRef,
    size_bytes: u64,
    verdict: Verdict,
    now: DateTime<Utc>,
) -> LabReport {
    let base = pending.unwrap_or_else(|| LabReport {
        report_id,
        patient_id,
        status: Status::Pending,
        reason: None,
        results: Vec::new(),
        collected_at: None,
        filename: format!("{report_id}.pdf"),
        size_bytes,
        uploaded_by: None,
        created_at: now,
        processed_at: None,
        object: None,
        revision: 0,
        extraction_revision: 0,
        reviewed_by: None,
        reviewed_at: None,
    });
    // A newer upload over a report that was already read (and perhaps reviewed) is a new
    // extraction: a revision of its own, and no sign-off until it is reviewed again.
    let revision = if base.status.is_final() {
        base.revision + 1
    } else {
        base.revision
    };
    let (status, reason, results, collected_at) = match verdict {
        Verdict::Unreadable { reason } => (Status::Unreadable, reason, Vec::new(), None),
        Verdict::Read { pages, .. } if PageWords::text_bytes(&pages) > MAX_REPORT_TEXT_BYTES => (
            Status::NeedsReview,
            format!(
                "the PDF holds {} KiB of text, more than the {} KiB a lab report is read from \
                 automatically: a person has to look",
                PageWords::text_bytes(&pages) / 1024,
                MAX_REPORT_TEXT_BYTES / 1024
            ),
            Vec::new(),
            None,
        ),
        Verdict::Read {
            pages,
            unread_pages,
        } => {
            let scanned = pages.iter().filter(|p| p.ocr).count();
            let mut parsed = parse_pages(&pages);
            let values_bytes: usize = parsed.results.iter().map(LabResult::stored_bytes).sum();
            if parsed.results.len() > MAX_REPORT_VALUES || values_bytes > MAX_REPORT_VALUES_BYTES {
                (
                    Status::NeedsReview,
                    format!(
                        "{} lab values ({} KiB) recognised, more than one report may hold \
                         ({MAX_REPORT_VALUES} values, {} KiB): a person has to look",
                        parsed.results.len(),
                        values_bytes / 1024,
                        MAX_REPORT_VALUES_BYTES / 1024
                    ),
                    Vec::new(),
                    parsed.collected_at,
                )
            } else if parsed.results.is_empty() {
                let how = if scanned > 0 {
                    "OCR read the scan"
                } else {
                    "the PDF has text"
                };
                (
                    Status::NeedsReview,
                    format!("{how} but no lab values were recognised"),
                    Vec::new(),
                    parsed.collected_at,
                )
            } else {
                let n = parsed.results.len();
                let uncoded = code_results(&mut parsed.results);
                let values = format!("{n} lab value{} recognised", if n == 1 { "" } else { "s" });
                let mut review = Vec::new();
                if scanned > 0 {
                    review.push(format!(
                        "read by OCR from {scanned} scanned page{}",
                        if scanned == 1 { "" } else { "s" }
                    ));
                }
                if uncoded > 0 {
                    review.push(format!(
                        "{uncoded} test name{} not in the LOINC table",
                        if uncoded == 1 { "" } else { "s" }
                    ));
                }
                let critical = parsed
                    .results
                    .iter()
                    .filter(|r| r.flag.is_some_and(super::Flag::is_critical))
                    .count();
                if critical > 0 {
                    // A critical value reaches a clinician through the queue, first.
                    review.push(format!(
                        "{critical} critical value{}",
                        if critical == 1 { "" } else { "s" }
                    ));
                }
                if unread_pages > 0 {
                    review.push(format!(
                        "{unread_pages} page{} without a text layer not read (OCR is off)",
                        if unread_pages == 1 { "" } else { "s" }
                    ));
                }
                if review.is_empty() {
                    (
                        Status::Processed,
                        values,
                        parsed.results,
                        parsed.collected_at,
                    )
                } else {
                    (
                        Status::NeedsReview,
                        format!(
                            "{values}; {}: a clinician must confirm them",
                            review.join("; ")
                        ),
                        parsed.results,
                        parsed.collected_at,
                    )
                }
            }
        }
    };
    LabReport {
        status,
        reason: Some(reason),
        results,
        collected_at,
        size_bytes,
        processed_at: Some(now),
        object: Some(object),
        revision,
        extraction_revision: revision,
        reviewed_by: None,
        reviewed_at: None,
        ..base
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_map_to_statuses() {
        let (p, r) = (Uuid::new_v4(), Uuid::new_v4());
        let object = ObjectRef {
            etag: Some("e".into()),
            version_id: None,
            sequencer: None,
        };
        let now = Utc::now();
        let text = "Collected: 2026-11-20\nSodium 139 mmol/L 135 - 145\n".to_owned();
        let done = final_report(
            None,
            p,
            r,
            object.clone(),
            10,
            Verdict::from_text(&text),
            now,
        );
        assert_eq!(done.status, Status::Processed);
        assert_eq!(done.results.len(), 1);
        assert_eq!(done.collected_at.unwrap().to_string(), "2026-11-20");
        assert_eq!(done.uploaded_by, None);
        let review = final_report(
            Some(done.clone()),
            p,
            r,
            object.clone(),
            10,
            Verdict::from_text("Dear patient, all is well."),
            now,
        );
        assert_eq!(review.status, Status::NeedsReview);
        assert!(review.results.is_empty());
        let bad = final_report(
            Some(done),
            p,
            r,
            object,
            10,
            Verdict::Unreadable {
                reason: "encrypted PDF".into(),
            },
            now,
        );
        assert_eq!(
            (bad.status, bad.reason.as_deref()),
            (Status::Unreadable, Some("encrypted PDF"))
        );
    }

    #[test]
    fn reports_past_the_caps_need_review_and_keep_no_values() {
        let (p, r) = (Uuid::new_v4(), Uuid::new_v4());
        let object = ObjectRef {
            etag: None,
            version_id: None,
            sequencer: None,
        };
        let row = |i: usize| format!("Analyte {} {}.{} mmol/L 3.9 - 5.6\n", letters(i), 4, i % 10);
        let at_cap: String = (0..MAX_REPORT_VALUES).map(row).collect();
        let kept = final_report(
            None,
            p,
            r,
            object.clone(),
            1,
            Verdict::from_text(&at_cap),
            Utc::now(),
        );
        // Kept, and to be confirmed: the made-up test names are not in the LOINC table.
        assert_eq!(
            (kept.status, kept.results.len()),
            (Status::NeedsReview, MAX_REPORT_VALUES)
        );
        assert!(
            kept.reason
                .unwrap()
                .ends_with("1000 test names not in the LOINC table: a clinician must confirm them"),
        );
        let over: String = (0..=MAX_REPORT_VALUES).map(row).collect();
        let many = final_report(
            None,
            p,
            r,
            object.clone(),
            1,
            Verdict::from_text(&over),
            Utc::now(),
        );
        assert_eq!(many.status, Status::NeedsReview);
        assert!(many.results.is_empty());
        assert!(many.reason.unwrap().starts_with("1001 lab values"));
        let long = "x".repeat(MAX_REPORT_TEXT_BYTES + 1);
        let text = final_report(None, p, r, object, 1, Verdict::from_text(&long), Utc::now());
        assert_eq!(text.status, Status::NeedsReview);
        assert!(
            text.reason
                .unwrap()
                .starts_with("the PDF holds 1024 KiB of text")
        );
    }

    fn letters(mut i: usize) -> String {
        let mut out = String::new();
        for _ in 0..3 {
            out.push((b'a' + (i % 26) as u8) as char);
            i /= 26;
        }
        out
    }
}
