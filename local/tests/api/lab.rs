//! Lab reports: presigned uploads into the emulator's S3, the bucket notification relayed to
//! lab-processor as real S3 event JSON, the PDFs of several real producers read into values,
//! hostile files ending `unreadable` with a reason, isolation of a crashing or hanging parser,
//! idempotency, access rules.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::s3::S3Event;
use base64::Engine;
use careflow::auth::Role;
use careflow::lab::objects::client_for;
use careflow::lab::{LabReport, Status, object_key};
use careflow::patient::{Action, Outcome};
use careflow_local::s3_relay::{LabBucket, S3Relay};
use lab_processor::{BatchReport, LabProcessor, object_event};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::*;

fn data(name: &str) -> Vec<u8> {
    std::fs::read(repo_root().join("local/tests/data/lab").join(name)).unwrap()
}

fn expected() -> Value {
    serde_json::from_slice(&data("expected.json")).unwrap()
}

/// The test's bucket, queue and relay, with lab-processor wired as the runner wires it; the
/// extraction child is the runner binary (as on Lambda, the processor's own binary).
struct Lab {
    relay: Arc<S3Relay>,
    processor: Arc<LabProcessor>,
    s3: aws_sdk_s3::Client,
    bucket: String,
}

impl Lab {
    async fn new(env: &TestEnv, timeout: Duration) -> Self {
        Self::with_vars(env, timeout, &[]).await
    }

    /// As [`Lab::new`], with more of lab-processor's variables set.
    async fn with_vars(env: &TestEnv, timeout: Duration, extra: &[(&str, &str)]) -> Self {
        // The test's own set-up (bucket, queue, objects) uses the administrator's credentials;
        // lab-processor reads with its role's, as in AWS.
        let admin = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let bucket = LabBucket::from_template(
            &repo_root().join("template.yaml"),
            "test",
            careflow_local::s3_relay::LOCAL_ACCOUNT_ID,
        )
        .unwrap();
        assert_eq!(
            (bucket.prefix.as_str(), bucket.suffix.as_str()),
            ("lab-reports/", ".pdf")
        );
        assert_eq!(bucket.name, "careflow-test-lab-reports-123456789012");
        let bucket = LabBucket {
            name: env.deps.aws.lab_bucket.clone(),
            ..bucket
        };
        // lab-processor as its `main` builds it, with the test's extraction time limit.
        let mut local = env.deps.local.clone();
        local.insert(
            "LAB_EXTRACT_TIMEOUT_SECONDS".into(),
            timeout.as_secs().to_string(),
        );
        local.insert("LAB_EXTRACT_MEMORY_MB".into(), "768".into());
        for (name, value) in extra {
            local.insert((*name).into(), (*value).into());
        }
        let processor = Arc::new(
            LabProcessor::with_extractor(
                env.deps
                    .aws
                    .identities
                    .vars("lab-processor", &local)
                    .unwrap(),
                env!("CARGO_BIN_EXE_careflow-local").into(),
            )
            .await
            .unwrap(),
        );
        let relay = S3Relay::setup(
            &admin,
            &bucket,
            &format!("test-lab-{}", Uuid::new_v4().simple()),
            processor.clone(),
        )
        .await
        .unwrap();
        Self {
            relay: Arc::new(relay),
            processor,
            s3: client_for(&admin),
            bucket: bucket.name,
        }
    }

    /// Runs lab-processor on an S3 event, as Lambda delivers it.
    async fn handle(&self, event: &Value) -> BatchReport {
        let event = serde_json::from_value(event.clone()).unwrap();
        self.processor.handle(event).await.unwrap()
    }

    /// Puts an object as a client would (PUT; the presigned POST is tested on its own).
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Option<String> {
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/pdf")
            .body(bytes.into())
            .send()
            .await
            .unwrap()
            .version_id
    }

    async fn object(&self, key: &str) -> Vec<u8> {
        let out = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .unwrap();
        out.body.collect().await.unwrap().into_bytes().to_vec()
    }

    /// Polls the queue until `records` S3 records were delivered (or a deadline passes).
    async fn deliver(&self, records: usize) -> Vec<BatchReport> {
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut reports = Vec::new();
        let total = |r: &[BatchReport]| {
            r.iter()
                .map(|b| b.processed + b.needs_review + b.unreadable + b.duplicates + b.ignored)
                .sum::<usize>()
        };
        while total(&reports) < records && Instant::now() < deadline {
            reports.extend(self.relay.poll_once(Duration::from_secs(1)).await.unwrap());
        }
        assert!(
            total(&reports) >= records,
            "only {} of {records} S3 records arrived",
            total(&reports)
        );
        reports
    }
}

async fn patient_with_profile(env: &TestEnv) -> (Uuid, careflow::auth::token::AccessToken) {
    let id = Uuid::new_v4();
    env.create_profile(id).await;
    (id, env.token(id, Role::Patient))
}

fn upload_event(patient: Uuid, body: &Value) -> Value {
    let mut e = event("lab-upload-url/upload-url.json");
    let path = format!("/patients/{patient}/lab-reports/upload-url");
    e["rawPath"] = json!(path);
    e["requestContext"]["http"]["path"] = json!(path);
    e["pathParameters"]["patientId"] = json!(patient.to_string());
    with_body(e, body)
}

fn list_event(patient: Uuid) -> Value {
    let mut e = event("lab-results-list/list.json");
    let path = format!("/patients/{patient}/lab-reports");
    e["rawPath"] = json!(path);
    e["requestContext"]["http"]["path"] = json!(path);
    e["pathParameters"]["patientId"] = json!(patient.to_string());
    e
}

fn get_event(patient: Uuid, report: Uuid) -> Value {
    let mut e = event("lab-results-get/get.json");
    let path = format!("/patients/{patient}/lab-reports/{report}");
    e["rawPath"] = json!(path);
    e["requestContext"]["http"]["path"] = json!(path);
    e["pathParameters"] = json!({"patientId": patient.to_string(), "reportId": report.to_string()});
    e
}

fn assert_expected_values(report: &Value, label: &str) {
    let want = expected();
    assert_eq!(report["status"], "processed", "{label}: {report}");
    assert_eq!(report["results"], want["results"], "{label}");
    assert_eq!(report["collected_at"], want["collected_at"], "{label}");
}

