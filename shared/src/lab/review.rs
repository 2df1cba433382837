//! Clinician review of lab reports: the queue, corrections and sign-off, and the versions.
//!
//! Reports read by OCR, with a test the LOINC table does not know, or with no values found
//! wait as `needs_review` in a queue (critical values first, then oldest first). A doctor in
//! the care relationship corrects values (each review names the revision it read; a stale one
//! is refused with 412) and signs the report off (`reviewed`, with who and when). Every version
//! of the values is kept: the extraction as it was read, then each review with what it
//! changed, who and when; each review is on the patient's audit trail.

use std::collections::{BTreeSet, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::codes::{is_valid_loinc, loinc_for, ucum_for};
use super::layout::computed_flag;
use super::service::{LabReports, MAX_REPORT_VALUES_BYTES};
use super::{Flag, LabReport, LabResult, Status};
use crate::auth::{Caller, Role};
use crate::dynamo::encode_cursor;
use crate::pagination::Page;
use crate::patient::{AuditEvent, Outcome};
use crate::policy::{self, Action};
use crate::validate;
use crate::{Error, Result};

/// The most corrections one review may carry.
pub const MAX_CORRECTIONS: usize = 200;
/// The most bytes the changes of one review may take when stored (with the values, a version
/// stays far below DynamoDB's 400 KB item).
pub const MAX_CHANGES_BYTES: usize = 64 * 1024;

/// `POST /patients/{patientId}/lab-reports/{reportId}/review`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewRequest {
    /// The report's `revision` as the reviewer read it.
    pub revision: u32,
    #[serde(default)]
    pub corrections: Vec<Correction>,
    /// Confirms the values (after the corrections) and signs the report off.
    #[serde(default)]
    pub sign_off: bool,
}

/// New content for fields of one value (`index` into `results`); fields left out stay.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Correction {
    pub index: usize,
    pub name: Option<String>,
    pub value: Option<String>,
    /// An empty string removes the unit.
    pub unit: Option<String>,
    /// An empty string removes the range.
    pub reference_range: Option<String>,
    /// Left out while the value or range changes: computed from them again.
    pub flag: Option<Flag>,
    pub loinc: Option<String>,
}

/// One field of one value, before and after a review.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub index: usize,
    pub field: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevisionKind {
    /// The values as lab-processor read them.
    Extraction,
    /// A clinician's corrections and/or sign-off.
    Review,
}

/// One version of a report's values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabRevision {
    pub revision: u32,
    pub kind: RevisionKind,
    pub results: Vec<LabResult>,
    /// What this version changed from the one before (none for an extraction).
    pub changes: Vec<Change>,
    /// The reviewer (none for an extraction).
    pub by: Option<Uuid>,
    pub by_role: Option<Role>,
    pub at: DateTime<Utc>,
    pub signed_off: bool,
}

/// A report in the review queue: enough to pick it, no values.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueEntry {
    pub report_id: Uuid,
    pub patient_id: Uuid,
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub collected_at: Option<NaiveDate>,
    pub revision: u32,
    pub values: usize,
    pub critical_values: usize,
    pub read_by_ocr: bool,
}

impl From<&LabReport> for QueueEntry {
    fn from(r: &LabReport) -> Self {
        Self {
            report_id: r.report_id,
            patient_id: r.patient_id,
            reason: r.reason.clone(),
            created_at: r.created_at,
            collected_at: r.collected_at,
            revision: r.revision,
            values: r.results.len(),
            critical_values: r
                .results
                .iter()
                .filter(|v| v.flag.is_some_and(Flag::is_critical))
                .count(),
            read_by_ocr: r.results.iter().any(|v| v.confidence.is_some()),
        }
    }
}

/// A corrected field: one line of bounded text (`validate::name`); blank clears an optional
/// one.
fn text(field: String, raw: &str, max: usize, optional: bool) -> Result<Option<String>> {
    if optional && raw.trim().is_empty() {
        return Ok(None);
    }
    validate::name(&field, raw, max).map(Some)
}

fn flag_text(flag: Option<Flag>) -> Option<String> {
    flag.map(|f| match f {
        Flag::Normal => "normal".to_owned(),
        other => other.interpretation_code().to_owned(),
    })
}

