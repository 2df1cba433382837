//! Presigned POST (browser-based upload, SigV4) for one lab-report PDF.
//!
//! A presigned PUT cannot limit the size or pin the content type of what is uploaded; a POST
//! policy can. The policy allows exactly one key, `Content-Type: application/pdf` and a
//! `content-length-range` of 1 to the configured maximum, until it expires (minutes). The AWS
//! SDK for Rust has no presigned POST, so this builds and signs the policy itself: the
//! base64 policy is the string to sign, signed with the SigV4 key for `{date}/{region}/s3`.
//! The credentials are the function's own (on Lambda, temporary ones with a session token,
//! which then is a policy condition and a form field too); the role needs `s3:PutObject` on
//! the key for S3 to accept the upload.

use std::collections::BTreeMap;

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::{Value, json};

pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// The credentials that sign (no SDK types here).
#[derive(Clone)]
pub struct SigningCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for SigningCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningCredentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// What to allow.
#[derive(Debug, Clone)]
pub struct PostPolicy<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    pub content_type: &'a str,
    pub max_bytes: u64,
    pub region: &'a str,
    pub now: DateTime<Utc>,
    pub expires_in: Duration,
}

/// A signed form: POST `url` as multipart/form-data with `fields`, then the `file` field last.
#[derive(Clone, Serialize)]
pub struct PresignedPost {
    pub url: String,
    pub fields: BTreeMap<String, String>,
    pub expires_at: DateTime<Utc>,
}

/// Field names only: the values include the signature and the session token.
impl std::fmt::Debug for PresignedPost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PresignedPost")
            .field("url", &self.url)
            .field("fields", &self.fields.keys().collect::<Vec<_>>())
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// The SigV4 signing key for `date` (`YYYYMMDD`), `region` and `service`.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> hmac::Tag {
    let mac = |key: &[u8], data: &str| {
        hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data.as_bytes())
    };
    let k_date = mac(format!("AWS4{secret}").as_bytes(), date);
    let k_region = mac(k_date.as_ref(), region);
    let k_service = mac(k_region.as_ref(), service);
    mac(k_service.as_ref(), "aws4_request")
}

/// Hex HMAC-SHA256 of `string_to_sign` with the S3 signing key.
pub fn signature(secret: &str, date: &str, region: &str, string_to_sign: &str) -> String {
    let key = signing_key(secret, date, region, "s3");
    hex(hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, key.as_ref()),
        string_to_sign.as_bytes(),
    )
    .as_ref())
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The policy document (before base64).
pub fn policy_document(policy: &PostPolicy<'_>, credentials: &SigningCredentials) -> Value {
    let (credential, amz_date) = scope(policy, credentials);
    let expiration = (policy.now + policy.expires_in)
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    let mut conditions = vec![
        json!({"bucket": policy.bucket}),
        json!({"key": policy.key}),
        json!({"Content-Type": policy.content_type}),
        json!(["content-length-range", 1, policy.max_bytes]),
        json!({"x-amz-algorithm": ALGORITHM}),
        json!({"x-amz-credential": credential}),
        json!({"x-amz-date": amz_date}),
    ];
    if let Some(token) = &credentials.session_token {
        conditions.push(json!({"x-amz-security-token": token}));
    }
    json!({"expiration": expiration, "conditions": conditions})
}

fn scope(policy: &PostPolicy<'_>, credentials: &SigningCredentials) -> (String, String) {
    let date = policy.now.format("%Y%m%d").to_string();
    (
        format!(
            "{}/{date}/{}/s3/aws4_request",
            credentials.access_key_id, policy.region
        ),
        policy.now.format("%Y%m%dT%H%M%SZ").to_string(),
    )
}