/// The whole path: upload-url → presigned POST into the emulator's S3 with the returned
/// fields → bucket notification (S3 event JSON in SQS) → lab-processor → GET and list.
#[tokio::test]
async fn a_presigned_post_upload_is_processed_into_lab_values() {
    let env = TestEnv::new().await;
    let lab = Lab::new(&env, Duration::from_secs(20)).await;
    let (patient, token) = patient_with_profile(&env).await;
    let pdf = data("report-reportlab.pdf");
    let reply = env
        .call(
            "lab-upload-url",
            with_token(
                upload_event(
                    patient,
                    &json!({"filename": "blood work.pdf", "content_type": "application/pdf", "size_bytes": pdf.len()}),
                ),
                &token,
            ),
        )
        .await;
    assert_eq!(reply.status, 201, "{reply:?}");
    assert_eq!(reply.body["method"], "POST");
    assert_eq!(reply.body["report"]["status"], "pending");
    let report_id: Uuid = reply.body["report_id"].as_str().unwrap().parse().unwrap();
    let fields = reply.body["fields"].as_object().unwrap();
    assert_eq!(fields["key"], object_key(patient, report_id));
    assert_eq!(fields["Content-Type"], "application/pdf");
    let policy: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(fields["policy"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    let conditions = policy["conditions"].as_array().unwrap();
    assert!(conditions.contains(&json!(["content-length-range", 1, LAB_MAX_BYTES])));
    assert!(conditions.contains(&json!({"key": object_key(patient, report_id)})));
    assert!(conditions.contains(&json!({"bucket": lab.bucket})));
    let expires: chrono::DateTime<chrono::Utc> =
        reply.body["expires_at"].as_str().unwrap().parse().unwrap();
    assert!(
        expires > chrono::Utc::now()
            && expires < chrono::Utc::now() + chrono::Duration::minutes(10)
    );

    // The browser's part: a multipart form with the fields, the file last.
    let mut form = reqwest::multipart::Form::new();
    for (name, value) in fields {
        form = form.text(name.clone(), value.as_str().unwrap().to_owned());
    }
    form = form.part(
        "file",
        reqwest::multipart::Part::bytes(pdf.clone())
            .file_name("blood work.pdf")
            .mime_str("application/pdf")
            .unwrap(),
    );
    let response = reqwest::Client::new()
        .post(reply.body["url"].as_str().unwrap())
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{response:?}");

    let reports = lab.deliver(1).await;
    assert_eq!(reports.iter().map(|r| r.processed).sum::<usize>(), 1);
    let got = env
        .call(
            "lab-results-get",
            with_token(get_event(patient, report_id), &token),
        )
        .await;
    assert_eq!(got.status, 200, "{got:?}");
    assert_expected_values(&got.body, "reportlab via presigned POST");
    assert_eq!(got.body["filename"], "blood work.pdf");
    assert_eq!(got.body["uploaded_by"], patient.to_string());
    assert_eq!(got.body["size_bytes"], pdf.len());
    assert!(got.body["processed_at"].is_string());
    let list = env
        .call("lab-results-list", with_token(list_event(patient), &token))
        .await;
    assert_eq!(list.status, 200);
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(list.body["items"][0]["report_id"], report_id.to_string());
    // The original is kept, byte for byte.
    assert_eq!(lab.object(&object_key(patient, report_id)).await, pdf);
}

/// Reports made by four real PDF producers (reportlab, fpdf2, groff's gropdf, Ghostscript's
/// pdfwrite; scripts/make-lab-pdfs.sh) yield the same values, units, ranges and flags.
#[tokio::test]
async fn reports_from_four_pdf_producers_yield_the_right_values() {
    let env = TestEnv::new().await;
    let lab = Lab::new(&env, Duration::from_secs(20)).await;
    let patient = Uuid::new_v4();
    let producers = ["reportlab", "fpdf2", "groff", "ghostscript"];
    let mut ids = Vec::new();
    for producer in producers {
        let id = Uuid::now_v7();
        lab.put(
            &object_key(patient, id),
            data(&format!("report-{producer}.pdf")),
        )
        .await;
        ids.push((producer, id));
    }
    lab.deliver(producers.len()).await;
    for (producer, id) in ids {
        let report = env.lab_report(patient, id).await;
        assert_expected_values(&serde_json::to_value(&report).unwrap(), producer);
        // No pending record: the report is still stored, its uploader unknown.
        assert_eq!(report.uploaded_by, None);
    }
}

/// Validates FHIR resources with fhir.resources (R4B models) in the stack's Python venv.
fn validate_fhir(resources: &[Value]) {
    let python = repo_root().join(".local/venv/bin/python");
    let script = "import json, sys\n\
                  from fhir.resources.R4B import get_fhir_model_class\n\
                  for r in json.load(sys.stdin):\n    \
                      get_fhir_model_class(r['resourceType']).model_validate(r)\n\
                  print('valid')";
    let mut child = std::process::Command::new(&python)
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (scripts/lib/stack.sh makes the venv)",
                python.display()
            )
        });
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&serde_json::to_vec(resources).unwrap())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "FHIR validation failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn layout_expected(name: &str) -> Value {
    serde_json::from_slice(&data(&format!("layouts/expected/{name}.json"))).unwrap()
}

/// The fields a layout's expected row fixes, from a stored result.
fn row_of(result: &Value) -> Value {
    let keys = [
        "panel",
        "name",
        "value",
        "unit",
        "reference_range",
        "flag",
        "previous",
    ];
    keys.iter()
        .map(|k| (k.to_string(), result[k].clone()))
        .collect()
}

