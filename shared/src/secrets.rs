//! Secrets Manager lookups, done once at cold start.

use crate::config::{ConfigError, Vars};

/// Fetches a secret's string value with the function's own credentials (its role in Lambda).
pub async fn get_string(vars: &Vars, secret_id: &str) -> Result<String, ConfigError> {
    get_string_with(&vars.aws().await, secret_id).await
}

/// Fetches a secret's string value with the credentials of `config`.
pub async fn get_string_with(
    config: &aws_config::SdkConfig,
    secret_id: &str,
) -> Result<String, ConfigError> {
    let client = aws_sdk_secretsmanager::Client::new(config);
    let out = client
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|e| ConfigError::Load {
            what: "secret",
            // The SDK error names the secret and the failure, never its value.
            message: aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string(),
        })?;
    out.secret_string.ok_or(ConfigError::Load {
        what: "secret",
        message: "secret has no string value".into(),
    })
}

/// Fetches a JSON secret and deserialises it.
pub async fn get_json<T: serde::de::DeserializeOwned>(
    vars: &Vars,
    secret_id: &str,
) -> Result<T, ConfigError> {
    let raw = get_string(vars, secret_id).await?;
    serde_json::from_str(&raw).map_err(|e| ConfigError::Load {
        what: "secret",
        message: format!("secret is not the expected JSON: {}", e.classify_name()),
    })
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "io",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "missing or mistyped field",
            serde_json::error::Category::Eof => "truncated",
        }
    }
}
