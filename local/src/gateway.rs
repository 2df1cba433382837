//! API Gateway (HTTP API, payload format 2.0) in front of the functions.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Uri};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::authorizer::{JwtAuthorizer, Refused};
use crate::functions::HttpFunction;
use crate::template::{Route, Template};

/// Largest request body API Gateway HTTP APIs accept.
const MAX_REQUEST_BYTES: usize = 10 * 1024 * 1024;
/// An HTTP API waits at most this long for its Lambda integration.
pub const INTEGRATION_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest response a synchronously invoked Lambda function may return (its JSON, as sent).
pub const MAX_LAMBDA_RESPONSE_BYTES: usize = 6 * 1024 * 1024;

pub struct Gateway {
    pub template: Template,
    pub functions: HashMap<&'static str, HttpFunction>,
    /// The HTTP API's JWT authorizer (the template's `JwtConfiguration`).
    pub authorizer: JwtAuthorizer,
    /// The `domainName` put in events, e.g. `localhost:3000`.
    pub domain: String,
    /// The built web portal (`web/dist`), served for GETs that match no API route.
    pub web_root: Option<std::path::PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("template.yaml routes to {0}, which the runner does not know")]
    UnknownFunction(String),
}

impl Gateway {
    /// Checks that every routed function exists, so a template edit cannot silently 500.
    pub fn new(
        template: Template,
        functions: HashMap<&'static str, HttpFunction>,
        authorizer: JwtAuthorizer,
        domain: String,
    ) -> Result<Self, GatewayError> {
        for route in &template.routes {
            if !functions.contains_key(route.function.as_str()) {
                return Err(GatewayError::UnknownFunction(route.function.clone()));
            }
        }
        Ok(Self {
            template,
            functions,
            authorizer,
            domain,
            web_root: None,
        })
    }

    pub fn router(self: Arc<Self>) -> axum::Router {
        axum::Router::new().fallback(serve).with_state(self)
    }

    /// Handles one HTTP request the way API Gateway would.
    pub async fn call(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: Bytes,
        source_ip: &str,
    ) -> Response<Body> {
        let path = uri.path();
        let Some((route, params)) = self.template.route(method.as_str(), path) else {
            if *method == Method::GET
                && let Some(file) = self.static_file(path).await
            {
                return file;
            }
            return gateway_error(StatusCode::NOT_FOUND);
        };
        let claims = if route.public {
            None
        } else {
            let header = headers
                .get(http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok());
            match self.authorize(header, &route.scopes).await {
                Ok(claims) => Some(claims),
                Err(refused) => {
                    tracing::info!(reason = %refused, "JWT authorizer refused the request");
                    return unauthorized(header.is_some(), &refused);
                }
            }
        };
        let event = event(
            route,
            &params,
            method,
            uri,
            headers,
            &body,
            claims,
            source_ip,
            &self.domain,
        );
        let function = &self.functions[route.function.as_str()];
        // Lambda stops the function at its own timeout (an error API Gateway answers 500);
        // API Gateway stops waiting at its integration timeout (503).
        let own = self.template.timeouts.get(&route.function).copied();
        let limit = own.unwrap_or(INTEGRATION_TIMEOUT).min(INTEGRATION_TIMEOUT);
        match tokio::time::timeout(limit, function(event)).await {
            Err(_) if own.is_some_and(|t| t < INTEGRATION_TIMEOUT) => {
                tracing::error!(function = %route.function, ?limit, "Task timed out");
                gateway_error(StatusCode::INTERNAL_SERVER_ERROR)
            }
            Err(_) => {
                tracing::error!(function = %route.function, "integration timed out");
                gateway_error(StatusCode::SERVICE_UNAVAILABLE)
            }
            Ok(Ok(response)) => {
                let size = serde_json::to_vec(&response).map_or(usize::MAX, |v| v.len());
                if size > MAX_LAMBDA_RESPONSE_BYTES {
                    tracing::error!(function = %route.function, size, "Response payload size exceeded maximum allowed payload size");
                    return gateway_error(StatusCode::INTERNAL_SERVER_ERROR);
                }
                lambda_response(&response)
            }
            Ok(Err(_)) => {
                tracing::error!(function = %route.function, "invocation failed");
                gateway_error(StatusCode::INTERNAL_SERVER_ERROR)
            }
        }
    }