/// Reports in three commercial layouts (scripts/lab_layouts.py) are read column by column:
/// every current value, unit, range, flag, panel and previous result exactly, every test
/// LOINC-coded. Two of them rasterised into scans go through OCR: at least 95 % of their
/// values exact, never a previous result taken for the current one, each value with its OCR
/// confidence, and the report waits for a clinician (`needs_review`). With OCR switched off a
/// scan ends `unreadable`, as before.
#[tokio::test]
async fn report_layouts_are_read_by_column_and_scans_by_ocr() {
    let env = TestEnv::new().await;
    let lab = Lab::new(&env, Duration::from_secs(20)).await;
    let patient = Uuid::new_v4();
    let files = [
        "commercial",
        "split",
        "hospital",
        "commercial-scan",
        "split-scan",
    ];
    env.create_profile(patient).await;
    let mut ids = Vec::new();
    for file in files {
        let id = Uuid::now_v7();
        lab.put(
            &object_key(patient, id),
            data(&format!("layouts/{file}.pdf")),
        )
        .await;
        ids.push((file, id));
    }
    let old_scan = Uuid::now_v7();
    lab.put(
        &object_key(patient, old_scan),
        data("scanned-image-only.pdf"),
    )
    .await;
    lab.deliver(files.len() + 1).await;

    let (mut exact, mut total) = (0, 0);
    for &(file, id) in &ids {
        let report = serde_json::to_value(env.lab_report(patient, id).await).unwrap();
        let want = layout_expected(file);
        assert_eq!(report["collected_at"], want["collected_at"], "{file}");
        let got = report["results"].as_array().unwrap();
        let want = want["results"].as_array().unwrap();
        assert_eq!(got.len(), want.len(), "{file}: {report}");
        if !file.ends_with("-scan") {
            // A critical value (Potassium 6.8 printed "Critical", a fasting glucose of 45)
            // sends even an exactly read report to a clinician first.
            let critical = want
                .iter()
                .filter(|w| w["flag"] == "HH" || w["flag"] == "LL")
                .count();
            if critical > 0 {
                assert_eq!(report["status"], "needs_review", "{file}: {report}");
                let reason = report["reason"].as_str().unwrap();
                assert!(
                    reason.contains(&format!("{critical} critical value")),
                    "{file}: {reason}"
                );
            } else {
                assert_eq!(report["status"], "processed", "{file}: {report}");
            }
            for (g, w) in got.iter().zip(want) {
                assert_eq!(row_of(g), *w, "{file}");
                assert!(g["loinc"].is_string(), "{file}: {g}");
                assert!(g.get("confidence").is_none(), "{file}: {g}");
            }
            continue;
        }
        assert_eq!(report["status"], "needs_review", "{file}: {report}");
        let reason = report["reason"].as_str().unwrap();
        assert!(reason.contains("read by OCR"), "{file}: {reason}");
        for (g, w) in got.iter().zip(want) {
            total += 1;
            let same = ["value", "unit", "reference_range", "flag"]
                .iter()
                .all(|k| g[k] == w[k]);
            if same {
                exact += 1;
            } else {
                eprintln!("{file}: read {} as {}", w, row_of(g));
            }
            if let Some(previous) = w["previous"]["value"].as_str() {
                assert_ne!(
                    g["value"], previous,
                    "{file}: the previous result taken: {g}"
                );
            }
            let confidence = g["confidence"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&confidence), "{file}: {g}");
        }
    }
    assert!(
        exact * 100 >= total * 95,
        "{exact} of {total} OCR values exact, below 95 %"
    );
    // Each report's FHIR form validates with an independent FHIR library (fhir.resources' R4B
    // models), and carries the codes, quantities and interpretations read.
    let mut resources = Vec::new();
    for (file, id) in &ids {
        let reply = env
            .call(
                "lab-results-get",
                with_header(
                    with_token(get_event(patient, *id), &env.token(patient, Role::Patient)),
                    "accept",
                    "application/fhir+json",
                ),
            )
            .await;
        assert_eq!(reply.status, 200, "{file}: {reply:?}");
        assert_eq!(reply.header("content-type"), Some("application/fhir+json"));
        resources.push(reply.body);
    }
    validate_fhir(&resources);
    let commercial = &resources[0];
    assert_eq!(commercial["resourceType"], "DiagnosticReport");
    assert_eq!(
        commercial["status"], "preliminary",
        "a critical value awaits review"
    );
    assert_eq!(
        resources[1]["status"], "final",
        "the split layout has no critical value"
    );
    let potassium = commercial["contained"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["code"]["text"] == "Potassium")
        .unwrap();
    assert_eq!(potassium["code"]["coding"][0]["code"], "2823-3");
    assert_eq!(potassium["valueQuantity"]["code"], "mmol/L");
    assert_eq!(potassium["interpretation"][0]["coding"][0]["code"], "HH");
    assert_eq!(
        resources[3]["status"], "preliminary",
        "a scan awaits review"
    );

    // The old hand-made scan: two rows without a header, read line by line from OCR's words.
    let scan = env.lab_report(patient, old_scan).await;
    assert_eq!(scan.status, Status::NeedsReview, "{scan:?}");
    let values: Vec<_> = scan
        .results
        .iter()
        .map(|r| (r.loinc.as_deref(), r.value.as_str()))
        .collect();
    assert_eq!(values, [(Some("718-7"), "13.5"), (Some("2345-7"), "105")]);

    let off = Lab::with_vars(&env, Duration::from_secs(20), &[("LAB_OCR", "off")]).await;
    let id = Uuid::now_v7();
    off.put(&object_key(patient, id), data("layouts/split-scan.pdf"))
        .await;
    off.deliver(1).await;
    let report = env.lab_report(patient, id).await;
    assert_eq!(report.status, Status::Unreadable);
    assert!(
        report.reason.unwrap().starts_with("no text layer"),
        "OCR off"
    );

    // OCR programs that cannot run (a broken layer) are found at the first scanned page, not at
    // start, and switch OCR off for the process: the scan ends as with OCR off, a text report
    // is read as ever, and no record is failed for a retry.
    let broken = std::env::temp_dir().join(format!("careflow-broken-ocr-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&broken).unwrap();
    for program in ["tesseract", "pdftoppm"] {
        let path = broken.join(program);
        std::fs::write(&path, "#!/bin/sh\nexit 127\n").unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
    }
    let broken_lab = Lab::with_vars(
        &env,
        Duration::from_secs(20),
        &[("LAB_OCR_BIN_DIR", broken.to_str().unwrap())],
    )
    .await;
    let (scan, text) = (Uuid::now_v7(), Uuid::now_v7());
    broken_lab
        .put(&object_key(patient, scan), data("layouts/split-scan.pdf"))
        .await;
    broken_lab
        .put(&object_key(patient, text), data("layouts/split.pdf"))
        .await;
    let batches = broken_lab.deliver(2).await;
    assert!(batches.iter().all(|b| b.failed == 0), "{batches:?}");
    let report = env.lab_report(patient, scan).await;
    assert_eq!(report.status, Status::Unreadable, "{report:?}");
    assert!(
        report.reason.unwrap().starts_with("no text layer"),
        "broken OCR is off"
    );
    assert_eq!(
        env.lab_report(patient, text).await.status,
        Status::Processed
    );
    std::fs::remove_dir_all(&broken).ok();
}

fn review_event(patient: Uuid, report: Uuid, body: &Value) -> Value {
    let mut e = event("lab-review/review.json");
    let path = format!("/patients/{patient}/lab-reports/{report}/review");
    e["rawPath"] = json!(path);
    e["requestContext"]["http"]["path"] = json!(path);
    e["pathParameters"] = json!({"patientId": patient.to_string(), "reportId": report.to_string()});
    with_body(e, body)
}

/// The review endpoint through the function (events/lab-review): field-named errors, the
/// policy (a patient, an admin and a doctor outside care are refused), a stale revision, and a
/// reading of the same object that was computed before a review never overwrites it.
#[tokio::test]
async fn reviews_are_checked_and_never_overwritten_by_a_stale_reading() {
    let env = TestEnv::new().await;
    let lab = Lab::new(&env, Duration::from_secs(20)).await;
    let (patient, token) = patient_with_profile(&env).await;
    let doctor_id = Uuid::new_v4();
    env.assign(doctor_id, patient).await;
    let doctor = env.token(doctor_id, Role::Doctor);
    let id = Uuid::now_v7();
    lab.put(&object_key(patient, id), data("report-groff.pdf"))
        .await;
    lab.deliver(1).await;
    let read = env.lab_report(patient, id).await;
    assert_eq!((read.status, read.revision), (Status::Processed, 0));
    let review = |who: &careflow::auth::token::AccessToken, body: Value| {
        env.call(
            "lab-review",
            with_token(review_event(patient, id, &body), who),
        )
    };
    for who in [
        &token,
        &env.token(Uuid::new_v4(), Role::Admin),
        &env.token(Uuid::new_v4(), Role::Doctor),
    ] {
        review(who, json!({"revision": 0, "sign_off": true}))
            .await
            .assert_problem(403, None);
    }
    review(
        &doctor,
        json!({"revision": 0, "corrections": [{"index": 99, "value": "1"}]}),
    )
    .await
    .assert_problem(400, Some("corrections[0].index"));
    review(
        &doctor,
        json!({"revision": 0, "corrections": [{"index": 0, "loinc": "718-8"}]}),
    )
    .await
    .assert_problem(400, Some("corrections[0].loinc"));
    review(&doctor, json!({"revision": 0}))
        .await
        .assert_problem(400, Some("corrections"));
    review(
        &doctor,
        json!({"revision": 0, "sign_off": true, "extra": 1}),
    )
    .await
    .assert_problem(400, None);
    // Corrections saved without signing off, then a review of the old revision: 412.
    let corrected = review(
        &doctor,
        json!({"revision": 0, "corrections": [{"index": 0, "value": "13.6"}]}),
    )
    .await;
    assert_eq!(corrected.status, 200, "{corrected:?}");
    assert_eq!(
        (&corrected.body["revision"], &corrected.body["status"]),
        (&json!(1), &json!("processed"))
    );
    review(&doctor, json!({"revision": 0, "sign_off": true}))
        .await
        .assert_problem(412, None);
    let signed = review(&doctor, json!({"revision": 1, "sign_off": true})).await;
    assert_eq!(signed.status, 200, "{signed:?}");
    assert_eq!(signed.body["status"], "reviewed");
    review(&doctor, json!({"revision": 2, "sign_off": true}))
        .await
        .assert_problem(409, None);
    // lab-processor's reading of the same object, computed from revision 0 before the review
    // landed (a concurrent delivery of a newer version): refused, the review stands.
    let stale = careflow::lab::LabReport {
        object: Some(careflow::lab::ObjectRef {
            etag: Some("a-newer-object".into()),
            version_id: None,
            sequencer: Some("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF".into()),
        }),
        ..read.clone()
    };
    let written = env
        .admin_records()
        .await
        .finish_lab_report(&stale, 0)
        .await
        .unwrap();
    assert_eq!(written, careflow::lab::store::Written::Changed);
    let now = env.lab_report(patient, id).await;
    assert_eq!((now.status, now.revision), (Status::Reviewed, 2));
    assert_eq!(now.results[0].value, "13.6");
}

/// One uploader's reports for one patient share an extraction worker; a crash or a hang in it
/// costs only the document it was reading (the next one gets a fresh worker), and another
/// uploader's or another patient's report never enters a worker that read someone else's.
#[tokio::test]
async fn one_worker_reads_one_uploaders_reports_and_dies_alone() {
    use careflow::lab::extract::{Isolated, Limits, Outcome, Owner, Session};
    let isolated = Isolated::with_program(
        env!("CARGO_BIN_EXE_careflow-local"),
        Limits {
            timeout: Duration::from_secs(3),
            memory_bytes: 768 * 1024 * 1024,
        },
    );
    let faulty = |fault: &str| {
        let mut pdf = data("report-fpdf2.pdf");
        pdf.extend_from_slice(format!("\n%CAREFLOW-FAULT:{fault}\n").as_bytes());
        pdf
    };
    let good = data("report-groff.pdf");
    let (patient, uploader) = (Uuid::new_v4(), Uuid::new_v4());
    let owner = Some(Owner { patient, uploader });
    let mut session = Session::default();
    let mut read = async |owner: Option<Owner>, pdf: &[u8]| {
        let outcome = isolated.extract_in(&mut session, owner, pdf.to_vec()).await;
        match outcome {
            Outcome::Text { pages } => format!("text: {} pages", pages.len()),
            Outcome::Unreadable { reason } => format!("unreadable: {reason}"),
            Outcome::Failed { reason } => format!("failed: {reason}"),
        }
    };
    assert_eq!(read(owner, &good).await, "text: 1 pages");
    assert_eq!(read(owner, &good).await, "text: 1 pages");
    assert!(
        read(owner, &faulty("abort"))
            .await
            .starts_with("unreadable: corrupt PDF")
    );
    assert_eq!(read(owner, &good).await, "text: 1 pages");
    assert!(
        read(owner, &faulty("hang"))
            .await
            .starts_with("unreadable: extraction took longer")
    );
    assert_eq!(read(owner, &good).await, "text: 1 pages");
    // Another uploader for the same patient, then another patient: fresh workers.
    let other_uploader = Some(Owner {
        patient,
        uploader: Uuid::new_v4(),
    });
    assert_eq!(read(other_uploader, &good).await, "text: 1 pages");
    let other_patient = Some(Owner {
        patient: Uuid::new_v4(),
        uploader,
    });
    assert_eq!(read(other_patient, &good).await, "text: 1 pages");
    // No owner (an object without an upload grant): a worker of its own, not kept.
    assert_eq!(read(None, &good).await, "text: 1 pages");
    assert_eq!(read(other_patient, &good).await, "text: 1 pages");
    // Started: the first; a fresh one for the abort's second try (a kept worker that dies
    // may have died of an earlier document); after the abort, after the hang, the other
    // uploader, the other patient, the ownerless one, and the other patient's again.
    assert_eq!(session.workers_started(), 8);
}

/// A one-page PDF (Helvetica, one text row per line), built here so that its size is a
/// parameter: the rows run past the page's bottom, which text extraction does not mind.
fn text_pdf(lines: &[String]) -> Vec<u8> {
    let mut content = String::from("BT /F1 6 Tf 20 780 Td 7 TL\n");
    for line in lines {
        let escaped = line
            .replace('\\', "\\\\")
            .replace('(', "\\(")
            .replace(')', "\\)");
        content.push_str(&format!("({escaped}) Tj T*\n"));
    }
    content.push_str("ET\n");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] \
         /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>"
            .to_owned(),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
        format!(
            "<< /Length {} >>\nstream\n{content}endstream",
            content.len()
        ),
    ];
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{object}\nendobj\n", i + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        pdf.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

