//! Each function's environment and AWS identity, as Lambda gives them: the variables
//! `template.yaml` sets for it and the credentials of the function's own role.
//!
//! `scripts/function_roles.py` creates every function's role in the emulator from the template
//! after the SAM transform (the policies `sam deploy` would attach, resolved to the local names),
//! assumes it and writes the role's credentials beside the function's resolved environment
//! (`CAREFLOW_FUNCTION_CREDENTIALS`); that file is read here. Every function is built by its own
//! `from_vars` from [`FunctionIdentities::vars`]; the emulator enforces IAM, so it can make
//! exactly the calls its role allows: a permission missing from `template.yaml` fails here as it
//! fails in AWS.
//! The runner and the tests set the emulator up (tables, buckets, queues) with the
//! administrator's credentials of the default chain; no function ever runs with those.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use aws_config::SdkConfig;
use aws_sdk_dynamodb::config::{Credentials, SharedCredentialsProvider};
use careflow::config::Vars;
use careflow::lab::service::LabReports;
use careflow::patient::care::Care;
use careflow::patient::service::Patients;
use careflow::patient::store::RecordsTable;
use careflow::policy::CareRules;
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
    /// The function's variables from the template, resolved to this stage's names.
    #[serde(default)]
    environment: BTreeMap<String, String>,
}

/// The SDK configuration and the environment of every function, each with its role's
/// credentials.
#[derive(Clone)]
pub struct FunctionIdentities {
    configs: Arc<HashMap<String, SdkConfig>>,
    environments: Arc<HashMap<String, BTreeMap<String, String>>>,
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
        // What Lambda adds to the template's variables: the region, and the role's credentials.
        // (And here the emulator's endpoint, which the SDK would read from the environment.)
        let mut lambda = BTreeMap::new();
        if let Some(region) = base.region() {
            lambda.insert("AWS_REGION".to_owned(), region.to_string());
        }
        if let Some(url) = base.endpoint_url() {
            lambda.insert("AWS_ENDPOINT_URL".to_owned(), url.to_owned());
        }
        let mut environments = HashMap::new();
        let configs = file
            .functions
            .into_iter()
            .map(|(function, role)| {
                let mut environment = role.environment;
                environment.extend(lambda.clone());
                environment.insert("AWS_ACCESS_KEY_ID".into(), role.access_key_id.clone());
                environment.insert(
                    "AWS_SECRET_ACCESS_KEY".into(),
                    role.secret_access_key.clone(),
                );
                if let Some(token) = &role.session_token {
                    environment.insert("AWS_SESSION_TOKEN".into(), token.clone());
                }
                environments.insert(function.clone(), environment);
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
            environments: Arc::new(environments),
        })
    }

    /// What `function` is built from (its `from_vars`): the environment the template gives
    /// it, the region and its role's credentials as Lambda adds them, and `local` on top (the
    /// runner's or a test's own endpoints and keys; an empty value unsets a variable).
    pub fn vars(&self, function: &str, local: &BTreeMap<String, String>) -> anyhow::Result<Vars> {
        let mut environment = self
            .environments
            .get(function)
            .with_context(|| {
                format!("no environment for {function}: is it a function of template.yaml?")
            })?
            .clone();
        environment.extend(local.iter().map(|(k, v)| (k.clone(), v.clone())));
        Ok(Vars::from_map(environment))
    }

    /// The variables of `function` as Lambda sets them (the role's credentials included).
    pub fn environment(&self, function: &str) -> Option<&BTreeMap<String, String>> {
        self.environments.get(function)
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
    /// The stage the names are made from.
    pub stage: String,
}

impl AwsFunctions {
    /// The resources of `stage`, named as `sam deploy` names them (and as the functions' roles
    /// name them): `careflow-{stage}-records`, `careflow-{stage}-lab-reports-{account}`.
    pub fn for_stage(identities: FunctionIdentities, stage: &str) -> Self {
        Self {
            identities,
            records_table: format!("careflow-{stage}-records"),
            lab_bucket: format!(
                "careflow-{stage}-lab-reports-{}",
                crate::s3_relay::LOCAL_ACCOUNT_ID
            ),
            stage: stage.to_owned(),
        }
    }

    /// The variables that name this stage's table, bucket and schedules, for
    /// [`FunctionIdentities::vars`] (the roles' file may be for a pattern of stages, as the
    /// tests' is).
    pub fn stage_environment(&self) -> BTreeMap<String, String> {
        let region = std::env::var("AWS_REGION")
            .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|_| "us-east-1".to_owned());
        let account = crate::s3_relay::LOCAL_ACCOUNT_ID;
        let stage = &self.stage;
        BTreeMap::from([
            ("CAREFLOW_TABLE".to_owned(), self.records_table.clone()),
            ("LAB_BUCKET".to_owned(), self.lab_bucket.clone()),
            (
                "SCHEDULE_NAME_PREFIX".to_owned(),
                format!("careflow-{stage}"),
            ),
            (
                "SCHEDULER_TARGET_ARN".to_owned(),
                format!(
                    "arn:aws:lambda:{region}:{account}:function:careflow-{stage}-scheduling-events"
                ),
            ),
            // The stack names this role itself; the emulator only stores it with the schedule.
            (
                "SCHEDULER_ROLE_ARN".to_owned(),
                format!("arn:aws:iam::{account}:role/careflow-{stage}-SchedulerInvokeRole"),
            ),
        ])
    }

    /// The records table as `function` reaches it.
    pub fn records(&self, function: &str) -> anyhow::Result<RecordsTable> {
        let client = aws_sdk_dynamodb::Client::new(self.identities.sdk(function)?);
        Ok(RecordsTable::new(client, self.records_table.clone()))
    }

    /// Care relationships as `function` reaches them, under the default rules.
    pub fn care(&self, function: &str) -> anyhow::Result<Care> {
        Ok(Care::new(self.records(function)?, CareRules::default()))
    }

    pub fn patients(&self, function: &str) -> anyhow::Result<Patients> {
        Ok(Patients::new(self.care(function)?))
    }

    pub fn lab(&self, function: &str) -> anyhow::Result<LabReports> {
        Ok(LabReports::new(self.care(function)?))
    }
}
