//! Each function's AWS identity, as Lambda gives it: the credentials of the function's own role.
//!
//! `scripts/function_roles.py` creates every function's role in the emulator from the template
//! after the SAM transform (the policies `sam deploy` would attach, resolved to the local names)
//! and assumes it; the file it writes (`CAREFLOW_FUNCTION_CREDENTIALS`) is read here. The
//! emulator enforces IAM, so a function built from [`AwsFunctions`] can make exactly the calls
//! its role allows: a permission missing from `template.yaml` fails here as it fails in AWS.
//! The runner and the tests set the emulator up (tables, buckets, queues) with the
//! administrator's credentials of the default chain; no function ever runs with those.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use aws_config::SdkConfig;
use aws_sdk_dynamodb::config::{Credentials, SharedCredentialsProvider};
use careflow::lab::service::{LabReports, UploadSettings};
use careflow::patient::service::Patients;
use careflow::patient::store::RecordsTable;
use serde::Deserialize;

/// Names the file of per-function credentials.
pub const CREDENTIALS_ENV: &str = "CAREFLOW_FUNCTION_CREDENTIALS";

#[derive(Deserialize)]
struct CredentialsFile {
    functions: HashMap<String, RoleCredentials>,
}

#[derive(Deserialize)]
struct RoleCredentials {
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
}

/// The SDK configuration of every function, each with its role's credentials.
#[derive(Clone)]
pub struct FunctionIdentities {
    configs: Arc<HashMap<String, SdkConfig>>,
}

impl std::fmt::Debug for FunctionIdentities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<_> = self.configs.keys().collect();
        names.sort();
        f.debug_struct("FunctionIdentities")
            .field("functions", &names)
            .finish()
    }
}

impl FunctionIdentities {
    /// Reads the file named by `CAREFLOW_FUNCTION_CREDENTIALS`.
    pub async fn from_env() -> anyhow::Result<Self> {
        let path = std::env::var_os(CREDENTIALS_ENV).with_context(|| {
            format!(
                "{CREDENTIALS_ENV} is not set: functions run with their template role's \
                 credentials (scripts/function_roles.py); start with scripts/run-local.sh or \
                 scripts/test.sh"
            )
        })?;
        Self::load(Path::new(&path)).await
    }

    /// Reads a credentials file written by `scripts/function_roles.py`. Region and endpoint
    /// come from the environment, as in Lambda.
    pub async fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading function credentials {}", path.display()))?;
        let file: CredentialsFile = serde_json::from_str(&text)
            .with_context(|| format!("parsing function credentials {}", path.display()))?;
        let base = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let configs = file
            .functions
            .into_iter()
            .map(|(function, role)| {
                let credentials = Credentials::new(
                    role.access_key_id,
                    role.secret_access_key,
                    role.session_token,
                    None,
                    "function-role",
                );
                let config = base
                    .to_builder()
                    .credentials_provider(SharedCredentialsProvider::new(credentials))
                    .build();
                (function, config)
            })
            .collect();
        Ok(Self {
            configs: Arc::new(configs),
        })
    }

    /// The same identities, but `function` runs with `config`.
    pub fn with(&self, function: &str, config: SdkConfig) -> Self {
        let mut configs = (*self.configs).clone();
        configs.insert(function.to_owned(), config);
        Self {
            configs: Arc::new(configs),
        }
    }

    /// The SDK configuration `function` runs with.
    pub fn sdk(&self, function: &str) -> anyhow::Result<&SdkConfig> {
        self.configs.get(function).with_context(|| {
            format!("no role credentials for {function}: is it a function of template.yaml?")
        })
    }
}

/// The AWS resources the functions use, and each function's identity.
#[derive(Clone, Debug)]
pub struct AwsFunctions {
    pub identities: FunctionIdentities,
    /// The template's `RecordsTable`, as named in this stack.
    pub records_table: String,
    /// The template's `LabReportsBucket`, as named in this stack.
    pub lab_bucket: String,
    pub lab_max_bytes: u64,
    pub lab_upload_expires: Duration,
}

impl AwsFunctions {
    /// The resources of `stage`, named as `sam deploy` names them (and as the functions' roles
    /// name them): `careflow-{stage}-records`, `careflow-{stage}-lab-reports-{account}`; upload
    /// forms valid for five minutes, as the template configures lab-upload-url.
    pub fn for_stage(identities: FunctionIdentities, stage: &str, lab_max_bytes: u64) -> Self {
        Self {
            identities,
            records_table: format!("careflow-{stage}-records"),
            lab_bucket: format!(
                "careflow-{stage}-lab-reports-{}",
                crate::s3_relay::LOCAL_ACCOUNT_ID
            ),
            lab_max_bytes,
            lab_upload_expires: Duration::from_secs(300),
        }
    }

    /// The records table as `function` reaches it.
    pub fn records(&self, function: &str) -> anyhow::Result<RecordsTable> {
        let client = aws_sdk_dynamodb::Client::new(self.identities.sdk(function)?);
        Ok(RecordsTable::new(client, self.records_table.clone()))
    }

    pub fn patients(&self, function: &str) -> anyhow::Result<Patients> {
        Ok(Patients::new(self.records(function)?))
    }

    pub fn lab(&self, function: &str) -> anyhow::Result<LabReports> {
        Ok(LabReports::new(self.records(function)?))
    }

    /// Upload forms signed with `function`'s credentials, as lab-upload-url signs them.
    pub fn uploads(&self, function: &str) -> anyhow::Result<UploadSettings> {
        Ok(UploadSettings::new(
            self.identities.sdk(function)?,
            self.lab_bucket.clone(),
            self.lab_max_bytes,
            self.lab_upload_expires,
        )?)
    }
}
