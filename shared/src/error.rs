//! The one error type of the domain, and its problem+json rendering (RFC 9457).
//!
//! Every fallible domain operation returns [`Error`]; the HTTP layer turns it into a response
//! once, so handlers never hand-build error bodies and internals never reach a client.

use serde::Serialize;

/// A boxed source error for failures that are not the caller's fault.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A field of the request is missing, malformed or out of range (400).
    #[error("invalid field `{field}`: {message}")]
    InvalidField { field: String, message: String },
    /// No credentials, or credentials that do not verify (401).
    #[error("unauthenticated: {0}")]
    Unauthenticated(String),
    /// Authenticated, but not allowed to do this (403).
    #[error("forbidden")]
    Forbidden,
    /// The thing does not exist, or the caller may not know that it does (404).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The request conflicts with the current state, e.g. a duplicate e-mail (409).
    #[error("conflict: {message}")]
    Conflict { code: &'static str, message: String },
    /// The version the client read is no longer current (412).
    #[error("precondition failed: {0}")]
    PreconditionFailed(String),
    /// A conditional request without its condition, e.g. a PATCH without `If-Match` (428).
    #[error("precondition required")]
    PreconditionRequired,
    /// The body is larger than the endpoint accepts (413).
    #[error("payload larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// Well-formed but impossible to process, e.g. an unreadable PDF (422).
    #[error("unprocessable: {0}")]
    Unprocessable(String),
    /// Too many attempts: the caller may try again after this many seconds (429).
    #[error("too many attempts; retry after {retry_after_seconds} s")]
    TooManyRequests { retry_after_seconds: u64 },
    /// A dependency (database, broker) is unavailable; retrying later may work (503).
    #[error("service unavailable")]
    Unavailable(#[source] BoxError),
    /// Anything else: a bug or an unexpected failure (500). Never shown to the client.
    #[error("internal error")]
    Internal(#[source] BoxError),
}

impl Error {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::InvalidField {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn internal(source: impl Into<BoxError>) -> Self {
        Error::Internal(source.into())
    }

    /// A description for logs and operators: the error and its cause, with database errors
    /// reduced to SQLSTATE and constraint (their messages can quote row values).
    pub fn safe_description(&self) -> String {
        match self {
            Error::Internal(source) | Error::Unavailable(source) => {
                format!("{self}: {}", safe_cause(source.as_ref()))
            }
            other => other.to_string(),
        }
    }

    /// The HTTP status this error maps to.
    pub fn status(&self) -> u16 {
        match self {
            Error::InvalidField { .. } => 400,
            Error::Unauthenticated(_) => 401,
            Error::Forbidden => 403,
            Error::NotFound(_) => 404,
            Error::Conflict { .. } => 409,
            Error::PreconditionFailed(_) => 412,
            Error::PreconditionRequired => 428,
            Error::PayloadTooLarge { .. } => 413,
            Error::Unprocessable(_) => 422,
            Error::TooManyRequests { .. } => 429,
            Error::Unavailable(_) => 503,
            Error::Internal(_) => 500,
        }
    }

    /// The problem document for this error: stable `type`, a title, and a detail that never
    /// carries internals (server-side failures get a generic text).
    pub fn problem(&self) -> Problem {
        let status = self.status();
        let (slug, title, detail, field) = match self {
            Error::InvalidField { field, message } => (
                "invalid-field",
                "Invalid request field",
                Some(message.clone()),
                Some(field.clone()),
            ),
            Error::Unauthenticated(reason) => (
                "unauthenticated",
                "Authentication required",
                Some(reason.clone()),
                None,
            ),
            Error::Forbidden => ("forbidden", "Not allowed", None, None),
            Error::NotFound(what) => (
                "not-found",
                "Not found",
                Some(format!("{what} not found")),
                None,
            ),
            Error::Conflict { code, message } => (*code, "Conflict", Some(message.clone()), None),
            Error::PreconditionFailed(message) => (
                "precondition-failed",
                "Precondition failed",
                Some(message.clone()),
                None,
            ),
            Error::PreconditionRequired => (
                "precondition-required",
                "Precondition required",
                Some("send the ETag you read in If-Match".to_owned()),
                Some("if-match".to_owned()),
            ),
            Error::PayloadTooLarge { limit } => (
                "payload-too-large",
                "Payload too large",
                Some(format!("the body must be at most {limit} bytes")),
                Some("body".to_owned()),
            ),
            Error::Unprocessable(message) => (
                "unprocessable",
                "Unprocessable content",
                Some(message.clone()),
                None,
            ),
            Error::TooManyRequests {
                retry_after_seconds,
            } => (
                "too-many-requests",
                "Too many attempts",
                Some(format!("try again in {retry_after_seconds} s")),
                None,
            ),
            Error::Unavailable(_) => (
                "unavailable",
                "Service temporarily unavailable",
                Some("please retry later".to_owned()),
                None,
            ),
            Error::Internal(_) => ("internal", "Internal server error", None, None),
        };
        Problem {
            r#type: format!("{PROBLEM_TYPE_BASE}{slug}"),
            title: title.to_owned(),
            status,
            detail,
            field,
        }
    }
}

fn safe_cause(source: &(dyn std::error::Error + 'static)) -> String {
    #[cfg(feature = "postgres")]
    if let Some(pg) = source.downcast_ref::<tokio_postgres::Error>() {
        return match pg.as_db_error() {
            Some(db) => format!(
                "postgres error {} (constraint {})",
                db.code().code(),
                db.constraint().unwrap_or("-")
            ),
            None if pg.is_closed() => "postgres connection closed".to_owned(),
            None => "postgres client error".to_owned(),
        };
    }
    #[cfg(feature = "postgres")]
    if let Some(pool) = source.downcast_ref::<deadpool_postgres::PoolError>() {
        return match pool {
            deadpool_postgres::PoolError::Backend(pg) => safe_cause(pg),
            _ => "connection pool error".to_owned(),
        };
    }
    // Our own internal errors are plain messages written without data in them.
    source.to_string()
}

/// Problem types are relative URIs (RFC 9457 §3.1.1) documented in `openapi.yaml`.
pub const PROBLEM_TYPE_BASE: &str = "/problems/";

/// An `application/problem+json` document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Problem {
    pub r#type: String,
    pub title: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The request field that was wrong, when one was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_hide_their_source() {
        let err = Error::internal(std::io::Error::other("password=hunter2 at db-host"));
        let problem = err.problem();
        assert_eq!(problem.status, 500);
        let json = serde_json::to_string(&problem).unwrap();
        assert!(!json.contains("hunter2"), "{json}");
        assert!(!json.contains("db-host"), "{json}");
    }

    #[test]
    fn invalid_field_names_the_field() {
        let problem = Error::invalid("email", "not an e-mail address").problem();
        assert_eq!(problem.status, 400);
        assert_eq!(problem.field.as_deref(), Some("email"));
        assert_eq!(problem.r#type, "/problems/invalid-field");
    }
}