/// Signs the policy and returns the form. `endpoint`: `None` for AWS (virtual-hosted URL),
/// or an emulator's base URL (path-style).
pub fn presign_post(
    policy: &PostPolicy<'_>,
    credentials: &SigningCredentials,
    endpoint: Option<&str>,
) -> PresignedPost {
    let document = policy_document(policy, credentials);
    let encoded = STANDARD.encode(document.to_string());
    let (credential, amz_date) = scope(policy, credentials);
    let date = policy.now.format("%Y%m%d").to_string();
    let signature = signature(
        &credentials.secret_access_key,
        &date,
        policy.region,
        &encoded,
    );
    let mut fields = BTreeMap::from([
        ("key".to_owned(), policy.key.to_owned()),
        ("Content-Type".to_owned(), policy.content_type.to_owned()),
        ("x-amz-algorithm".to_owned(), ALGORITHM.to_owned()),
        ("x-amz-credential".to_owned(), credential),
        ("x-amz-date".to_owned(), amz_date),
        ("policy".to_owned(), encoded),
        ("x-amz-signature".to_owned(), signature),
    ]);
    if let Some(token) = &credentials.session_token {
        fields.insert("x-amz-security-token".to_owned(), token.clone());
    }
    let url = match endpoint {
        Some(base) => format!("{}/{}", base.trim_end_matches('/'), policy.bucket),
        None => format!(
            "https://{}.s3.{}.amazonaws.com/",
            policy.bucket, policy.region
        ),
    };
    PresignedPost {
        url,
        fields,
        expires_at: policy.now + policy.expires_in,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's published example: "Browser-Based Upload using HTTP POST (Using AWS Signature
    /// Version 4)": that base64 policy, signed with the example secret, gives that signature.
    #[test]
    fn signs_the_aws_post_example() {
        let policy = "eyAiZXhwaXJhdGlvbiI6ICIyMDE1LTEyLTMwVDEyOjAwOjAwLjAwMFoiLA0KICAiY29uZGl0aW9ucyI6IFsNCiAgICB7ImJ1Y2tldCI6ICJzaWd2NGV4YW1wbGVidWNrZXQifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRrZXkiLCAidXNlci91c2VyMS8iXSwNCiAgICB7ImFjbCI6ICJwdWJsaWMtcmVhZCJ9LA0KICAgIHsic3VjY2Vzc19hY3Rpb25fcmVkaXJlY3QiOiAiaHR0cDovL3NpZ3Y0ZXhhbXBsZWJ1Y2tldC5zMy5hbWF6b25hd3MuY29tL3N1Y2Nlc3NmdWxfdXBsb2FkLmh0bWwifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRDb250ZW50LVR5cGUiLCAiaW1hZ2UvIl0sDQogICAgeyJ4LWFtei1tZXRhLXV1aWQiOiAiMTQzNjUxMjM2NTEyNzQifSwNCiAgICB7IngtYW16LXNlcnZlci1zaWRlLWVuY3J5cHRpb24iOiAiQUVTMjU2In0sDQogICAgWyJzdGFydHMtd2l0aCIsICIkeC1hbXotbWV0YS10YWciLCAiIl0sDQoNCiAgICB7IngtYW16LWNyZWRlbnRpYWwiOiAiQUtJQUlPU0ZPRE5ON0VYQU1QTEUvMjAxNTEyMjkvdXMtZWFzdC0xL3MzL2F3czRfcmVxdWVzdCJ9LA0KICAgIHsieC1hbXotYWxnb3JpdGhtIjogIkFXUzQtSE1BQy1TSEEyNTYifSwNCiAgICB7IngtYW16LWRhdGUiOiAiMjAxNTEyMjlUMDAwMDAwWiIgfQ0KICBdDQp9";
        assert_eq!(
            signature(
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                "20151229",
                "us-east-1",
                policy
            ),
            "8afdbf4008c03f22c2cd3cdb72e4afbb1f6a588f3255ac628749a66d7f09699e"
        );
    }

    /// AWS's published signing-key derivation example (IAM, 2012-02-15).
    #[test]
    fn derives_the_aws_example_signing_key() {
        let key = signing_key(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20120215",
            "us-east-1",
            "iam",
        );
        assert_eq!(
            hex(key.as_ref()),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
    }

    #[test]
    fn the_policy_allows_one_pdf_of_bounded_size_for_minutes() {
        let now = DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let policy = PostPolicy {
            bucket: "b",
            key: "lab-reports/p/r.pdf",
            content_type: "application/pdf",
            max_bytes: 1000,
            region: "eu-west-1",
            now,
            expires_in: Duration::minutes(5),
        };
        let creds = SigningCredentials {
            access_key_id: "AKID".into(),
            secret_access_key: "secret".into(),
            session_token: Some("token".into()),
        };
        let form = presign_post(&policy, &creds, None);
        assert_eq!(form.url, "https://b.s3.eu-west-1.amazonaws.com/");
        let decoded: Value =
            serde_json::from_slice(&STANDARD.decode(&form.fields["policy"]).unwrap()).unwrap();
        assert_eq!(decoded["expiration"], "2026-11-25T10:05:00.000Z");
        let conditions = decoded["conditions"].as_array().unwrap();
        for expected in [
            json!({"bucket": "b"}),
            json!({"key": "lab-reports/p/r.pdf"}),
            json!({"Content-Type": "application/pdf"}),
            json!(["content-length-range", 1, 1000]),
            json!({"x-amz-algorithm": "AWS4-HMAC-SHA256"}),
            json!({"x-amz-credential": "AKID/20261125/eu-west-1/s3/aws4_request"}),
            json!({"x-amz-date": "20261125T100000Z"}),
            json!({"x-amz-security-token": "token"}),
        ] {
            assert!(conditions.contains(&expected), "{expected} missing");
        }
        // Every condition on a form field is matched by that field.
        assert_eq!(form.fields["x-amz-security-token"], "token");
        assert_eq!(form.fields["key"], "lab-reports/p/r.pdf");
        assert_eq!(form.fields["Content-Type"], "application/pdf");
        assert_eq!(
            form.fields["x-amz-signature"],
            signature("secret", "20261125", "eu-west-1", &form.fields["policy"])
        );
        assert!(!format!("{creds:?}").contains("secret"));
        let local = presign_post(
            &policy,
            &SigningCredentials {
                session_token: None,
                ..creds
            },
            Some("http://127.0.0.1:5000/"),
        );
        assert_eq!(local.url, "http://127.0.0.1:5000/b");
        assert!(!local.fields.contains_key("x-amz-security-token"));
    }
}