/// Reports too big for one record end `needs_review` with the reason, never `pending`: one
/// with 5,000 recognisable values (about 0.5 MB stored: past DynamoDB's 400 KB item limit,
/// which the emulator enforces, so without the cap the write fails on every retry) and one with
/// 4 MB of text. Nothing of either is stored as values.
#[tokio::test]
async fn reports_too_large_for_a_record_end_needs_review_with_a_reason() {
    let env = TestEnv::new().await;
    let lab = Lab::new(&env, Duration::from_secs(60)).await;
    let patient = Uuid::new_v4();
    // Distinct names of letters only (digits in a name read as its value).
    let name = |mut i: usize| {
        let mut letters = String::new();
        for _ in 0..3 {
            letters.push((b'a' + (i % 26) as u8) as char);
            i /= 26;
        }
        format!("Serum analyte {letters} of the extended panel")
    };
    let many_values: Vec<String> = (0..5000)
        .map(|i| format!("{} {}.{} mmol/L 3.9 - 5.6", name(i), 4 + i % 3, i % 10))
        .collect();
    let filler = "Narrative text of a very long document that is not a lab report at all. ";
    let megabytes_of_text: Vec<String> = (0..4 * 1024 * 1024 / filler.len())
        .map(|_| filler.to_owned())
        .collect();
    let cases = [
        ("5000 values", text_pdf(&many_values), "5000 lab values"),
        (
            "4 MB of text",
            text_pdf(&megabytes_of_text),
            "the PDF holds",
        ),
    ];
    let mut ids = Vec::new();
    for (what, bytes, reason) in &cases {
        assert!(
            bytes.len() < LAB_MAX_BYTES as usize,
            "{what} fits the upload limit"
        );
        let id = Uuid::now_v7();
        lab.put(&object_key(patient, id), bytes.clone()).await;
        ids.push((what, id, reason));
    }
    let batches = lab.deliver(cases.len()).await;
    assert!(
        batches
            .iter()
            .all(|b| b.needs_review + b.duplicates <= cases.len()),
        "{batches:?}"
    );
    for (what, id, reason) in ids {
        let report = env.lab_report(patient, id).await;
        let got = report.reason.clone().unwrap_or_default();
        assert_eq!(
            (report.status, report.results.len()),
            (Status::NeedsReview, 0),
            "{what}: {got}"
        );
        assert!(got.starts_with(reason), "{what}: reason {got:?}");
    }
}