    /// A file of the built portal, as CloudFront would serve it from its bucket: `/` is
    /// `index.html`; `/config.js` defaults to the same-origin API. Paths never leave the root.
    async fn static_file(&self, path: &str) -> Option<Response<Body>> {
        let root = self.web_root.as_ref()?;
        let relative = match path.trim_start_matches('/') {
            "" => "index.html",
            other => other,
        };
        if relative
            .split('/')
            .any(|part| part == ".." || part.starts_with('.') || part.contains('\\'))
        {
            return None;
        }
        let bytes = match tokio::fs::read(root.join(relative)).await {
            Ok(bytes) => bytes,
            Err(_) if relative == "config.js" => {
                b"window.CAREFLOW_CONFIG = { apiBaseUrl: \"\" };\n".to_vec()
            }
            Err(_) => return None,
        };
        let content_type = match relative.rsplit('.').next().unwrap_or("") {
            "html" => "text/html; charset=utf-8",
            "js" | "mjs" => "text/javascript; charset=utf-8",
            "css" => "text/css; charset=utf-8",
            "json" => "application/json",
            "svg" => "image/svg+xml",
            "png" => "image/png",
            "ico" => "image/x-icon",
            "woff2" => "font/woff2",
            _ => "application/octet-stream",
        };
        Response::builder()
            .status(StatusCode::OK)
            .header(http::header::CONTENT_TYPE, content_type)
            .header(http::header::CACHE_CONTROL, "no-cache")
            .header("x-content-type-options", "nosniff")
            .body(Body::from(bytes))
            .ok()
    }

    /// The JWT authorizer: the token verified against the keys the issuer publishes, found
    /// as API Gateway finds them (discovery document, then its `jwks_uri`), fetched from the
    /// functions that serve them. Returns the claims API Gateway forwards.
    async fn authorize(
        &self,
        header: Option<&str>,
        scopes: &[String],
    ) -> Result<BTreeMap<String, String>, Refused> {
        let token = JwtAuthorizer::token_of(header)?;
        let issuer_path = url_path(&self.authorizer.issuer);
        let discovery = self
            .fetch_public_json(&format!(
                "{}/.well-known/openid-configuration",
                issuer_path.trim_end_matches('/')
            ))
            .await?;
        let jwks_uri = discovery["jwks_uri"]
            .as_str()
            .ok_or(Refused("the discovery document has no jwks_uri"))?;
        let jwks = self.fetch_public_json(url_path(jwks_uri)).await?;
        self.authorizer.verify(token, &jwks, scopes)
    }

    /// A JSON document served by a public route of the template.
    async fn fetch_public_json(&self, path: &str) -> Result<Value, Refused> {
        let unavailable = Refused("the issuer's keys cannot be fetched");
        let uri: Uri = path.parse().map_err(|_| unavailable.clone())?;
        let (route, params) = self
            .template
            .route("GET", uri.path())
            .filter(|(route, _)| route.public)
            .ok_or(unavailable.clone())?;
        let event = event(
            route,
            &params,
            &Method::GET,
            &uri,
            &HeaderMap::new(),
            &Bytes::new(),
            None,
            "127.0.0.1",
            &self.domain,
        );
        let response = (self.functions[route.function.as_str()])(event)
            .await
            .map_err(|_| unavailable.clone())?;
        if response.get("statusCode").and_then(Value::as_u64) != Some(200) {
            return Err(unavailable);
        }
        response
            .get("body")
            .and_then(Value::as_str)
            .and_then(|body| serde_json::from_str(body).ok())
            .ok_or(unavailable)
    }
}

/// The path of an absolute URL (`https://host/a/b` → `/a/b`; no path → ``).
fn url_path(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.find('/').map_or("", |i| &rest[i..])
}

/// API Gateway's own answers (HTTP APIs cannot customise them): no route (404), a request over
/// 10 MB (413), a failed integration (500: the function failed or timed out, or its response
/// was over 6 MB) and an integration that did not answer in 30 s (503).
fn gateway_error(status: StatusCode) -> Response<Body> {
    let message = match status {
        StatusCode::NOT_FOUND => "Not Found",
        StatusCode::PAYLOAD_TOO_LARGE => "Request Entity Too Large",
        StatusCode::SERVICE_UNAVAILABLE => "Service Unavailable",
        _ => "Internal Server Error",
    };
    Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Body::from(json!({ "message": message }).to_string()))
        .expect("static response")
}

