//! Lab reports in the records table, beside the patient's profile and history.
//!
//! Item: `pk = PATIENT#{patient_id}`, `sk = LAB#{report_id}`, the [`LabReport`] as attributes.
//! Report ids are UUIDv7, so `LAB#` keys sort in upload order and a list is one query.
//!
//! Idempotency of processing: the processor writes a final report with a condition that holds
//! only if the item is new, still `pending`, or describes an older version of the object (S3's
//! per-key `sequencer`, padded, compares as text; without one, a different etag or version).
//! A redelivered event fails the condition and is a no-op.

use uuid::Uuid;

use super::{LabReport, ObjectRef, Status};
use crate::dynamo::{Item, s, sdk_error, to_item, transact};
use crate::pagination::Page;
use crate::patient::AuditEvent;
use crate::patient::store::{RecordsTable, patient_pk};
use crate::{Error, Result};

const LAB_PREFIX: &str = "LAB#";

fn lab_sk(report_id: Uuid) -> String {
    format!("{LAB_PREFIX}{report_id}")
}

fn report_item(report: &LabReport) -> Result<Item> {
    to_item(
        report,
        &[
            ("pk", patient_pk(report.patient_id)),
            ("sk", lab_sk(report.report_id)),
        ],
    )
}

/// What the final write of a report did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Stored,
    /// The item already describes this object (or a newer one): nothing was changed.
    Duplicate,
}

impl RecordsTable {
    /// Records a pending upload for an existing profile (404 otherwise), with its audit item.
    pub async fn create_lab_report(&self, report: &LabReport, audit: &AuditEvent) -> Result<()> {
        let items = vec![
            self.profile_exists(report.patient_id)?,
            self.put(report_item(report)?, Some("attribute_not_exists(pk)"))?,
            self.put(Self::audit_item(audit)?, None)?,
        ];
        transact(self.client(), items, |failed| match failed {
            0 => Error::NotFound("patient"),
            _ => Error::Conflict {
                code: "report-exists",
                message: "a report with this id exists".into(),
            },
        })
        .await
    }

    /// A report (strongly consistent).
    pub async fn get_lab_report(
        &self,
        patient_id: Uuid,
        report_id: Uuid,
    ) -> Result<Option<LabReport>> {
        self.get(patient_pk(patient_id), lab_sk(report_id)).await
    }

    /// A patient's reports, newest first.
    pub async fn list_lab_reports(
        &self,
        patient_id: Uuid,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<LabReport>> {
        self.newest_first(patient_pk(patient_id), LAB_PREFIX, limit, cursor)
            .await
    }

    /// Writes a final report unless the item already describes this object or a newer one.
    pub async fn finish_lab_report(&self, report: &LabReport) -> Result<Written> {
        let object = report
            .object
            .as_ref()
            .ok_or_else(|| Error::internal("a final report names its object"))?;
        let request = self
            .client()
            .put_item()
            .table_name(self.table_name())
            .set_item(Some(report_item(report)?))
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#object", "object")
            .expression_attribute_values(":pending", s(Status::Pending.as_str()));
        let request = match object {
            ObjectRef {
                sequencer: Some(seq),
                ..
            } => request
                .condition_expression(
                    "attribute_not_exists(pk) OR #status = :pending OR attribute_not_exists(#object.#seq) OR #object.#seq < :seq",
                )
                .expression_attribute_names("#seq", "sequencer")
                .expression_attribute_values(":seq", s(seq.clone())),
            ObjectRef {
                etag, version_id, ..
            } => {
                // A different etag or version is a new object; with neither known, only a
                // pending or missing item may be written.
                let mut condition = "attribute_not_exists(pk) OR #status = :pending".to_owned();
                let mut request = request;
                if let Some(etag) = etag {
                    condition.push_str(" OR #object.#etag <> :etag");
                    request = request
                        .expression_attribute_names("#etag", "etag")
                        .expression_attribute_values(":etag", s(etag.clone()));
                }
                if let Some(version) = version_id {
                    condition.push_str(" OR #object.#version <> :version");
                    request = request
                        .expression_attribute_names("#version", "version_id")
                        .expression_attribute_values(":version", s(version.clone()));
                }
                request.condition_expression(condition)
            }
        };
        match request.send().await {
            Ok(_) => Ok(Written::Stored),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(Written::Duplicate)
            }
            Err(e) => Err(sdk_error(e)),
        }
    }
}