/// Applies `corrections` to `results`; returns what changed. Field errors name
/// `corrections[i].field`.
pub fn apply_corrections(
    results: &mut [LabResult],
    corrections: &[Correction],
) -> Result<Vec<Change>> {
    if corrections.len() > MAX_CORRECTIONS {
        return Err(Error::invalid(
            "corrections",
            format!("at most {MAX_CORRECTIONS} per review"),
        ));
    }
    let count = results.len();
    let mut seen = BTreeSet::new();
    let mut changes = Vec::new();
    for (i, c) in corrections.iter().enumerate() {
        let at = |f: &str| format!("corrections[{i}].{f}");
        let Some(result) = results.get_mut(c.index) else {
            return Err(Error::invalid(
                at("index"),
                format!("names no value of this report (it has {count}, from 0)"),
            ));
        };
        if !seen.insert(c.index) {
            return Err(Error::invalid(at("index"), "corrects the same value twice"));
        }
        let before = result.clone();
        if let Some(name) = &c.name {
            result.name = text(at("name"), name, 80, false)?.unwrap_or_default();
        }
        if let Some(value) = &c.value {
            result.value = text(at("value"), value, 64, false)?.unwrap_or_default();
        }
        if let Some(unit) = &c.unit {
            result.unit = text(at("unit"), unit, 32, true)?;
            result.unit_ucum = result.unit.as_deref().and_then(ucum_for).map(str::to_owned);
        }
        if let Some(range) = &c.reference_range {
            result.reference_range = text(at("reference_range"), range, 64, true)?;
        }
        match &c.loinc {
            Some(code) => {
                let code = code.trim();
                if !is_valid_loinc(code) {
                    return Err(Error::invalid(
                        at("loinc"),
                        "must be a LOINC code with its check digit, like 2345-7",
                    ));
                }
                result.loinc = Some(code.to_owned());
            }
            // A new name, or a unit of another kind (glucose in mmol/L), may be another test.
            None if c.name.is_some() || c.unit.is_some() => {
                result.loinc = loinc_for(
                    &result.name,
                    result.panel.as_deref(),
                    result.unit_ucum.as_deref(),
                    false,
                )
                .map(|t| t.code.to_owned());
            }
            None => {}
        }
        match c.flag {
            Some(flag) => result.flag = Some(flag),
            None if c.value.is_some() || c.reference_range.is_some() => {
                result.flag = computed_flag(&result.value, result.reference_range.as_deref());
            }
            None => {}
        }
        // A clinician confirmed it: no longer OCR's guess.
        result.confidence = None;
        let fields: [(&str, Option<String>, Option<String>); 7] = [
            ("name", Some(before.name.clone()), Some(result.name.clone())),
            (
                "value",
                Some(before.value.clone()),
                Some(result.value.clone()),
            ),
            ("unit", before.unit.clone(), result.unit.clone()),
            (
                "reference_range",
                before.reference_range.clone(),
                result.reference_range.clone(),
            ),
            ("flag", flag_text(before.flag), flag_text(result.flag)),
            ("loinc", before.loinc.clone(), result.loinc.clone()),
            (
                "unit_ucum",
                before.unit_ucum.clone(),
                result.unit_ucum.clone(),
            ),
        ];
        for (field, was, now) in fields {
            if was != now {
                changes.push(Change {
                    index: c.index,
                    field: field.to_owned(),
                    before: was,
                    after: now,
                });
            }
        }
    }
    Ok(changes)
}

