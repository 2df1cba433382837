//! Lab reports in the records table, beside the patient's profile and history.
//!
//! Item: `pk = PATIENT#{patient_id}`, `sk = LAB#{report_id}`, the [`LabReport`] as attributes.
//! Report ids are UUIDv7, so `LAB#` keys sort in upload order and a list is one query.
//!
//! Review: a report that needs review is also in the sparse index `gsi1` under
//! `gsi1pk = LABREVIEW`, `gsi1sk = {0 critical | 1}#{created}#{patient}#{report}`, so the queue
//! is one query, critical reports first, then oldest first; signing off removes it. Each
//! version of the values is an item `sk = LABREV#{report_id}#{revision:06}` beside the report:
//! the extraction, then every review that changed them.
//!
//! Idempotency of processing: the processor writes a final report with a condition that holds
//! only if the item is new, still `pending`, or describes an older version of the object (S3's
//! per-key `sequencer`, padded, compares as text; without one, a different etag or version).
//! A redelivered event fails the condition and is a no-op.

use uuid::Uuid;

use super::review::LabRevision;
use super::{LabReport, ObjectRef, Status};
use crate::dynamo::{Item, from_item, s, sdk_error, to_item, transact};
use crate::pagination::Page;
use crate::patient::AuditEvent;
use crate::patient::store::{RecordsTable, patient_pk, sortable_time};
use crate::{Error, Result};

const LAB_PREFIX: &str = "LAB#";
const REVISION_PREFIX: &str = "LABREV#";
/// The review queue's partition in `gsi1`.
pub const REVIEW_QUEUE: &str = "LABREVIEW";

fn lab_sk(report_id: Uuid) -> String {
    format!("{LAB_PREFIX}{report_id}")
}

fn revision_sk(report_id: Uuid, revision: u32) -> String {
    format!("{REVISION_PREFIX}{report_id}#{revision:06}")
}

/// The queue index's key attributes of a report that needs review.
fn queue_keys(report: &LabReport) -> Option<[(&'static str, String); 2]> {
    (report.status == Status::NeedsReview).then(|| {
        let urgency = if report.has_critical_values() { 0 } else { 1 };
        [
            ("gsi1pk", REVIEW_QUEUE.to_owned()),
            (
                "gsi1sk",
                format!(
                    "{urgency}#{}#{}#{}",
                    sortable_time(&report.created_at),
                    report.patient_id,
                    report.report_id
                ),
            ),
        ]
    })
}

fn report_item(report: &LabReport) -> Result<Item> {
    let mut keys = vec![
        ("pk", patient_pk(report.patient_id)),
        ("sk", lab_sk(report.report_id)),
    ];
    keys.extend(queue_keys(report).into_iter().flatten());
    to_item(report, &keys)
}

/// What the final write of a report did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Stored,
    /// The item already describes this object (or a newer one): nothing was changed.
    Duplicate,
    /// A review (or another extraction) changed the report since it was read: nothing was
    /// written; read it again and recompute.
    Changed,
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

    /// Writes a final report unless the item already describes this object or a newer one, or
    /// is no longer at `read_revision` (the revision the report was computed from).
    pub async fn finish_lab_report(
        &self,
        report: &LabReport,
        read_revision: u32,
    ) -> Result<Written> {
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
            .expression_attribute_values(":pending", s(Status::Pending.as_str()))
            .expression_attribute_names("#revision", "revision")
            .expression_attribute_values(
                ":read",
                aws_sdk_dynamodb::types::AttributeValue::N(read_revision.to_string()),
            );
        // Never over a review that happened after the report was read (its revision numbers
        // would be used twice).
        const SAME_REVISION: &str =
            "(attribute_not_exists(pk) OR attribute_not_exists(#revision) OR #revision = :read)";
        let request = match object {
            ObjectRef {
                sequencer: Some(seq),
                ..
            } => request
                .condition_expression(format!(
                    "{SAME_REVISION} AND (attribute_not_exists(pk) OR #status = :pending OR attribute_not_exists(#object.#seq) OR #object.#seq < :seq)"
                ))
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
                request.condition_expression(format!("{SAME_REVISION} AND ({condition})"))
            }
        };
        match request.send().await {
            Ok(_) => Ok(Written::Stored),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                let now = self
                    .get_lab_report(report.patient_id, report.report_id)
                    .await?;
                Ok(match now {
                    Some(now) if now.revision != read_revision => Written::Changed,
                    _ => Written::Duplicate,
                })
            }
            Err(e) => Err(sdk_error(e)),
        }
    }

    /// The key of a queued report in the queue index (a cursor that resumes after it).
    pub(crate) fn review_queue_key(&self, report: &LabReport) -> Result<Option<Item>> {
        let Some(queue) = queue_keys(report) else {
            return Ok(None);
        };
        let mut key: Item = Item::new();
        key.insert("pk".into(), s(patient_pk(report.patient_id)));
        key.insert("sk".into(), s(lab_sk(report.report_id)));
        for (name, value) in queue {
            key.insert(name.into(), s(value));
        }
        Ok(Some(key))
    }

    /// A page of the review queue: critical reports first, then oldest first.
    pub async fn review_queue(
        &self,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<LabReport>> {
        self.index_page(REVIEW_QUEUE, true, limit, cursor).await
    }

    /// Stores a review: the report as it now is (if it is still at `read_revision` and not
    /// signed off), the new versions of its values, and the audit event, in one transaction;
    /// 412 when someone else changed it first.
    pub async fn record_review(
        &self,
        report: &LabReport,
        read_revision: u32,
        revisions: &[LabRevision],
        audit: &AuditEvent,
    ) -> Result<()> {
        use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
        let put = Put::builder()
            .table_name(self.table_name())
            .set_item(Some(report_item(report)?))
            .condition_expression(if read_revision == 0 {
                "attribute_exists(pk) AND #status <> :reviewed AND (attribute_not_exists(#revision) OR #revision = :read)"
            } else {
                "attribute_exists(pk) AND #status <> :reviewed AND #revision = :read"
            })
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#revision", "revision")
            .expression_attribute_values(":reviewed", s(Status::Reviewed.as_str()))
            .expression_attribute_values(":read", AttributeValue::N(read_revision.to_string()))
            .build()
            .map_err(Error::internal)?;
        let mut items = vec![TransactWriteItem::builder().put(put).build()];
        for revision in revisions {
            let item = to_item(
                revision,
                &[
                    ("pk", patient_pk(report.patient_id)),
                    ("sk", revision_sk(report.report_id, revision.revision)),
                ],
            )?;
            items.push(self.put(item, Some("attribute_not_exists(pk)"))?);
        }
        items.push(self.put(Self::audit_item(audit)?, None)?);
        transact(self.client(), items, |_| {
            Error::PreconditionFailed(
                "the report changed since you read it (another review, or a new upload); read it again"
                    .into(),
            )
        })
        .await
    }

    /// Every stored version of a report's values, oldest first.
    pub async fn lab_revisions(
        &self,
        patient_id: Uuid,
        report_id: Uuid,
    ) -> Result<Vec<LabRevision>> {
        let mut revisions = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client()
                .query()
                .table_name(self.table_name())
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":pk", s(patient_pk(patient_id)))
                .expression_attribute_values(":prefix", s(format!("{REVISION_PREFIX}{report_id}#")))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(sdk_error)?;
            for item in out.items.unwrap_or_default() {
                revisions.push(from_item(item)?);
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(revisions);
            }
        }
    }
}
