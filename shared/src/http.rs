//! lambda_http glue: typed request parsing, caller identity, and the single place where an
//! [`Error`] becomes an `application/problem+json` response.
//!
//! A function implements [`HttpHandler`]; `main` hands it to [`run`]. The local runner and the
//! tests drive the very same handler through [`invoke`], which goes through lambda_http's own
//! event adapter, so an API Gateway event is decoded exactly as it is in AWS.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use lambda_http::aws_lambda_events::apigw::ApiGatewayRequestAuthorizer;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response, Service, service_fn};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::auth::token::Verifier;
use crate::auth::{Caller, Claims};
use crate::config::{ConfigError, FromVars, Vars};
pub use crate::edge::Edge;
use crate::edge::ViewerAddress;
use crate::{Error, Result};

/// Bodies larger than this are refused with 413 unless an endpoint sets its own limit.
pub const DEFAULT_BODY_LIMIT: usize = 16 * 1024;

/// A CareFlow HTTP function.
pub trait HttpHandler: Send + Sync + 'static {
    fn handle(&self, req: Request) -> impl Future<Output = Result<Response<Body>>> + Send;
}

/// Runs the handler and turns any error into its problem response.
pub async fn respond<H: HttpHandler>(handler: &H, req: Request) -> Response<Body> {
    respond_through(&Edge::none(), handler, req).await
}

/// [`respond`] for a request that must have come through `edge` (403 when it went around it).
pub async fn respond_through<H: HttpHandler>(
    edge: &Edge,
    handler: &H,
    mut req: Request,
) -> Response<Body> {
    let handled = match edge.admit(&mut req) {
        Ok(()) => handler.handle(req).await,
        Err(refused) => Err(refused),
    };
    match handled {
        Ok(response) => response,
        Err(err) => {
            log_failure(&err);
            problem_response(&err)
        }
    }
}

/// The Lambda entry point of an HTTP function, admitting requests through `edge`.
pub async fn run<H: HttpHandler>(edge: Edge, handler: H) -> Result<(), lambda_http::Error> {
    let handler = Arc::new(handler);
    let edge = Arc::new(edge);
    lambda_http::run(service_fn(move |req: Request| {
        let handler = Arc::clone(&handler);
        let edge = Arc::clone(&edge);
        async move { Ok::<_, Infallible>(respond_through(&edge, &*handler, req).await) }
    }))
    .await
}

/// `main` of an HTTP function: telemetry, clients built once from the environment, then the
/// Lambda loop.
pub async fn start<H, F, Fut, E>(build: F) -> Result<(), lambda_http::Error>
where
    H: HttpHandler,
    F: FnOnce(crate::config::Vars) -> Fut,
    Fut: Future<Output = Result<H, E>>,
    E: std::error::Error + Send + Sync + 'static,
{
    crate::telemetry::init();
    let vars = crate::config::Vars::process();
    let edge =
        Edge::from_vars(&vars).inspect_err(|e| tracing::error!(error = %e, "cold start failed"))?;
    let handler = build(vars)
        .await
        .inspect_err(|e| tracing::error!(error = %e, "cold start failed"))?;
    run(edge, handler).await
}

/// Feeds one API Gateway event (any shape lambda_http accepts) to a handler and returns the
/// response event as Lambda would serialise it. Used by the local runner and the tests.
pub async fn invoke<H: HttpHandler>(
    handler: Arc<H>,
    event: serde_json::Value,
) -> Result<serde_json::Value> {
    invoke_through(Edge::none(), handler, event).await
}