impl LabReports {
    /// Corrects and/or signs off a report; the report as it now is.
    pub async fn review(
        &self,
        caller: &Caller,
        patient_id: Uuid,
        report_id: Uuid,
        request: &ReviewRequest,
    ) -> Result<LabReport> {
        let access = self
            .care()
            .allow(caller, Action::ReviewLabReport, patient_id)
            .await?;
        let Some(report) = self.store().get_lab_report(patient_id, report_id).await? else {
            let event = AuditEvent::new(
                caller,
                patient_id,
                Action::ReviewLabReport,
                Outcome::NotFound,
            )
            .under(access);
            self.store().record(&[event]).await?;
            return Err(Error::NotFound("lab report"));
        };
        match report.status {
            Status::Reviewed => {
                return Err(Error::Conflict {
                    code: "already-reviewed",
                    message: "the report is signed off; its values no longer change".into(),
                });
            }
            Status::Pending | Status::Unreadable => {
                return Err(Error::Conflict {
                    code: "not-reviewable",
                    message: format!(
                        "the report is {}: it has no values to review",
                        report.status.as_str()
                    ),
                });
            }
            Status::Processed | Status::NeedsReview => {}
        }
        if request.revision != report.revision {
            return Err(Error::PreconditionFailed(format!(
                "the report is at revision {}, not {}: read it again",
                report.revision, request.revision
            )));
        }
        let mut updated = report.clone();
        let changes = apply_corrections(&mut updated.results, &request.corrections)?;
        let values_bytes: usize = updated.results.iter().map(LabResult::stored_bytes).sum();
        let changes_bytes: usize = changes
            .iter()
            .map(|c| {
                32 + c.field.len()
                    + c.before.as_ref().map_or(0, String::len)
                    + c.after.as_ref().map_or(0, String::len)
            })
            .sum();
        if values_bytes > MAX_REPORT_VALUES_BYTES || changes_bytes > MAX_CHANGES_BYTES {
            return Err(Error::invalid(
                "corrections",
                "make the report or this review too large to store; correct fewer values at once",
            ));
        }
        if changes.is_empty() && !request.sign_off {
            return Err(Error::invalid(
                "corrections",
                "change nothing: send corrections that differ, or sign_off",
            ));
        }
        let now = Utc::now();
        let mut revisions = Vec::new();
        if report.revision == report.extraction_revision {
            // The first review of this extraction: keep the values as they were read.
            revisions.push(LabRevision {
                revision: report.revision,
                kind: RevisionKind::Extraction,
                results: report.results.clone(),
                changes: Vec::new(),
                by: None,
                by_role: None,
                at: report.processed_at.unwrap_or(report.created_at),
                signed_off: false,
            });
        }
        updated.revision = report.revision + 1;
        if request.sign_off {
            updated.status = Status::Reviewed;
            updated.reviewed_by = Some(caller.user_id);
            updated.reviewed_at = Some(now);
            let corrected: BTreeSet<usize> = changes.iter().map(|c| c.index).collect();
            updated.reason = Some(format!(
                "signed off by a clinician; {} value{} corrected in review",
                corrected.len(),
                if corrected.len() == 1 { "" } else { "s" }
            ));
        }
        revisions.push(LabRevision {
            revision: updated.revision,
            kind: RevisionKind::Review,
            results: updated.results.clone(),
            changes,
            by: Some(caller.user_id),
            by_role: Some(caller.role),
            at: now,
            signed_off: request.sign_off,
        });
        let audit = AuditEvent::new(
            caller,
            patient_id,
            Action::ReviewLabReport,
            Outcome::Allowed,
        )
        .under(access);
        self.store()
            .record_review(&updated, report.revision, &revisions, &audit)
            .await?;
        tracing::info!(
            patient_id = %patient_id,
            report_id = %report_id,
            revision = updated.revision,
            signed_off = request.sign_off,
            "lab report reviewed"
        );
        Ok(updated)
    }

    /// Every version of a report's values, oldest first (read access, audited).
    pub async fn revisions(
        &self,
        caller: &Caller,
        patient_id: Uuid,
        report_id: Uuid,
    ) -> Result<Vec<LabRevision>> {
        self.get(caller, patient_id, report_id).await?;
        self.store().lab_revisions(patient_id, report_id).await
    }

