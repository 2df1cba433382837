//! A lab report as HL7 FHIR R4: a DiagnosticReport with its results as contained Observations
//! (code, value as a UCUM quantity or a string, reference range, interpretation).
//!
//! The stored report already holds every element (LOINC code, UCUM unit, HL7 interpretation
//! code, range, panel); this is only its FHIR spelling, served by `GET …/lab-reports/{id}` to
//! `Accept: application/fhir+json`.

use serde_json::{Value, json};

use super::parse::{numeric_value, range_bounds};
use super::{LabReport, LabResult, Status};

pub const LOINC: &str = "http://loinc.org";
pub const UCUM: &str = "http://unitsofmeasure.org";
const INTERPRETATION: &str = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation";
/// Our identifier system for lab reports.
pub const REPORT_IDENTIFIER_SYSTEM: &str = "urn:careflow:lab-report";
/// The media type of FHIR's JSON.
pub const FHIR_JSON: &str = "application/fhir+json";

fn status(report: &LabReport) -> &'static str {
    match report.status {
        Status::Pending => "registered",
        Status::NeedsReview => "preliminary",
        // Read automatically, or confirmed (perhaps corrected) and signed off by a clinician:
        // either way the first final version (FHIR's `amended` is for changes after final).
        Status::Processed | Status::Reviewed => "final",
        Status::Unreadable => "cancelled",
    }
}

/// The report as a DiagnosticReport resource.
pub fn diagnostic_report(report: &LabReport) -> Value {
    let observation_status = match status(report) {
        "registered" | "cancelled" => "registered",
        other => other,
    };
    let subject = json!({"reference": format!("Patient/{}", report.patient_id)});
    let observations: Vec<Value> = report
        .results
        .iter()
        .enumerate()
        .map(|(i, r)| observation(i, r, observation_status, &subject, report))
        .collect();
    let mut resource = json!({
        "resourceType": "DiagnosticReport",
        "id": report.report_id.to_string(),
        "meta": {"versionId": report.revision.to_string()},
        "identifier": [{"system": REPORT_IDENTIFIER_SYSTEM, "value": report.report_id.to_string()}],
        "status": status(report),
        "category": [{"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/v2-0074",
            "code": "LAB",
            "display": "Laboratory"
        }]}],
        "code": {"coding": [{"system": LOINC, "code": "11502-2", "display": "Laboratory report"}]},
        "subject": subject,
    });
    let obj = resource.as_object_mut().expect("an object");
    if let Some(date) = report.collected_at {
        obj.insert("effectiveDateTime".into(), json!(date.to_string()));
    }
    if let Some(at) = report.reviewed_at.or(report.processed_at) {
        obj.insert("issued".into(), json!(at.to_rfc3339()));
    }
    if let Some(doctor) = report.reviewed_by {
        obj.insert(
            "resultsInterpreter".into(),
            json!([{"reference": format!("Practitioner/{doctor}")}]),
        );
    }
    if !observations.is_empty() {
        let refs: Vec<Value> = (0..observations.len())
            .map(|i| json!({"reference": format!("#obs{i}")}))
            .collect();
        obj.insert("result".into(), Value::Array(refs));
        obj.insert("contained".into(), Value::Array(observations));
    }
    if let Some(reason) = &report.reason {
        obj.insert("conclusion".into(), json!(reason));
    }
    resource
}

fn quantity(value: f64, r: &LabResult) -> Value {
    let mut q = json!({"value": value});
    let obj = q.as_object_mut().expect("an object");
    if let Some(unit) = &r.unit {
        obj.insert("unit".into(), json!(unit));
    }
    if let Some(code) = &r.unit_ucum {
        obj.insert("system".into(), json!(UCUM));
        obj.insert("code".into(), json!(code));
    }
    q
}