/// API Gateway's answer when its JWT authorizer refuses a request (HTTP APIs cannot customise
/// it): 401 with `{"message":"Unauthorized"}`.
fn unauthorized(token_presented: bool, refused: &Refused) -> Response<Body> {
    let mut builder = Response::builder()
        .status(StatusCode::UNAUTHORIZED)
        .header(http::header::CONTENT_TYPE, "application/json");
    if token_presented {
        builder = builder.header(
            http::header::WWW_AUTHENTICATE,
            format!("Bearer scope=\"\" error=\"invalid_token\" error_description=\"{refused}\""),
        );
    }
    builder
        .body(Body::from(r#"{"message":"Unauthorized"}"#))
        .expect("static response")
}

async fn serve(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request<Body>,
) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, MAX_REQUEST_BYTES).await {
        Ok(body) => body,
        Err(_) => {
            return gateway_error(StatusCode::PAYLOAD_TOO_LARGE);
        }
    };
    let started = std::time::Instant::now();
    let response = gateway
        .call(
            &parts.method,
            &parts.uri,
            &parts.headers,
            body,
            &peer.ip().to_string(),
        )
        .await;
    tracing::info!(
        method = %parts.method,
        path = %parts.uri.path(),
        status = response.status().as_u16(),
        ms = started.elapsed().as_millis() as u64,
        "request"
    );
    response
}

fn is_text(headers: &HeaderMap) -> bool {
    let ct = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    ct.is_empty()
        || ct.starts_with("text/")
        || ct.contains("json")
        || ct.contains("xml")
        || ct.starts_with("application/x-www-form-urlencoded")
}

/// The payload-v2 event API Gateway would send for this request.
#[allow(clippy::too_many_arguments)]
fn event(
    route: &Route,
    params: &[(String, String)],
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
    claims: Option<BTreeMap<String, String>>,
    source_ip: &str,
    domain: &str,
) -> Value {
    // Repeated headers are joined with commas; cookies travel in their own array.
    let mut header_map: BTreeMap<String, String> = BTreeMap::new();
    let mut cookies = Vec::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        if name == http::header::COOKIE {
            cookies.extend(value.split(';').map(|c| c.trim().to_owned()));
            continue;
        }
        header_map
            .entry(name.as_str().to_owned())
            .and_modify(|v| {
                v.push(',');
                v.push_str(&value);
            })
            .or_insert(value);
    }
    let raw_query = uri.query().unwrap_or("");
    let mut query: BTreeMap<String, String> = BTreeMap::new();
    for pair in raw_query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        // API Gateway decodes queryStringParameters (`+` and %XX); rawQueryString stays raw.
        let (k, v) = (
            crate::template::percent_decode(&k.replace('+', " ")),
            crate::template::percent_decode(&v.replace('+', " ")),
        );
        query
            .entry(k)
            .and_modify(|e| {
                e.push(',');
                e.push_str(&v);
            })
            .or_insert(v);
    }
    let now = chrono::Utc::now();
    let user_agent = header_map.get("user-agent").cloned().unwrap_or_default();
    let (body_value, base64) = if body.is_empty() {
        (Value::Null, false)
    } else if is_text(headers) && std::str::from_utf8(body).is_ok() {
        (
            Value::String(String::from_utf8_lossy(body).into_owned()),
            false,
        )
    } else {
        (Value::String(STANDARD.encode(body)), true)
    };
    let mut context = json!({
        "accountId": "000000000000",
        "apiId": "local",
        "domainName": domain,
        "domainPrefix": domain.split(['.', ':']).next().unwrap_or("localhost"),
        "http": {
            "method": method.as_str(),
            "path": uri.path(),
            "protocol": "HTTP/1.1",
            "sourceIp": source_ip,
            "userAgent": user_agent,
        },
        "requestId": uuid::Uuid::new_v4().to_string(),
        "routeKey": route.key(),
        "stage": "$default",
        "time": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
        "timeEpoch": now.timestamp_millis(),
    });
    if let Some(claims) = claims {
        context["authorizer"] = json!({ "jwt": { "claims": claims, "scopes": null } });
    }
    let mut event = json!({
        "version": "2.0",
        "routeKey": route.key(),
        "rawPath": uri.path(),
        "rawQueryString": raw_query,
        "headers": header_map,
        "requestContext": context,
        "isBase64Encoded": base64,
    });
    if !cookies.is_empty() {
        event["cookies"] = json!(cookies);
    }
    if !query.is_empty() {
        event["queryStringParameters"] = json!(query);
    }
    if !params.is_empty() {
        event["pathParameters"] = json!(params.iter().cloned().collect::<BTreeMap<_, _>>());
    }
    if !body_value.is_null() {
        event["body"] = body_value;
    }
    event
}