/// Image-only, encrypted (two producers), truncated, empty, not-a-PDF and oversized files
/// each end `unreadable` with the right reason; the originals stay as uploaded.
#[tokio::test]
async fn hostile_files_end_unreadable_with_a_reason_and_are_kept() {
    let env = TestEnv::new().await;
    let lab = Lab::new(&env, Duration::from_secs(20)).await;
    let patient = Uuid::new_v4();
    let want = expected();
    let mut cases: Vec<(String, Vec<u8>, String)> = want["hostile"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(file, reason)| {
            (
                file.clone(),
                data(file),
                reason.as_str().unwrap().to_owned(),
            )
        })
        .collect();
    // Oversized: a valid header and one byte over the limit (generated, not committed).
    let mut big = b"%PDF-1.7\n".to_vec();
    big.resize(LAB_MAX_BYTES as usize + 1, b' ');
    cases.push(("oversized.pdf".into(), big, "too large".into()));
    let mut ids = Vec::new();
    for (file, bytes, reason) in &cases {
        let id = Uuid::now_v7();
        lab.put(&object_key(patient, id), bytes.clone()).await;
        ids.push((file, id, reason, bytes));
    }
    lab.deliver(cases.len()).await;
    for (file, id, reason, bytes) in ids {
        let report = env.lab_report(patient, id).await;
        assert_eq!(report.status, Status::Unreadable, "{file}: {report:?}");
        let got = report.reason.clone().unwrap_or_default();
        assert!(
            got.starts_with(reason.as_str()),
            "{file}: reason {got:?}, want {reason:?}"
        );
        assert!(report.results.is_empty());
        assert_eq!(
            &lab.object(&object_key(patient, id)).await,
            bytes,
            "{file} changed"
        );
    }
}

/// A parser that panics (as under panic = "abort"), aborts, overflows its stack, runs out of
/// memory or never ends takes only its own child down, and one that opens a socket, runs a
/// program or writes a file is killed by the sandbox: each such PDF ends `unreadable` with a
/// reason within the time bound, and the good report in the same batch is processed.
#[tokio::test]
async fn a_crashing_or_hanging_parser_does_not_stop_the_batch() {
    let env = TestEnv::new().await;
    let lab = Lab::new(&env, Duration::from_secs(3)).await;
    let patient = Uuid::new_v4();
    let faults = [
        ("panic", "corrupt PDF: the parser aborted"),
        ("abort", "corrupt PDF: the parser aborted"),
        ("overflow", "corrupt PDF: the parser overflowed its stack"),
        ("oom", "the PDF needs more memory"),
        ("hang", "extraction took longer than 3 s"),
        // What a subverted parser would try: the sandbox kills it at the system call.
        (
            "socket",
            "the parser attempted an operation the sandbox forbids",
        ),
        (
            "exec",
            "the parser attempted an operation the sandbox forbids",
        ),
        (
            "file",
            "the parser attempted an operation the sandbox forbids",
        ),
    ];
    let mut records = Vec::new();
    let mut keys = Vec::new();
    for (fault, _) in faults {
        let id = Uuid::now_v7();
        let mut pdf = data("report-fpdf2.pdf");
        pdf.extend_from_slice(format!("\n%CAREFLOW-FAULT:{fault}\n").as_bytes());
        let key = object_key(patient, id);
        let version = lab.put(&key, pdf).await;
        records.push(s3_record(&lab.bucket, &key, version.as_deref()));
        keys.push(id);
    }
    let good = Uuid::now_v7();
    let key = object_key(patient, good);
    let version = lab.put(&key, data("report-groff.pdf")).await;
    records.push(s3_record(&lab.bucket, &key, version.as_deref()));
    // One invocation with the whole batch, as S3 → Lambda could deliver it.
    let started = Instant::now();
    let report = lab
        .processor
        .handle(serde_json::from_value::<S3Event>(json!({"Records": records})).unwrap())
        .await
        .unwrap();
    assert_eq!(
        (report.unreadable, report.processed),
        (faults.len(), 1),
        "{report:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    for ((fault, reason), id) in faults.iter().zip(keys) {
        let r = env.lab_report(patient, id).await;
        assert_eq!(r.status, Status::Unreadable, "{fault}");
        let got = r.reason.unwrap();
        assert!(got.starts_with(reason), "{fault}: {got:?}");
    }
    let r = env.lab_report(patient, good).await;
    assert_eq!(r.status, Status::Processed);
}