/// [`invoke`] behind an edge: what a function deployed with CloudFront in front answers.
pub async fn invoke_through<H: HttpHandler>(
    edge: Edge,
    handler: Arc<H>,
    event: serde_json::Value,
) -> Result<serde_json::Value> {
    let edge = Arc::new(edge);
    let request: lambda_http::request::LambdaRequest = serde_json::from_value(event)
        .map_err(|e| Error::invalid("event", format!("not an API Gateway event: {e}")))?;
    let service = service_fn(move |req: Request| {
        let handler = Arc::clone(&handler);
        let edge = Arc::clone(&edge);
        async move { Ok::<_, Infallible>(respond_through(&edge, &*handler, req).await) }
    });
    let mut adapter = lambda_http::Adapter::from(service);
    let context = lambda_http::Context::default();
    let response = adapter
        .call(lambda_http::LambdaEvent::new(request, context))
        .await
        .unwrap_or_else(|never| match never {});
    serde_json::to_value(response).map_err(Error::internal)
}

/// Logs a failed request without patient data or secrets: client errors at debug, server
/// errors at error with their source reduced to something safe (database errors to SQLSTATE).
pub fn log_failure(err: &Error) {
    match err {
        Error::Internal(_) | Error::Unavailable(_) => {
            tracing::error!(status = err.status(), cause = %err.safe_description(), "request failed");
        }
        _ => {
            tracing::debug!(status = err.status(), problem = %err.problem().r#type, "request rejected")
        }
    }
}

/// The problem+json response for an error.
pub fn problem_response(err: &Error) -> Response<Body> {
    let problem = err.problem();
    let mut builder = Response::builder()
        .status(problem.status)
        .header("content-type", "application/problem+json")
        .header("cache-control", "no-store");
    if problem.status == 401 {
        builder = builder.header("www-authenticate", "Bearer");
    }
    if let Error::TooManyRequests {
        retry_after_seconds,
    } = err
    {
        builder = builder.header("retry-after", retry_after_seconds.to_string());
    }
    builder
        .body(Body::Text(
            serde_json::to_string(&problem).expect("problem serialises"),
        ))
        .expect("static response parts are valid")
}

/// A JSON response with `status`.
pub fn json<T: Serialize>(status: u16, value: &T) -> Result<Response<Body>> {
    let body = serde_json::to_string(value).map_err(Error::internal)?;
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::Text(body))
        .map_err(Error::internal)
}

/// A JSON response that must not be cached (tokens, personal data).
pub fn json_no_store<T: Serialize>(status: u16, value: &T) -> Result<Response<Body>> {
    let mut response = json(status, value)?;
    response
        .headers_mut()
        .insert("cache-control", http::HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Adds a header to a response built by [`json`] and friends.
pub fn with_header(
    mut response: Response<Body>,
    name: &'static str,
    value: &str,
) -> Result<Response<Body>> {
    let value = http::HeaderValue::from_str(value).map_err(Error::internal)?;
    response.headers_mut().insert(name, value);
    Ok(response)
}

/// A query parameter, if present.
pub fn query_param<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.query_string_parameters_ref()
        .and_then(|q| q.first(name))
}

/// A query parameter parsed with `FromStr`; a value that does not parse is a 400 naming the
/// parameter and saying what it must be (`what`: "a UUID").
pub fn query_parsed<T: std::str::FromStr>(
    req: &Request,
    name: &str,
    what: &str,
) -> Result<Option<T>> {
    query_param(req, name)
        .map(|v| {
            v.parse()
                .map_err(|_| Error::invalid(name, format!("must be {what}")))
        })
        .transpose()
}

/// A time from the query string: RFC 3339 with an offset, in the years 0001 to 9999 (what
/// RFC 3339 and the stores can hold); anything else is a 400 naming the parameter.
pub fn query_time(req: &Request, name: &str) -> Result<Option<chrono::DateTime<chrono::Utc>>> {
    query_param(req, name)
        .map(|v| parse_time(name, v))
        .transpose()
}

/// [`query_time`] for one value.
pub fn parse_time(name: &str, value: &str) -> Result<chrono::DateTime<chrono::Utc>> {
    use chrono::Datelike;
    let time = chrono::DateTime::parse_from_rfc3339(value)
        .map_err(|_| Error::invalid(name, "must be an RFC 3339 time, e.g. 2026-01-31T09:00:00Z"))?
        .with_timezone(&chrono::Utc);
    if !(1..=9999).contains(&time.year()) {
        return Err(Error::invalid(name, "must be in the years 0001 to 9999"));
    }
    Ok(time)
}

/// A request header as text, if present.
pub fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// An empty response (204 and friends).
pub fn empty(status: u16) -> Result<Response<Body>> {
    Response::builder()
        .status(status)
        .body(Body::Empty)
        .map_err(Error::internal)
}

/// Parses the JSON body into `T`, with errors that name the offending field.
///
/// Refuses a missing or non-JSON `content-type` (field `content-type`), bodies over `limit`
/// (413), malformed JSON (field `body`), and missing, unknown or mistyped fields (that field).
pub fn json_body<T: DeserializeOwned>(req: &Request, limit: usize) -> Result<T> {
    let content_type = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if essence != "application/json" && !essence.ends_with("+json") {
        return Err(Error::invalid("content-type", "must be application/json"));
    }
    let bytes: &[u8] = match req.body() {
        Body::Empty => b"",
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => b"",
    };
    if bytes.len() > limit {
        return Err(Error::PayloadTooLarge { limit });
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::invalid("body", "a JSON body is required"));
    }
    crate::json::from_slice(bytes)
}

