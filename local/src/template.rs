//! Reads the routes out of `template.yaml`, the single source of truth for what is deployed.

use std::path::Path;

use serde_norway::Value;

/// One `HttpApi` event of one function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Upper-case method, or `ANY`.
    pub method: String,
    /// The path template, e.g. `/patients/{patientId}`.
    pub path: String,
    /// The function's crate (its `Metadata.BuildProperties.Binary`).
    pub function: String,
    /// `Auth: {Authorizer: NONE}`: no token required.
    pub public: bool,
    /// `Auth.AuthorizationScopes`: the token needs one of them (none: any valid token).
    pub scopes: Vec<String>,
}

impl Route {
    /// API Gateway's route key, e.g. `GET /me`.
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// Matches a request and returns its path parameters.
    pub fn matches(&self, method: &str, path: &str) -> Option<Vec<(String, String)>> {
        if self.method != "ANY" && !self.method.eq_ignore_ascii_case(method) {
            return None;
        }
        let mut params = Vec::new();
        let mut actual = path.trim_start_matches('/').split('/');
        let pattern: Vec<&str> = self.path.trim_start_matches('/').split('/').collect();
        for (i, segment) in pattern.iter().enumerate() {
            if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix("+}")) {
                let rest: Vec<&str> = actual.by_ref().collect();
                if rest.is_empty() || i != pattern.len() - 1 {
                    return None;
                }
                params.push((name.to_owned(), rest.join("/")));
                return Some(params);
            }
            let got = actual.next()?;
            if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                if got.is_empty() {
                    return None;
                }
                params.push((name.to_owned(), percent_decode(got)));
            } else if *segment != got {
                return None;
            }
        }
        actual.next().is_none().then_some(params)
    }
}

/// Percent-decodes a path segment or query component (API Gateway hands functions decoded
/// values).
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        if let Some(b) = escaped {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("template.yaml is not valid YAML: {0}")]
    Yaml(#[from] serde_norway::Error),
    #[error("template.yaml: {0}")]
    Shape(String),
}

/// A key attribute: name and role (`HASH` or `RANGE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyElement {
    pub name: String,
    pub key_type: String,
}

/// A global secondary index of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Index {
    pub name: String,
    pub keys: Vec<KeyElement>,
    pub projection: String,
}

/// An `AWS::DynamoDB::Table`, as far as creating it in the emulator needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub logical_id: String,
    /// (name, type `S`/`N`/`B`) of every key attribute.
    pub attributes: Vec<(String, String)>,
    pub keys: Vec<KeyElement>,
    pub indexes: Vec<Index>,
}

/// A `SelfManagedKafka` event: which function consumes which topic, in what batches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaTrigger {
    pub function: String,
    pub topic: String,
    pub batch_size: usize,
}

/// Every function's crate name and its `HttpApi` routes, in template order, the Kafka
/// triggers, and the tables.
#[derive(Debug, Clone, Default)]
pub struct Template {
    pub functions: Vec<String>,
    /// Each function's `Timeout` (its own, else `Globals.Function.Timeout`, else Lambda's 3 s).
    pub timeouts: std::collections::HashMap<String, std::time::Duration>,
    pub routes: Vec<Route>,
    pub kafka_triggers: Vec<KafkaTrigger>,
    pub tables: Vec<Table>,
}

fn key_schema(value: Option<&Value>, what: &str) -> Result<Vec<KeyElement>, TemplateError> {
    value
        .and_then(Value::as_sequence)
        .ok_or_else(|| TemplateError::Shape(format!("{what}: no KeySchema")))?
        .iter()
        .map(|k| {
            let name = k.get("AttributeName").and_then(Value::as_str);
            let key_type = k.get("KeyType").and_then(Value::as_str);
            match (name, key_type) {
                (Some(name), Some(key_type)) => Ok(KeyElement {
                    name: name.to_owned(),
                    key_type: key_type.to_owned(),
                }),
                _ => Err(TemplateError::Shape(format!("{what}: malformed KeySchema"))),
            }
        })
        .collect()
}

fn table(id: &str, resource: &Value) -> Result<Table, TemplateError> {
    let props = resource
        .get("Properties")
        .ok_or_else(|| TemplateError::Shape(format!("{id}: no Properties")))?;
    let attributes = props
        .get("AttributeDefinitions")
        .and_then(Value::as_sequence)
        .ok_or_else(|| TemplateError::Shape(format!("{id}: no AttributeDefinitions")))?
        .iter()
        .filter_map(|a| {
            Some((
                a.get("AttributeName")?.as_str()?.to_owned(),
                a.get("AttributeType")?.as_str()?.to_owned(),
            ))
        })
        .collect();
    let indexes = props
        .get("GlobalSecondaryIndexes")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
        .map(|g| {
            Ok(Index {
                name: g
                    .get("IndexName")
                    .and_then(Value::as_str)
                    .ok_or_else(|| TemplateError::Shape(format!("{id}: index without IndexName")))?
                    .to_owned(),
                keys: key_schema(g.get("KeySchema"), id)?,
                projection: g
                    .get("Projection")
                    .and_then(|p| p.get("ProjectionType"))
                    .and_then(Value::as_str)
                    .unwrap_or("ALL")
                    .to_owned(),
            })
        })
        .collect::<Result<_, TemplateError>>()?;
    Ok(Table {
        logical_id: id.to_owned(),
        attributes,
        keys: key_schema(props.get("KeySchema"), id)?,
        indexes,
    })
}