    /// A page of the caller's review queue: critical reports first, then oldest first. A
    /// doctor sees the reports of patients in their care; each patient shown is audited.
    pub async fn review_queue(
        &self,
        caller: &Caller,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<QueueEntry>> {
        let scope = policy::lab_review_queue(caller)?;
        let in_care: Option<HashSet<Uuid>> = self
            .care()
            .patients_in_scope(scope)
            .await?
            .map(|patients| patients.into_iter().collect());
        let mut items: Vec<QueueEntry> = Vec::new();
        let mut cursor = cursor.map(str::to_owned);
        // A doctor's patients may be few among many: read on until the page is full.
        for _ in 0..20 {
            let page = self
                .store()
                .review_queue(limit.max(25), cursor.as_deref())
                .await?;
            let mut full_at = None;
            for report in &page.items {
                if in_care
                    .as_ref()
                    .is_some_and(|patients| !patients.contains(&report.patient_id))
                {
                    continue;
                }
                items.push(QueueEntry::from(report));
                if items.len() == limit {
                    full_at = Some(report);
                    break;
                }
            }
            cursor = match full_at {
                Some(last) => encode_cursor(self.store().review_queue_key(last)?.as_ref()),
                None => page.next_cursor,
            };
            if full_at.is_some() || cursor.is_none() {
                break;
            }
        }
        let patients: BTreeSet<Uuid> = items.iter().map(|e| e.patient_id).collect();
        let events: Vec<AuditEvent> = patients
            .into_iter()
            .map(|p| AuditEvent::new(caller, p, Action::ReadLabReports, Outcome::Allowed))
            .collect();
        self.store().record(&events).await?;
        Ok(Page {
            items,
            next_cursor: cursor,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(name: &str, value: &str, range: &str, flag: Flag) -> LabResult {
        LabResult {
            name: name.into(),
            value: value.into(),
            unit: Some("g/dL".into()),
            reference_range: Some(range.into()),
            flag: Some(flag),
            panel: None,
            loinc: loinc_for(name, None, Some("g/dL"), false).map(|t| t.code.to_owned()),
            unit_ucum: Some("g/dL".into()),
            previous: None,
            confidence: Some(0.9),
        }
    }

    #[test]
    fn a_corrected_value_gets_its_flag_again_and_the_change_is_recorded() {
        let mut results = vec![result("Albumin", "45", "3.8-4.9", Flag::High)];
        let changes = apply_corrections(
            &mut results,
            &[Correction {
                index: 0,
                value: Some(" 4.5 ".into()),
                ..Correction::default()
            }],
        )
        .unwrap();
        assert_eq!(results[0].value, "4.5");
        assert_eq!(results[0].flag, Some(Flag::Normal));
        assert_eq!(results[0].confidence, None);
        let fields: Vec<_> = changes
            .iter()
            .map(|c| (c.field.as_str(), c.before.as_deref(), c.after.as_deref()))
            .collect();
        assert_eq!(
            fields,
            [
                ("value", Some("45"), Some("4.5")),
                ("flag", Some("H"), Some("normal"))
            ]
        );
        // A new name finds its code; a code is checked.
        let changes = apply_corrections(
            &mut results,
            &[Correction {
                index: 0,
                name: Some("Hemoglobin".into()),
                ..Correction::default()
            }],
        )
        .unwrap();
        assert_eq!(results[0].loinc.as_deref(), Some("718-7"));
        assert_eq!(changes.len(), 2);
    }

    #[test]
    fn bad_corrections_name_their_field() {
        let mut results = vec![result("Albumin", "4.5", "3.8-4.9", Flag::Normal)];
        let field = |c: Correction| {
            apply_corrections(&mut results.clone(), &[c])
                .unwrap_err()
                .problem()
                .field
        };
        assert_eq!(
            field(Correction {
                index: 3,
                ..Correction::default()
            })
            .as_deref(),
            Some("corrections[0].index")
        );
        assert_eq!(
            field(Correction {
                index: 0,
                value: Some("  ".into()),
                ..Correction::default()
            })
            .as_deref(),
            Some("corrections[0].value")
        );
        assert_eq!(
            field(Correction {
                index: 0,
                loinc: Some("2345-8".into()),
                ..Correction::default()
            })
            .as_deref(),
            Some("corrections[0].loinc")
        );
        let twice = apply_corrections(
            &mut results,
            &[
                Correction {
                    index: 0,
                    value: Some("4.6".into()),
                    ..Correction::default()
                },
                Correction {
                    index: 0,
                    value: Some("4.7".into()),
                    ..Correction::default()
                },
            ],
        );
        assert_eq!(
            twice.unwrap_err().problem().field.as_deref(),
            Some("corrections[1].index")
        );
    }
}