/// Like [`json_body`], but an empty body (and no content type) means `T::default()`.
pub fn optional_json_body<T: DeserializeOwned + Default>(req: &Request, limit: usize) -> Result<T> {
    let empty = match req.body() {
        Body::Empty => true,
        Body::Text(text) => text.trim().is_empty(),
        Body::Binary(bytes) => bytes.iter().all(u8::is_ascii_whitespace),
        _ => true,
    };
    if empty {
        Ok(T::default())
    } else {
        json_body(req, limit)
    }
}

/// A path parameter, parsed; a bad value names the parameter.
pub fn path_param<T: std::str::FromStr>(req: &Request, name: &str) -> Result<T> {
    req.path_parameters_ref()
        .and_then(|p| p.first(name))
        .ok_or_else(|| Error::invalid(name, "is required"))?
        .parse()
        .map_err(|_| Error::invalid(name, "is malformed"))
}

/// A list request's page: `?limit=` (`default` when absent, 1 to 100) and `?cursor=`.
pub fn page_query(req: &Request, default: usize) -> Result<(usize, Option<&str>)> {
    let limit = crate::pagination::page_limit(query_param(req, "limit"), default, 100)?;
    Ok((limit, query_param(req, "cursor")))
}

/// What an HTTP function behind the JWT authorizer holds: the service it calls and the verifier
/// that turns a request's token into the caller. Built from the function's variables like any
/// part ([`FromVars`]).
pub struct Protected<S> {
    pub service: S,
    verifier: Verifier,
}

impl<S> Protected<S> {
    pub fn new(service: S, verifier: Verifier) -> Self {
        Self { service, verifier }
    }

    /// The caller the request's token names ([`authenticate`]).
    pub fn caller(&self, req: &Request) -> Result<Caller> {
        authenticate(req, &self.verifier)
    }
}

/// The service's own variables and the token settings (`CAREFLOW_JWT_*`).
impl<S: FromVars + Send> FromVars for Protected<S> {
    async fn build(vars: &Vars) -> std::result::Result<Self, ConfigError> {
        Ok(Self::new(S::build(vars).await?, Verifier::from_vars(vars)?))
    }
}