/// When the extraction child cannot enter its sandbox (a kernel refusing the seccomp filter),
/// nothing is parsed unsandboxed and the PDF is not blamed: its record fails for a retry and its
/// report stays unjudged, while the rest of the batch is processed.
#[tokio::test]
async fn a_sandbox_that_cannot_be_entered_is_retried_not_called_unreadable() {
    let env = TestEnv::new().await;
    let lab = Lab::new(&env, Duration::from_secs(10)).await;
    let patient = Uuid::new_v4();
    let refused = Uuid::now_v7();
    let mut pdf = data("report-fpdf2.pdf");
    pdf.extend_from_slice(b"\n%CAREFLOW-FAULT:sandbox-refused\n");
    let key = object_key(patient, refused);
    let version = lab.put(&key, pdf).await;
    let mut records = vec![s3_record(&lab.bucket, &key, version.as_deref())];
    let good = Uuid::now_v7();
    let key = object_key(patient, good);
    let version = lab.put(&key, data("report-groff.pdf")).await;
    records.push(s3_record(&lab.bucket, &key, version.as_deref()));
    let failed = lab
        .processor
        .handle(serde_json::from_value::<S3Event>(json!({"Records": records})).unwrap())
        .await;
    assert!(
        failed.is_err(),
        "the batch must fail for a retry: {failed:?}"
    );
    assert_eq!(
        env.lab_report(patient, good).await.status,
        Status::Processed
    );
    let stored = env
        .admin_records()
        .await
        .get_lab_report(patient, refused)
        .await
        .unwrap();
    assert!(
        stored
            .as_ref()
            .is_none_or(|r| r.status != Status::Unreadable),
        "{stored:?}"
    );
}

fn s3_record(bucket: &str, key: &str, version: Option<&str>) -> Value {
    let mut record = event("lab-processor/put.json")["Records"][0].clone();
    record["s3"]["bucket"]["name"] = json!(bucket);
    record["s3"]["object"]["key"] = json!(key);
    record["s3"]["object"]["versionId"] = json!(version);
    record["s3"]["object"]["sequencer"] = Value::Null;
    record["s3"]["object"]["eTag"] = Value::Null;
    record
}

/// The sample events of events/lab-processor: a redelivered event changes nothing, a newer
/// version of the object (greater sequencer) is read again, and in a batch a key with
/// URL-encoded spaces and `+` is decoded (and ignored: it names no report) without stopping
/// the record beside it.
#[tokio::test]
async fn sample_events_are_idempotent_and_keys_are_decoded() {
    let env = TestEnv::new().await;
    let lab = Lab::new(&env, Duration::from_secs(20)).await;
    let mut sample = event("lab-processor/put.json");
    let key = sample["Records"][0]["s3"]["object"]["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let version = lab.put(&key, data("report-ghostscript.pdf")).await;
    sample["Records"][0]["s3"]["bucket"]["name"] = json!(lab.bucket);
    sample["Records"][0]["s3"]["object"]["versionId"] = json!(version);
    let first = lab.handle(&sample).await;
    assert_eq!(first.processed, 1, "{first:?}");
    let (patient, report) = careflow::lab::parse_object_key(&key).unwrap();
    let stored = env.lab_report(patient, report).await;
    // Redelivery: a no-op.
    let again = lab.handle(&sample).await;
    assert_eq!(again.duplicates, 1, "{again:?}");
    assert_eq!(env.lab_report(patient, report).await, stored);
    // A new version of the object, later in S3's order: read again.
    let newer = lab.put(&key, data("scanned-image-only.pdf")).await;
    sample["Records"][0]["s3"]["object"]["versionId"] = json!(newer);
    sample["Records"][0]["s3"]["object"]["sequencer"] = json!("0055AED6DCD90281F9");
    let third = lab.handle(&sample).await;
    assert_eq!(third.needs_review, 1, "{third:?}");
    // The older event arriving late changes nothing.
    sample["Records"][0]["s3"]["object"]["versionId"] = json!(version);
    sample["Records"][0]["s3"]["object"]["sequencer"] = json!("0055AED6DCD90281E5");
    let late = lab
        .processor
        .handle(serde_json::from_value(sample).unwrap())
        .await
        .unwrap();
    assert_eq!(late.duplicates, 1, "{late:?}");
    let last: LabReport = env.lab_report(patient, report).await;
    assert_eq!(last.status, Status::NeedsReview);

    let mut batch = event("lab-processor/batch-encoded-key.json");
    for record in batch["Records"].as_array_mut().unwrap() {
        record["s3"]["bucket"]["name"] = json!(lab.bucket);
        record["s3"]["object"]["versionId"] = Value::Null;
        record["s3"]["object"]["sequencer"] = Value::Null;
    }
    let parsed: S3Event = serde_json::from_value(batch.clone()).unwrap();
    assert_eq!(
        object_event(&parsed.records[1]).unwrap().key,
        "lab-reports/11111111-1111-4111-8111-111111111111/blood work (Nov) + lipids.pdf"
    );
    let out = lab.processor.handle(parsed).await.unwrap();
    assert_eq!(out.ignored, 1, "{out:?}");
    assert_eq!(
        out.processed + out.unreadable + out.duplicates,
        1,
        "{out:?}"
    );
}

/// Upload URLs and reads: the patient themself, doctors and admins; others get 403 (and the
/// denial is audited); no profile 404; wrong type 400; too large 413.
#[tokio::test]
async fn lab_endpoints_follow_the_record_access_rules() {
    let env = TestEnv::new().await;
    let (patient, token) = patient_with_profile(&env).await;
    let other = env.token(Uuid::new_v4(), Role::Patient);
    let doctor_id = Uuid::new_v4();
    env.assign(doctor_id, patient).await;
    let doctor = env.token(doctor_id, Role::Doctor);
    let stranger = env.token(Uuid::new_v4(), Role::Doctor);
    let admin = env.token(Uuid::new_v4(), Role::Admin);
    let body = json!({"filename": "a.pdf", "content_type": "application/pdf", "size_bytes": 1000});
    // A doctor outside the care relationship: the same 403 as for a patient nobody has.
    for aimed_at in [patient, Uuid::new_v4()] {
        env.call(
            "lab-upload-url",
            with_token(upload_event(aimed_at, &body), &stranger),
        )
        .await
        .assert_problem(403, None);
        env.call(
            "lab-results-list",
            with_token(list_event(aimed_at), &stranger),
        )
        .await
        .assert_problem(403, None);
        env.call(
            "lab-results-get",
            with_token(get_event(aimed_at, Uuid::now_v7()), &stranger),
        )
        .await
        .assert_problem(403, None);
    }
    env.call(
        "lab-upload-url",
        with_token(upload_event(patient, &body), &other),
    )
    .await
    .assert_problem(403, None);
    env.call("lab-results-list", with_token(list_event(patient), &other))
        .await
        .assert_problem(403, None);
    env.call(
        "lab-results-get",
        with_token(get_event(patient, Uuid::now_v7()), &other),
    )
    .await
    .assert_problem(403, None);
    for who in [&token, &doctor, &admin] {
        let reply = env
            .call(
                "lab-upload-url",
                with_token(upload_event(patient, &body), who),
            )
            .await;
        assert_eq!(reply.status, 201, "{reply:?}");
    }
    let list = env
        .call("lab-results-list", with_token(list_event(patient), &doctor))
        .await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 3);
    let paged = env
        .call(
            "lab-results-list",
            with_token(with_query(list_event(patient), &[("limit", "2")]), &admin),
        )
        .await;
    assert_eq!(paged.body["items"].as_array().unwrap().len(), 2);
    assert!(paged.body["next_cursor"].is_string());
    env.call(
        "lab-results-get",
        with_token(get_event(patient, Uuid::now_v7()), &doctor),
    )
    .await
    .assert_problem(404, None);
    env.call(
        "lab-upload-url",
        with_token(
            upload_event(
                patient,
                &json!({"filename": "a.png", "content_type": "image/png", "size_bytes": 10}),
            ),
            &token,
        ),
    )
    .await
    .assert_problem(400, Some("content_type"));
    env.call(
        "lab-upload-url",
        with_token(
            upload_event(patient, &json!({"filename": "a.pdf", "content_type": "application/pdf", "size_bytes": LAB_MAX_BYTES + 1})),
            &token,
        ),
    )
    .await
    .assert_problem(413, None);
    let stranger = Uuid::new_v4();
    env.call(
        "lab-upload-url",
        with_token(upload_event(stranger, &body), &admin),
    )
    .await
    .assert_problem(404, None);
    let trail = env.audit_trail(patient).await;
    let count = |action, outcome| {
        trail
            .iter()
            .filter(|e| e.action == action && e.outcome == outcome)
            .count()
    };
    assert_eq!(count(Action::UploadLabReport, Outcome::Allowed), 3);
    // The other patient's and the unrelated doctor's attempts.
    assert_eq!(count(Action::UploadLabReport, Outcome::Denied), 2);
    assert_eq!(count(Action::ReadLabReports, Outcome::Denied), 4);
    assert!(count(Action::ReadLabReports, Outcome::Allowed) >= 2);
}

