//! The lab-report PDFs in S3: read-only. The processor never deletes or changes an object.

use aws_sdk_s3::Client;
use aws_sdk_s3::error::DisplayErrorContext;

use crate::config::{ConfigError, Vars};
use crate::{Error, Result};

/// An object's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub size: u64,
    pub etag: Option<String>,
    pub version_id: Option<String>,
}

/// The PDF bucket.
#[derive(Clone, Debug)]
pub struct LabObjects {
    client: Client,
    bucket: String,
}

fn unavailable<E: std::error::Error + Send + Sync + 'static>(
    e: aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> Error {
    Error::Unavailable(DisplayErrorContext(e).to_string().into())
}

impl LabObjects {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }

    /// `LAB_BUCKET`; the SDK honours `AWS_ENDPOINT_URL` (path-style for an emulator).
    pub async fn from_vars(vars: &Vars) -> Result<Self, ConfigError> {
        let bucket = vars.required("LAB_BUCKET")?;
        let sdk = vars.aws().await;
        Ok(Self::new(client_for(&sdk), bucket))
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The object's size, etag and version; `None` if it (or that version) does not exist.
    pub async fn head(&self, key: &str, version_id: Option<&str>) -> Result<Option<Head>> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .set_version_id(version_id.map(str::to_owned))
            .send()
            .await
        {
            Ok(out) => Ok(Some(Head {
                size: out.content_length().unwrap_or(0).max(0) as u64,
                etag: out.e_tag().map(|e| e.trim_matches('"').to_owned()),
                version_id: out.version_id().map(str::to_owned),
            })),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(None),
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Ok(None),
            Err(e) => Err(unavailable(e)),
        }
    }

    /// The object's bytes, at most `max_bytes` of them (`None` if it does not exist).
    pub async fn get(
        &self,
        key: &str,
        version_id: Option<&str>,
        max_bytes: u64,
    ) -> Result<Option<Vec<u8>>> {
        let out = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .set_version_id(version_id.map(str::to_owned))
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key()) => return Ok(None),
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => {
                return Ok(None);
            }
            Err(e) => return Err(unavailable(e)),
        };
        let mut body = out.body;
        let mut bytes = Vec::new();
        while let Some(chunk) = body
            .try_next()
            .await
            .map_err(|e| Error::Unavailable(Box::new(e)))?
        {
            bytes.extend_from_slice(&chunk);
            if bytes.len() as u64 > max_bytes {
                return Err(Error::PayloadTooLarge {
                    limit: max_bytes as usize,
                });
            }
        }
        Ok(Some(bytes))
    }
}

/// An S3 client; path-style addressing when an endpoint override (an emulator) is set.
pub fn client_for(sdk: &aws_config::SdkConfig) -> Client {
    let config = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(sdk.endpoint_url().is_some())
        .build();
    Client::from_conf(config)
}