/// Authenticates the caller from the bearer token.
///
/// API Gateway's JWT authorizer has already verified the token in AWS; the handler verifies it
/// again (defence in depth: a misconfigured route or a direct invoke must not bypass auth) and
/// checks that the authorizer's view of the subject, when present, agrees.
pub fn authenticate(req: &Request, verifier: &Verifier) -> Result<Caller> {
    let claims = bearer_claims(req, verifier)?;
    if authorizer_subject(req).is_some_and(|sub| sub != claims.sub.to_string()) {
        return Err(Error::Unauthenticated(
            "token does not match the authorizer".into(),
        ));
    }
    crate::policy::session_admissible(claims.role, &claims.amr)?;
    Ok(Caller {
        user_id: claims.sub,
        role: claims.role,
    })
}

fn bearer_claims(req: &Request, verifier: &Verifier) -> Result<Claims> {
    let header = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .ok_or_else(|| Error::Unauthenticated("missing bearer token".into()))?
        .to_str()
        .map_err(|_| Error::Unauthenticated("malformed authorization header".into()))?;
    let token = bearer_token(header)
        .ok_or_else(|| Error::Unauthenticated("authorization must be a bearer token".into()))?;
    verifier.verify(token)
}

/// The token of an `Authorization: Bearer …` header value.
pub fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The client's address: the viewer's when the request came through the edge
/// ([`crate::edge`]), otherwise as API Gateway saw it (`requestContext.http.sourceIp`).
pub fn client_ip(req: &Request) -> Option<std::net::IpAddr> {
    if let Some(ViewerAddress(viewer)) = req.extensions().get::<ViewerAddress>() {
        return Some(*viewer);
    }
    let RequestContext::ApiGatewayV2(ctx) = req.request_context_ref()? else {
        return None;
    };
    ctx.http.source_ip.as_deref()?.parse().ok()
}

fn authorizer_subject(req: &Request) -> Option<String> {
    let RequestContext::ApiGatewayV2(ctx) = req.request_context_ref()? else {
        return None;
    };
    let authorizer: &ApiGatewayRequestAuthorizer = ctx.authorizer.as_ref()?;
    let claims = &authorizer.jwt.as_ref()?.claims;
    claims.get("sub").cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body2 {
        email: String,
        age: u8,
    }

    fn request(content_type: Option<&str>, body: &str) -> Request {
        let mut builder = http::Request::builder().method("POST").uri("/x");
        if let Some(ct) = content_type {
            builder = builder.header("content-type", ct);
        }
        builder.body(Body::Text(body.to_owned())).unwrap()
    }

    fn field_of(result: Result<Body2>) -> String {
        result.unwrap_err().problem().field.unwrap_or_default()
    }

    #[test]
    fn body_errors_name_the_field() {
        let limit = DEFAULT_BODY_LIMIT;
        let ok = json_body::<Body2>(
            &request(
                Some("application/json; charset=utf-8"),
                r#"{"email":"a","age":3}"#,
            ),
            limit,
        );
        assert!(ok.is_ok());
        assert_eq!(
            field_of(json_body(&request(None, "{}"), limit)),
            "content-type"
        );
        assert_eq!(
            field_of(json_body(&request(Some("text/plain"), "{}"), limit)),
            "content-type"
        );
        assert_eq!(
            field_of(json_body(
                &request(Some("application/json"), "{\"email\":"),
                limit
            )),
            "body"
        );
        assert_eq!(
            field_of(json_body(
                &request(Some("application/json"), r#"{"age":3}"#),
                limit
            )),
            "email"
        );
        assert_eq!(
            field_of(json_body(
                &request(Some("application/json"), r#"{"email":"a","age":300}"#),
                limit
            )),
            "age"
        );
        assert_eq!(
            field_of(json_body(
                &request(
                    Some("application/json"),
                    r#"{"email":"a","age":3,"admin":true}"#
                ),
                limit
            )),
            "admin"
        );
        let big = format!(r#"{{"email":"{}","age":1}}"#, "a".repeat(100));
        let err = json_body::<Body2>(&request(Some("application/json"), &big), 50).unwrap_err();
        assert_eq!(err.status(), 413);
    }

    #[test]
    fn bearer_parsing() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer  abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
    }
}