/// Every PDF of the shared robustness corpus (32 real-world files, none a lab report) ends
/// with a final status and a reason, within the time bound, without crashing the processor.
#[tokio::test]
async fn every_corpus_pdf_ends_with_a_final_status() {
    let dir = std::env::var_os("CAREFLOW_PDF_CORPUS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared/pdf-corpus"));
    let Ok(entries) = std::fs::read_dir(&dir) else {
        // CI always has the corpus beside the clone: there its absence is a failure.
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "no PDF corpus at {} under CI (set CAREFLOW_PDF_CORPUS)",
            dir.display()
        );
        eprintln!(
            "SKIPPED: no PDF corpus at {} (set CAREFLOW_PDF_CORPUS)",
            dir.display()
        );
        return;
    };
    let mut files: Vec<_> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "pdf"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no PDFs in {}", dir.display());
    let env = TestEnv::new().await;
    let timeout = Duration::from_secs(20);
    let lab = Lab::new(&env, timeout).await;
    let patient = Uuid::new_v4();
    let mut outcomes = Vec::new();
    for file in &files {
        let id = Uuid::now_v7();
        let key = object_key(patient, id);
        let version = lab.put(&key, std::fs::read(file).unwrap()).await;
        let started = Instant::now();
        let out = lab
            .processor
            .handle(
                serde_json::from_value(
                    json!({"Records": [s3_record(&lab.bucket, &key, version.as_deref())]}),
                )
                .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(
            out.processed + out.needs_review + out.unreadable,
            1,
            "{}",
            file.display()
        );
        assert!(
            started.elapsed() < timeout + Duration::from_secs(10),
            "{}",
            file.display()
        );
        let r = env.lab_report(patient, id).await;
        assert!(
            r.status.is_final() && r.reason.is_some(),
            "{}",
            file.display()
        );
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        eprintln!(
            "{name}: {} ({})",
            r.status.as_str(),
            r.reason.as_deref().unwrap_or("")
        );
        outcomes.push((name, r.status, r.reason.unwrap_or_default()));
    }
    // The files whose outcome the corpus README names must be there and end as it says.
    let status_of = |name: &str| {
        outcomes
            .iter()
            .find(|(n, ..)| n == name)
            .map(|(_, s, r)| (*s, r.clone()))
            .unwrap_or_else(|| panic!("{name} is missing from the corpus at {}", dir.display()))
    };
    let (status, reason) = status_of("libreoffice-writer-password.pdf");
    assert_eq!(status, Status::Unreadable);
    assert!(reason.starts_with("encrypted"), "{reason}");
    // An image without text: OCR reads it, finds no lab values, and a person looks.
    let (status, reason) = status_of("cmyk-image.pdf");
    assert_eq!(status, Status::NeedsReview, "{reason}");
    assert!(reason.starts_with("OCR read the scan"), "{reason}");
    // This one's trailer is broken: lopdf refuses it before any page is seen.
    let (status, reason) = status_of("grayscale-image.pdf");
    assert_eq!(status, Status::Unreadable, "{reason}");
    assert!(reason.starts_with("corrupt PDF"), "{reason}");
}