fn observation(
    i: usize,
    r: &LabResult,
    status: &str,
    subject: &Value,
    report: &LabReport,
) -> Value {
    let mut code = json!({"text": r.name});
    if let Some(loinc) = &r.loinc {
        code["coding"] = json!([{"system": LOINC, "code": loinc}]);
    }
    let mut o = json!({
        "resourceType": "Observation",
        "id": format!("obs{i}"),
        "status": status,
        "category": [{"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "laboratory"
        }]}],
        "code": code,
        "subject": subject,
    });
    let obj = o.as_object_mut().expect("an object");
    if let Some(date) = report.collected_at {
        obj.insert("effectiveDateTime".into(), json!(date.to_string()));
    }
    let comparator = r
        .value
        .chars()
        .take_while(|c| "<>≤≥=".contains(*c))
        .collect::<String>()
        .replace('≤', "<=")
        .replace('≥', ">=");
    let number = numeric_value(&r.value).filter(|v| v.is_finite());
    match number {
        Some(v) => {
            let mut q = quantity(v, r);
            if ["<", "<=", ">", ">="].contains(&comparator.as_str()) {
                q["comparator"] = json!(comparator);
            }
            obj.insert("valueQuantity".into(), q);
        }
        None => {
            obj.insert("valueString".into(), json!(r.value));
        }
    }
    if let Some(flag) = r.flag {
        obj.insert(
            "interpretation".into(),
            json!([{"coding": [{"system": INTERPRETATION, "code": flag.interpretation_code()}]}]),
        );
    }
    if let Some(range) = &r.reference_range {
        let mut rr = json!({"text": range});
        // Only inclusive bounds are FHIR's low and high; `<130` and `>59` stay text.
        if let Some(b) = range_bounds(range) {
            if let Some(low) = b.low.filter(|_| !b.low_exclusive) {
                rr["low"] = quantity(low, r);
            }
            if let Some(high) = b.high.filter(|_| !b.high_exclusive) {
                rr["high"] = quantity(high, r);
            }
        }
        obj.insert("referenceRange".into(), json!([rr]));
    }
    if let Some(panel) = &r.panel {
        obj.insert("note".into(), json!([{"text": format!("Panel: {panel}")}]));
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::{Flag, ObjectRef};
    use chrono::Utc;
    use uuid::Uuid;

    #[test]
    fn results_become_coded_observations() {
        let result = |value: &str, range: &str, flag| LabResult {
            name: "Glucose".into(),
            value: value.into(),
            unit: Some("mg/dL".into()),
            reference_range: Some(range.into()),
            flag: Some(flag),
            panel: Some("Comp. Metabolic Panel (14)".into()),
            loinc: Some("2345-7".into()),
            unit_ucum: Some("mg/dL".into()),
            previous: None,
            confidence: None,
        };
        let report = LabReport {
            report_id: Uuid::nil(),
            patient_id: Uuid::from_u128(7),
            status: Status::NeedsReview,
            reason: Some("read by OCR".into()),
            results: vec![
                result("105", "70-99", Flag::High),
                result("<5", "<10", Flag::Normal),
            ],
            collected_at: chrono::NaiveDate::from_ymd_opt(2026, 11, 20),
            filename: "r.pdf".into(),
            size_bytes: 1,
            uploaded_by: None,
            created_at: Utc::now(),
            processed_at: Some(Utc::now()),
            object: Some(ObjectRef {
                etag: None,
                version_id: None,
                sequencer: None,
            }),
            revision: 0,
            extraction_revision: 0,
            reviewed_by: None,
            reviewed_at: None,
        };
        let fhir = diagnostic_report(&report);
        assert_eq!(fhir["status"], "preliminary");
        let glucose = &fhir["contained"][0];
        assert_eq!(glucose["code"]["coding"][0]["code"], "2345-7");
        assert_eq!(glucose["valueQuantity"]["value"], 105.0);
        assert_eq!(glucose["valueQuantity"]["code"], "mg/dL");
        assert_eq!(glucose["interpretation"][0]["coding"][0]["code"], "H");
        assert_eq!(glucose["referenceRange"][0]["low"]["value"], 70.0);
        assert_eq!(glucose["referenceRange"][0]["high"]["value"], 99.0);
        let below = &fhir["contained"][1];
        assert_eq!(below["valueQuantity"]["comparator"], "<");
        assert_eq!(below["interpretation"][0]["coding"][0]["code"], "N");
        // `<10` excludes 10: text only.
        assert!(below["referenceRange"][0].get("high").is_none());
        assert_eq!(fhir["result"][1]["reference"], "#obs1");
    }
}
