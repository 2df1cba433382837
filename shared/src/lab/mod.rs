//! Lab reports: PDFs a patient or doctor uploads to S3, read automatically into lab values.
//!
//! - [`parse`]: report text to [`LabResult`]s (pure; what a lab report means).
//! - [`presign`]: the SigV4 presigned POST that lets a browser upload one PDF straight to S3.
//! - [`store`] and [`service`]: reports under the patient in the records table, with access
//!   rules and audit (feature `lab`).
//! - [`objects`]: the PDFs in S3 (feature `s3`); [`extract`]: PDF text in a resource-limited
//!   child process (feature `pdf`, only lab-processor links pdf-extract).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Error, Result};

pub mod codes;
pub mod fhir;
pub mod layout;
pub mod parse;
pub mod presign;
pub mod review;
pub mod service;
pub mod store;

#[cfg(feature = "pdf")]
pub mod extract;
#[cfg(feature = "s3")]
pub mod objects;
#[cfg(feature = "pdf")]
pub mod ocr;
#[cfg(all(feature = "pdf", feature = "s3"))]
pub mod process;

/// Where uploads land; the processor's S3 event is filtered on this prefix and `.pdf`.
pub const KEY_PREFIX: &str = "lab-reports/";
/// The only content type an upload may have.
pub const PDF_CONTENT_TYPE: &str = "application/pdf";
/// Upload size limit unless `LAB_UPLOAD_MAX_BYTES` says otherwise.
pub const DEFAULT_MAX_BYTES: u64 = 10 * 1024 * 1024;
pub const FILENAME_MAX: usize = 255;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Upload URL issued; the PDF has not been processed (or not arrived) yet.
    Pending,
    /// Lab values were found.
    Processed,
    /// The PDF has text but no lab values were recognised: a person has to look.
    NeedsReview,
    /// Not readable as a text PDF: image-only, encrypted, corrupt, too large, not a PDF.
    Unreadable,
    /// A clinician confirmed (and perhaps corrected) the values and signed the report off.
    Reviewed,
}

impl Status {
    pub fn is_final(self) -> bool {
        self != Status::Pending
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Processed => "processed",
            Status::NeedsReview => "needs_review",
            Status::Unreadable => "unreadable",
            Status::Reviewed => "reviewed",
        }
    }
}

/// Whether a value is inside its reference range: HL7's observation interpretation codes
/// (`H`, `L`, `HH`, `LL`, `A`), with `normal` for `N` as the API has always said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Flag {
    #[serde(rename = "H")]
    High,
    #[serde(rename = "L")]
    Low,
    /// Critically high: printed as critical (or `HH`) and above the range.
    #[serde(rename = "HH")]
    CriticalHigh,
    /// Critically low.
    #[serde(rename = "LL")]
    CriticalLow,
    /// Abnormal without a direction (a qualitative result outside its expected value).
    #[serde(rename = "A")]
    Abnormal,
    #[serde(rename = "normal")]
    Normal,
}

impl Flag {
    /// The HL7 v3 ObservationInterpretation code.
    pub fn interpretation_code(self) -> &'static str {
        match self {
            Flag::High => "H",
            Flag::Low => "L",
            Flag::CriticalHigh => "HH",
            Flag::CriticalLow => "LL",
            Flag::Abnormal => "A",
            Flag::Normal => "N",
        }
    }

    /// Critical values go to the front of the review queue.
    pub fn is_critical(self) -> bool {
        matches!(self, Flag::CriticalHigh | Flag::CriticalLow)
    }

    pub fn is_abnormal(self) -> bool {
        self != Flag::Normal
    }
}

/// One lab value as read from a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabResult {
    pub name: String,
    /// The value as printed (keeps precision, `<5` and the like).
    pub value: String,
    pub unit: Option<String>,
    pub reference_range: Option<String>,
    /// As printed when the report gives one, else computed from the range; `None` when neither.
    pub flag: Option<Flag>,
    /// The panel (section heading) the row was printed under.
    #[serde(default)]
    pub panel: Option<String>,
    /// The test's LOINC code, from the reviewed alias table (`None`: not recognised).
    #[serde(default)]
    pub loinc: Option<String>,
    /// The unit as a UCUM code, when the printed unit is a known one.
    #[serde(default)]
    pub unit_ucum: Option<String>,
    /// The earlier result the report prints beside this one (never taken as the value).
    #[serde(default)]
    pub previous: Option<PreviousResult>,
    /// How sure OCR was of the value and its flag (0 to 1); `None` for a text layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f32>,
}

/// A previous result as a report prints it beside the current one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreviousResult {
    pub value: String,
    /// As printed (`10/02/2025`): the report's own date order, which the text does not say.
    pub date: Option<String>,
}

impl LabResult {
    /// About what the value takes in a stored item (attribute names and its strings).
    pub fn stored_bytes(&self) -> usize {
        let optional = |s: &Option<String>| s.as_ref().map_or(0, String::len);
        let previous = self.previous.as_ref().map_or(0, |p| {
            24 + p.value.len() + p.date.as_ref().map_or(0, String::len)
        });
        110 + self.name.len()
            + self.value.len()
            + optional(&self.unit)
            + optional(&self.reference_range)
            + optional(&self.panel)
            + optional(&self.loinc)
            + optional(&self.unit_ucum)
            + previous
            + 8
    }
}