/// Turns the Lambda response (payload v2) into an HTTP response.
fn lambda_response(response: &Value) -> Response<Body> {
    let status = response
        .get("statusCode")
        .and_then(Value::as_u64)
        .and_then(|s| StatusCode::from_u16(s as u16).ok())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut builder = Response::builder().status(status);
    // Payload format 2.0 responses use `headers` (values comma-joined) and `cookies`;
    // API Gateway ignores `multiValueHeaders` there, and so does the runner.
    for (name, value) in response
        .get("headers")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        if let Some(value) = value.as_str() {
            builder = builder.header(name.as_str(), value);
        }
    }
    for cookie in response
        .get("cookies")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(cookie) = cookie.as_str().and_then(|c| HeaderValue::from_str(c).ok()) {
            builder = builder.header(http::header::SET_COOKIE, cookie);
        }
    }
    let body = match response.get("body").and_then(Value::as_str) {
        None => Body::empty(),
        Some(text) if response.get("isBase64Encoded").and_then(Value::as_bool) == Some(true) => {
            Body::from(STANDARD.decode(text).unwrap_or_default())
        }
        Some(text) => Body::from(text.to_owned()),
    };
    builder
        .body(body)
        .unwrap_or_else(|_| gateway_error(StatusCode::INTERNAL_SERVER_ERROR))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = r#"
Globals:
  Function:
    Timeout: 10
Resources:
  Slow:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: slow}}
    Properties:
      Events: {Get: {Type: HttpApi, Properties: {Path: /slow, Method: GET, Auth: {Authorizer: NONE}}}}
  Patient:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: patient}}
    Properties:
      Timeout: 900
      Events: {Get: {Type: HttpApi, Properties: {Path: /patient, Method: GET, Auth: {Authorizer: NONE}}}}
  Big:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: big}}
    Properties:
      Events: {Get: {Type: HttpApi, Properties: {Path: "/big/{size}", Method: GET, Auth: {Authorizer: NONE}}}}
"#;

    fn sleeper(seconds: u64) -> HttpFunction {
        Arc::new(move |_| {
            Box::pin(async move {
                tokio::time::sleep(Duration::from_secs(seconds)).await;
                Ok(json!({"statusCode": 200, "body": "late"}))
            })
        })
    }

    fn gateway() -> Gateway {
        let big: HttpFunction = Arc::new(|event: Value| {
            Box::pin(async move {
                let size: usize = event["pathParameters"]["size"]
                    .as_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                Ok(json!({"statusCode": 200, "body": "x".repeat(size)}))
            })
        });
        let functions = HashMap::from([
            ("slow", sleeper(11)),
            ("patient", sleeper(31)),
            ("big", big),
        ]);
        let authorizer = JwtAuthorizer {
            issuer: "https://issuer.test".into(),
            audiences: vec!["careflow-api".into()],
        };
        Gateway::new(
            Template::parse(TEMPLATE).unwrap(),
            functions,
            authorizer,
            "localhost".into(),
        )
        .unwrap()
    }

    async fn get(gateway: &Gateway, path: &str) -> (u16, Value) {
        let uri: Uri = path.parse().unwrap();
        let response = gateway
            .call(
                &Method::GET,
                &uri,
                &HeaderMap::new(),
                Bytes::new(),
                "127.0.0.1",
            )
            .await;
        let status = response.status().as_u16();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    /// Lambda stops a function at its own timeout (500); API Gateway stops waiting after 30 s
    /// (503), however long the function may run.
    #[tokio::test(start_paused = true)]
    async fn timeouts_end_as_api_gateway_ends_them() {
        let gateway = gateway();
        assert_eq!(
            get(&gateway, "/slow").await,
            (500, json!({"message": "Internal Server Error"}))
        );
        assert_eq!(
            get(&gateway, "/patient").await,
            (503, json!({"message": "Service Unavailable"}))
        );
    }

    /// A response whose Lambda JSON is over 6 MB never reaches the client.
    #[tokio::test]
    async fn responses_over_six_megabytes_fail_like_lambda() {
        let gateway = gateway();
        let fits = MAX_LAMBDA_RESPONSE_BYTES - 100;
        assert_eq!(get(&gateway, &format!("/big/{fits}")).await.0, 200);
        let over = MAX_LAMBDA_RESPONSE_BYTES;
        assert_eq!(
            get(&gateway, &format!("/big/{over}")).await,
            (500, json!({"message": "Internal Server Error"}))
        );
        assert_eq!(
            get(&gateway, "/nowhere").await,
            (404, json!({"message": "Not Found"}))
        );
    }
}
