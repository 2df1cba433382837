//! Configuration: every function reads its variables through one [`Vars`] lookup, once, at
//! cold start. In Lambda that is the process environment; the local runner and the tests hand
//! each function a map (the environment `template.yaml` gives it, with local endpoints), so the
//! same constructor runs everywhere and no test has to change the process environment.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;
use std::sync::{Arc, Mutex};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {message}")]
    Invalid { name: &'static str, message: String },
    #[error("could not load {what}: {message}")]
    Load { what: &'static str, message: String },
}

/// A function's variables. Clones share the AWS SDK configuration made from them, so a cold
/// start loads it once however many clients (and secrets) the function builds.
#[derive(Clone, Debug, Default)]
pub struct Vars {
    source: Source,
    #[cfg(feature = "aws")]
    sdk: Arc<tokio::sync::OnceCell<aws_config::SdkConfig>>,
}

/// Where a function's variables come from.
#[derive(Clone, Debug, Default)]
enum Source {
    /// The process environment (Lambda).
    #[default]
    Process,
    /// A fixed map (the runner and the tests). Nothing is read from the process environment.
    Map(Arc<VarMap>),
}

/// The variables of a map and the names the function asked for.
#[derive(Default)]
pub struct VarMap {
    values: BTreeMap<String, String>,
    asked: Mutex<BTreeSet<String>>,
}

/// Names only: the values include credentials and keys.
impl std::fmt::Debug for VarMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VarMap")
            .field("names", &self.values.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Vars {
    pub fn process() -> Self {
        Self::default()
    }

    // Without the `aws` feature every field is named; with it, the SDK cell is defaulted.
    #[cfg_attr(not(feature = "aws"), allow(clippy::needless_update))]
    pub fn from_map<K: Into<String>, V: Into<String>>(
        entries: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            source: Source::Map(Arc::new(VarMap {
                values: entries
                    .into_iter()
                    .map(|(k, v)| (k.into(), v.into()))
                    .collect(),
                asked: Mutex::default(),
            })),
            ..Self::default()
        }
    }

    /// The names a function asked for so far (a map only): with the names the template sets,
    /// this shows a variable set under a name the code never reads (a misspelt optional one
    /// silently falls back to its default).
    pub fn asked(&self) -> BTreeSet<String> {
        match &self.source {
            Source::Process => BTreeSet::new(),
            Source::Map(map) => map.asked.lock().map(|a| a.clone()).unwrap_or_default(),
        }
    }

    /// A variable's value; empty counts as unset (CloudFormation cannot omit a variable, only
    /// leave it empty).
    pub fn optional(&self, name: &str) -> Option<String> {
        let value = match &self.source {
            Source::Process => std::env::var(name).ok(),
            Source::Map(map) => {
                if let Ok(mut asked) = map.asked.lock() {
                    asked.insert(name.to_owned());
                }
                map.values.get(name).cloned()
            }
        };
        value.filter(|v| !v.trim().is_empty())
    }

    /// A required variable.
    pub fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.optional(name).ok_or(ConfigError::Missing(name))
    }

    /// A variable parsed into `T`, with a default when unset.
    pub fn parsed_or<T>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        match self.optional(name) {
            None => Ok(default),
            Some(raw) => raw
                .trim()
                .parse()
                .map_err(|e: T::Err| ConfigError::Invalid {
                    name,
                    message: e.to_string(),
                }),
        }
    }

    /// The AWS SDK configuration for the clients a function makes at cold start, loaded on
    /// first use and then shared. From the process: the SDK's default chain (in Lambda, the role's
    /// credentials and the region Lambda sets). From a map: `AWS_REGION`, `AWS_ENDPOINT_URL`
    /// and the `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN` it holds, the
    /// variables Lambda sets; without a key the requests go unsigned (and AWS refuses them).
    #[cfg(feature = "aws")]
    pub async fn aws(&self) -> aws_config::SdkConfig {
        self.sdk.get_or_init(|| self.load_aws()).await.clone()
    }

    #[cfg(feature = "aws")]
    async fn load_aws(&self) -> aws_config::SdkConfig {
        let loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        let Source::Map(_) = &self.source else {
            return loader.load().await;
        };
        let mut loader = match self
            .optional("AWS_REGION")
            .or_else(|| self.optional("AWS_DEFAULT_REGION"))
        {
            Some(region) => loader.region(aws_config::Region::new(region)),
            None => loader,
        };
        if let Some(url) = self.optional("AWS_ENDPOINT_URL") {
            loader = loader.endpoint_url(url);
        }
        loader = match (
            self.optional("AWS_ACCESS_KEY_ID"),
            self.optional("AWS_SECRET_ACCESS_KEY"),
        ) {
            (Some(key), Some(secret)) => {
                loader.credentials_provider(aws_credential_types::Credentials::new(
                    key,
                    secret,
                    self.optional("AWS_SESSION_TOKEN"),
                    None,
                    "function-environment",
                ))
            }
            _ => loader.no_credentials(),
        };
        loader.load().await
    }
}

/// A part a function is built from (a service, the token verifier), read from the function's
/// variables: the one way each part is configured, whichever function holds it.
pub trait FromVars: Sized {
    fn build(vars: &Vars) -> impl Future<Output = Result<Self, ConfigError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_map_is_read_without_the_process_environment() {
        let vars = Vars::from_map([("PORT", "8080"), ("EMPTY", " "), ("BAD", "x")]);
        assert_eq!(vars.parsed_or("PORT", 1u16).unwrap(), 8080);
        assert_eq!(vars.optional("EMPTY"), None, "empty counts as unset");
        assert_eq!(vars.parsed_or("EMPTY", 7u16).unwrap(), 7);
        assert!(matches!(
            vars.required("PATH"),
            Err(ConfigError::Missing("PATH"))
        ));
        let Err(ConfigError::Invalid { name, .. }) = vars.parsed_or("BAD", 1u16) else {
            panic!("BAD parses")
        };
        assert_eq!(name, "BAD");
        let asked: Vec<String> = vars.asked().into_iter().collect();
        assert_eq!(asked, ["BAD", "EMPTY", "PATH", "PORT"]);
    }
}
