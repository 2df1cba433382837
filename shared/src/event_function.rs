//! `main` of an event-triggered function (Kafka, S3, schedule, deploy step), beside
//! [`crate::http::start`] for HTTP ones: one Lambda loop, one mapping of errors to what Lambda
//! records.

use std::future::Future;

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Runs the Lambda loop: each event's payload goes to `handle`. An error fails the invocation
/// (so Lambda retries it, or the event source redelivers) as `error_type`, with a description
/// that names no patient data ([`crate::Error::safe_description`]).
pub async fn run<E, R, F, Fut>(
    error_type: &'static str,
    handle: F,
) -> Result<(), lambda_runtime::Error>
where
    E: DeserializeOwned + Send + 'static,
    R: Serialize,
    F: Fn(E) -> Fut,
    Fut: Future<Output = crate::Result<R>>,
{
    let handle = &handle;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<E>| async move {
        handle(event.payload).await.map_err(|e| Diagnostic {
            error_type: error_type.into(),
            error_message: e.safe_description(),
        })
    }))
    .await
}