/// The runner as `scripts/run-local.sh` starts it: the template's bucket in the emulator, the
/// bucket notification relayed from SQS by the runner's own task. A PDF uploaded with the
/// presigned POST from the HTTP API shows up processed, with no step by the test.
#[tokio::test]
async fn the_runner_relays_uploads_to_lab_processor() {
    // SAFETY: set before the stack starts any thread that reads the environment; this test
    // runs in its own process (nextest).
    unsafe {
        std::env::set_var(
            "CAREFLOW_EXTRACT_PROGRAM",
            env!("CARGO_BIN_EXE_careflow-local"),
        )
    };
    let runner = start_runner().await;
    let (stack, stage) = (&runner.stack, &runner.stage);
    assert_eq!(
        stack.deps.aws.lab_bucket,
        format!("careflow-{stage}-lab-reports-123456789012")
    );
    let patient = Uuid::new_v4();
    create_sample_profile(
        &stack.deps.aws.patients("patients-create").unwrap(),
        patient,
    )
    .await;
    let token = stack
        .deps
        .issuer
        .issue(patient, Role::Patient, careflow::auth::Amr::Password)
        .unwrap()
        .token;
    let (http, base) = (&runner.http, &runner.base);
    // Uploads a PDF as the portal does (upload-url, then the presigned POST) and waits until
    // lab-processor has read it; the report's URL and the report.
    let upload = async |file: &str| {
        let pdf = data(file);
        let grant: Value = json_reply(http
            .post(format!("{base}/patients/{patient}/lab-reports/upload-url"))
            .bearer_auth(&token)
            .json(&json!({"filename": "report.pdf", "content_type": "application/pdf", "size_bytes": pdf.len()}))).await;
        let mut form = reqwest::multipart::Form::new();
        for (name, value) in grant["fields"].as_object().unwrap() {
            form = form.text(name.clone(), value.as_str().unwrap().to_owned());
        }
        // As a browser sends it: a file part with its name and type.
        form = form.part(
            "file",
            reqwest::multipart::Part::bytes(pdf)
                .file_name("report.pdf")
                .mime_str("application/pdf")
                .unwrap(),
        );
        let uploaded = http
            .post(grant["url"].as_str().unwrap())
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert!(uploaded.status().is_success(), "{uploaded:?}");
        let url = format!(
            "{base}/patients/{patient}/lab-reports/{}",
            grant["report_id"].as_str().unwrap()
        );
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let report: Value = json_reply(http.get(&url).bearer_auth(&token)).await;
            if report["status"] != "pending" {
                break (url, report);
            }
            assert!(Instant::now() < deadline, "still pending: {report}");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    };
    let (_, report) = upload("report-groff.pdf").await;
    assert_expected_values(&report, "groff through the runner");

    // Review, end to end: a scan is read by OCR and waits in the queue of the patient's doctor,
    // who corrects the value OCR misread and signs the report off.
    let (url, report) = upload("layouts/commercial-scan.pdf").await;
    assert_eq!(report["status"], "needs_review", "{report}");
    let issue = |id: Uuid, role: Role| {
        stack
            .deps
            .issuer
            .issue(id, role, careflow::auth::Amr::PasswordAndTotp)
            .unwrap()
            .token
    };
    let admin = issue(Uuid::new_v4(), Role::Admin);
    let (doctor_id, stranger) = (Uuid::new_v4(), issue(Uuid::new_v4(), Role::Doctor));
    let doctor = issue(doctor_id, Role::Doctor);
    insert_user(&runner.db, doctor_id, Role::Doctor).await;
    let assigned = http
        .put(format!("{base}/patients/{patient}/care-team/{doctor_id}"))
        .bearer_auth(&admin)
        .json(&json!({"until": (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339()}))
        .send()
        .await
        .unwrap();
    assert!(assigned.status().is_success(), "{assigned:?}");
    let queue: Value = json_reply(
        http.get(format!("{base}/lab-reports/review-queue"))
            .bearer_auth(&doctor),
    )
    .await;
    let entry = queue["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["report_id"] == report["report_id"])
        .unwrap_or_else(|| panic!("not in the doctor's queue: {queue}"));
    // Potassium 6.8 against 3.5-5.2, printed "Critical": the report is urgent.
    assert_eq!(
        (entry["critical_values"].as_u64(), &entry["read_by_ocr"]),
        (Some(1), &json!(true)),
        "{entry}"
    );
    let other: Value = json_reply(
        http.get(format!("{base}/lab-reports/review-queue"))
            .bearer_auth(&stranger),
    )
    .await;
    assert!(
        other["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["patient_id"] != json!(patient)),
        "a doctor outside the care relationship sees the report: {other}"
    );
    let results = report["results"].as_array().unwrap();
    let albumin = results.iter().position(|r| r["name"] == "Albumin").unwrap();
    let revision = report["revision"].as_u64().unwrap();
    let review = |who: &str, body: Value| {
        http.post(format!("{url}/review"))
            .bearer_auth(who.to_owned())
            .json(&body)
            .send()
    };
    let patient_try = review(&token, json!({"revision": revision, "sign_off": true}))
        .await
        .unwrap();
    assert_eq!(patient_try.status(), 403);
    // OCR reads this Albumin 4.5 as 45 (its one miss in this scan); whatever it read, the
    // correction is a different value within the range.
    let corrected = if results[albumin]["value"] == "4.5" {
        "4.4"
    } else {
        "4.5"
    };
    let body = json!({"revision": revision, "corrections": [{"index": albumin, "value": corrected}], "sign_off": true});
    let stale = review(&doctor, json!({"revision": revision + 7, "sign_off": true}))
        .await
        .unwrap();
    assert_eq!(stale.status(), 412);
    let signed = review(&doctor, body.clone()).await.unwrap();
    assert_eq!(signed.status(), 200);
    let signed: Value = signed.json().await.unwrap();
    assert_eq!(signed["status"], "reviewed", "{signed}");
    assert_eq!(signed["reviewed_by"], json!(doctor_id));
    assert_eq!(signed["results"][albumin]["value"], corrected);
    assert_eq!(signed["results"][albumin]["flag"], "normal");
    // Signed off: the values no longer change, and the report left the queue.
    let again = review(
        &doctor,
        json!({"revision": revision + 1, "corrections": [{"index": 0, "value": "1"}]}),
    )
    .await
    .unwrap();
    assert_eq!(again.status(), 409);
    let queue: Value = json_reply(
        http.get(format!("{base}/lab-reports/review-queue"))
            .bearer_auth(&admin),
    )
    .await;
    assert!(
        queue["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["report_id"] != report["report_id"])
    );
    // Both versions are kept: the extraction as OCR read it, then the review.
    let revisions: Value =
        json_reply(http.get(format!("{url}/revisions")).bearer_auth(&token)).await;
    let revisions = revisions["items"].as_array().unwrap();
    assert_eq!(revisions.len(), 2, "{revisions:?}");
    assert_eq!(revisions[0]["kind"], "extraction");
    assert_eq!(
        revisions[0]["results"][albumin]["value"],
        report["results"][albumin]["value"]
    );
    assert_eq!(revisions[1]["kind"], "review");
    assert_eq!(revisions[1]["by"], json!(doctor_id));
    assert_eq!(revisions[1]["results"][albumin]["value"], corrected);
    let changed: Vec<&str> = revisions[1]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    assert!(changed.contains(&"value"), "{changed:?}");
    // And the review is on the patient's audit trail, by the doctor.
    let log: Value = json_reply(
        http.get(format!("{base}/patients/{patient}/access-log"))
            .bearer_auth(&token),
    )
    .await;
    assert!(
        log["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "review_lab_report"
                && e["actor_id"] == json!(doctor_id)
                && e["outcome"] == "allowed"),
        "{log}"
    );
}

/// Sends a request and reads its JSON answer.
async fn json_reply(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}