impl Template {
    pub fn load(path: &Path) -> Result<Self, TemplateError> {
        let text = std::fs::read_to_string(path).map_err(|source| TemplateError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text)
    }

    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let doc: Value = serde_norway::from_str(text)?;
        let resources = doc
            .get("Resources")
            .and_then(Value::as_mapping)
            .ok_or_else(|| TemplateError::Shape("no Resources".into()))?;
        let mut template = Template::default();
        let global_timeout = doc
            .get("Globals")
            .and_then(|g| g.get("Function"))
            .and_then(|f| f.get("Timeout"))
            .and_then(Value::as_u64)
            .unwrap_or(3);
        for (id, resource) in resources {
            let id = id.as_str().unwrap_or("?");
            match resource.get("Type").and_then(Value::as_str) {
                Some("AWS::Serverless::Function") => {}
                Some("AWS::DynamoDB::Table") => {
                    template.tables.push(table(id, resource)?);
                    continue;
                }
                _ => continue,
            }
            let function = resource
                .get("Metadata")
                .and_then(|m| m.get("BuildProperties"))
                .and_then(|b| b.get("Binary"))
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    TemplateError::Shape(format!("{id} has no Metadata.BuildProperties.Binary"))
                })?
                .to_owned();
            let events = resource
                .get("Properties")
                .and_then(|p| p.get("Events"))
                .and_then(Value::as_mapping);
            for (_, event) in events.into_iter().flatten() {
                if event.get("Type").and_then(Value::as_str) == Some("SelfManagedKafka") {
                    let props = event.get("Properties");
                    let topics = props
                        .and_then(|p| p.get("Topics"))
                        .and_then(Value::as_sequence);
                    for topic in topics.into_iter().flatten().filter_map(Value::as_str) {
                        template.kafka_triggers.push(KafkaTrigger {
                            function: function.clone(),
                            topic: topic.to_owned(),
                            batch_size: props
                                .and_then(|p| p.get("BatchSize"))
                                .and_then(Value::as_u64)
                                .unwrap_or(100) as usize,
                        });
                    }
                    continue;
                }
                if event.get("Type").and_then(Value::as_str) != Some("HttpApi") {
                    continue;
                }
                let props = event.get("Properties").ok_or_else(|| {
                    TemplateError::Shape(format!("{id}: HttpApi event without Properties"))
                })?;
                let field = |name: &str| {
                    props
                        .get(name)
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                        .ok_or_else(|| {
                            TemplateError::Shape(format!("{id}: HttpApi event without {name}"))
                        })
                };
                let public = props
                    .get("Auth")
                    .and_then(|a| a.get("Authorizer"))
                    .and_then(Value::as_str)
                    == Some("NONE");
                let scopes = props
                    .get("Auth")
                    .and_then(|a| a.get("AuthorizationScopes"))
                    .and_then(Value::as_sequence)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect();
                template.routes.push(Route {
                    method: field("Method")?.to_ascii_uppercase(),
                    path: field("Path")?,
                    function: function.clone(),
                    public,
                    scopes,
                });
            }
            let timeout = resource
                .get("Properties")
                .and_then(|p| p.get("Timeout"))
                .and_then(Value::as_u64)
                .unwrap_or(global_timeout);
            template
                .timeouts
                .insert(function.clone(), std::time::Duration::from_secs(timeout));
            template.functions.push(function);
        }
        Ok(template)
    }

    /// The route serving `method path`, with its path parameters. Literal segments win over
    /// parameters, as in API Gateway.
    pub fn route(&self, method: &str, path: &str) -> Option<(&Route, Vec<(String, String)>)> {
        self.routes
            .iter()
            .filter_map(|r| r.matches(method, path).map(|p| (r, p)))
            .min_by_key(|(r, p)| (r.method == "ANY", p.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(method: &str, path: &str) -> Route {
        Route {
            method: method.into(),
            path: path.into(),
            function: "f".into(),
            public: false,
            scopes: Vec::new(),
        }
    }

    #[test]
    fn matching() {
        let r = route("GET", "/patients/{patientId}/history");
        assert_eq!(
            r.matches("GET", "/patients/abc/history"),
            Some(vec![("patientId".into(), "abc".into())])
        );
        assert_eq!(r.matches("POST", "/patients/abc/history"), None);
        assert_eq!(r.matches("GET", "/patients/abc"), None);
        assert_eq!(r.matches("GET", "/patients/abc/history/x"), None);
        assert_eq!(r.matches("GET", "/patients//history"), None);
        assert_eq!(
            route("GET", "/files/{key+}").matches("GET", "/files/a/b%20c"),
            Some(vec![("key".into(), "a/b%20c".into())])
        );
        assert_eq!(
            route("GET", "/p/{id}").matches("GET", "/p/a%20b"),
            Some(vec![("id".into(), "a b".into())])
        );
    }
}