/// A lab report as stored and shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabReport {
    pub report_id: Uuid,
    pub patient_id: Uuid,
    pub status: Status,
    /// Why the report ended as it did (always set once final).
    pub reason: Option<String>,
    #[serde(default)]
    pub results: Vec<LabResult>,
    #[serde(default)]
    pub collected_at: Option<NaiveDate>,
    pub filename: String,
    /// Declared by the uploader, then the object's real size once processed.
    pub size_bytes: u64,
    /// Who asked for the upload URL (unknown for an object that arrived without one).
    pub uploaded_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub processed_at: Option<DateTime<Utc>>,
    /// The S3 object this report was read from (set by the processor): idempotency keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<ObjectRef>,
    /// Counts the versions of the values: the extraction, then each review that changed them.
    /// A review names the revision it read (a stale one is refused).
    #[serde(default)]
    pub revision: u32,
    /// The revision the current values were extracted at (a newer upload is extracted anew).
    #[serde(default)]
    pub extraction_revision: u32,
    /// Who signed the report off, and when (status `reviewed`).
    #[serde(default)]
    pub reviewed_by: Option<Uuid>,
    #[serde(default)]
    pub reviewed_at: Option<DateTime<Utc>>,
}

impl LabReport {
    /// Whether any value is critical (it goes to the front of the review queue).
    pub fn has_critical_values(&self) -> bool {
        self.results
            .iter()
            .any(|r| r.flag.is_some_and(Flag::is_critical))
    }
}

/// Which version of the uploaded object a final report describes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRef {
    pub etag: Option<String>,
    pub version_id: Option<String>,
    /// S3's per-key event order (hex), left-padded so that later events compare greater.
    pub sequencer: Option<String>,
}

/// The upload-url request body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadRequest {
    pub filename: String,
    pub content_type: String,
    pub size_bytes: u64,
}

impl UploadRequest {
    /// Validates against the configured maximum; returns the cleaned file name.
    pub fn validated(&self, max_bytes: u64) -> Result<String> {
        let essence = self
            .content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim();
        if !essence.eq_ignore_ascii_case(PDF_CONTENT_TYPE) {
            return Err(Error::invalid("content_type", "must be application/pdf"));
        }
        if self.size_bytes == 0 {
            return Err(Error::invalid("size_bytes", "must be at least 1"));
        }
        if self.size_bytes > max_bytes {
            return Err(Error::PayloadTooLarge {
                limit: usize::try_from(max_bytes).unwrap_or(usize::MAX),
            });
        }
        let name = self.filename.trim();
        if name.is_empty() || name.chars().count() > FILENAME_MAX {
            return Err(Error::invalid(
                "filename",
                format!("must be 1 to {FILENAME_MAX} characters"),
            ));
        }
        if name
            .chars()
            .any(|c| c.is_control() || c == '/' || c == '\\')
        {
            return Err(Error::invalid(
                "filename",
                "must be a plain file name without path separators or control characters",
            ));
        }
        Ok(name.to_owned())
    }
}

/// The S3 key of a report: `lab-reports/{patient_id}/{report_id}.pdf`.
pub fn object_key(patient_id: Uuid, report_id: Uuid) -> String {
    format!("{KEY_PREFIX}{patient_id}/{report_id}.pdf")
}

/// The patient and report a key names, if it is one of ours. Takes the decoded key.
pub fn parse_object_key(key: &str) -> Option<(Uuid, Uuid)> {
    let rest = key.strip_prefix(KEY_PREFIX)?;
    let (patient, file) = rest.split_once('/')?;
    let report = file.strip_suffix(".pdf")?;
    // Hyphenated lower-case only: the form object_key writes.
    let patient: Uuid = patient.parse().ok()?;
    let report: Uuid = report.parse().ok()?;
    (object_key(patient, report) == key).then_some((patient, report))
}

/// Decodes an S3 event key: URL-encoded, with `+` for spaces.
pub fn decode_event_key(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                if let Some(b) = hex {
                    out.push(b);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Pads an S3 sequencer so that string order is event order (S3: compare as hex numbers).
pub fn padded_sequencer(raw: &str) -> String {
    format!("{:0>32}", raw.to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_foreign_keys_are_refused() {
        let (p, r) = (Uuid::new_v4(), Uuid::new_v4());
        assert_eq!(parse_object_key(&object_key(p, r)), Some((p, r)));
        assert_eq!(parse_object_key("lab-reports/x/y.pdf"), None);
        assert_eq!(parse_object_key(&format!("lab-reports/{p}/{r}.PDF")), None);
        assert_eq!(
            parse_object_key(&format!("lab-reports/{p}/sub/{r}.pdf")),
            None
        );
        assert_eq!(
            decode_event_key("lab-reports/a+b%2Bc%20d%zz.pdf"),
            "lab-reports/a b+c d%zz.pdf"
        );
        assert!(padded_sequencer("0A") < padded_sequencer("0055AED6DCD90281E5"));
    }

    #[test]
    fn upload_requests_are_checked() {
        let ok = UploadRequest {
            filename: " blood work.pdf ".into(),
            content_type: "application/pdf".into(),
            size_bytes: 10,
        };
        assert_eq!(ok.validated(100).unwrap(), "blood work.pdf");
        let field = |r: UploadRequest| r.validated(100).unwrap_err().problem().field;
        let bad_type = UploadRequest {
            content_type: "image/png".into(),
            ..ok.clone()
        };
        assert_eq!(field(bad_type).as_deref(), Some("content_type"));
        let too_big = UploadRequest {
            size_bytes: 101,
            ..ok.clone()
        };
        assert_eq!(too_big.validated(100).unwrap_err().status(), 413);
        let path = UploadRequest {
            filename: "../x.pdf".into(),
            ..ok.clone()
        };
        assert_eq!(field(path).as_deref(), Some("filename"));
    }
}
