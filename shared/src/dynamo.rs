//! Generic DynamoDB pieces every store uses: items, SDK errors mapped once, opaque cursors that
//! are checked against the list they page, and one transaction call that says which condition
//! failed.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::pagination::Page;
use crate::{Error, Result};

pub type Item = HashMap<String, AttributeValue>;

pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// Maps SDK failures: throttling, server errors and transport problems are retryable (503),
/// the rest 500.
pub fn sdk_error<E>(err: SdkError<E, HttpResponse>) -> Error
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
{
    let throttled = err
        .as_service_error()
        .and_then(|e| e.code())
        .is_some_and(|code| {
            matches!(
                code,
                "ProvisionedThroughputExceededException"
                    | "ThrottlingException"
                    | "RequestLimitExceeded"
                    | "InternalServerError"
            )
        });
    let server_side = err
        .raw_response()
        .is_some_and(|r| r.status().is_server_error());
    let retryable = throttled
        || server_side
        || matches!(
            err,
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_)
        );
    let message = aws_sdk_dynamodb::error::DisplayErrorContext(err).to_string();
    if retryable {
        Error::Unavailable(message.into())
    } else {
        Error::Internal(message.into())
    }
}

pub fn to_item<T: Serialize>(value: &T, keys: &[(&str, String)]) -> Result<Item> {
    let mut item: Item = serde_dynamo::to_item(value).map_err(Error::internal)?;
    for (name, value) in keys {
        item.insert((*name).to_owned(), s(value.clone()));
    }
    Ok(item)
}

pub fn from_item<T: DeserializeOwned>(item: Item) -> Result<T> {
    serde_dynamo::from_item(item).map_err(Error::internal)
}

/// A query's items and continuation as a page of `T`.
pub fn page<T: DeserializeOwned>(
    last_key: Option<Item>,
    items: Option<Vec<Item>>,
) -> Result<Page<T>> {
    Ok(Page {
        next_cursor: encode_cursor(last_key.as_ref()),
        items: items
            .unwrap_or_default()
            .into_iter()
            .map(from_item)
            .collect::<Result<_>>()?,
    })
}

/// Encodes a LastEvaluatedKey (all our keys are strings) as an opaque cursor.
pub fn encode_cursor(key: Option<&Item>) -> Option<String> {
    let key = key?;
    let plain: HashMap<&str, &str> = key
        .iter()
        .filter_map(|(k, v)| v.as_s().ok().map(|v| (k.as_str(), v.as_str())))
        .collect();
    Some(URL_SAFE_NO_PAD.encode(serde_json::to_vec(&plain).ok()?))
}

/// The longest key value DynamoDB accepts (a sort key's 1,024 bytes; partition keys allow 2,048).
const KEY_VALUE_MAX_BYTES: usize = 1024;

/// Decodes a cursor, accepting only the key attributes `expected` (and nothing else), each a
/// non-empty string DynamoDB can hold, for which `in_list` holds: a start key outside the
/// query's partition is one DynamoDB refuses, so a forged cursor is a 400, never a store error.
pub fn decode_cursor(
    cursor: Option<&str>,
    expected: &[&str],
    in_list: impl Fn(&HashMap<String, String>) -> bool,
) -> Result<Option<Item>> {
    let Some(cursor) = cursor else {
        return Ok(None);
    };
    let bad = || Error::invalid("cursor", "is not a cursor this list returned");
    if cursor.len() > 8 * KEY_VALUE_MAX_BYTES {
        return Err(bad());
    }
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let plain: HashMap<String, String> = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if plain.len() != expected.len() || !expected.iter().all(|k| plain.contains_key(*k)) {
        return Err(bad());
    }
    if plain
        .values()
        .any(|v| v.is_empty() || v.len() > KEY_VALUE_MAX_BYTES)
        || !in_list(&plain)
    {
        return Err(bad());
    }
    Ok(Some(plain.into_iter().map(|(k, v)| (k, s(v))).collect()))
}

pub fn transaction_conflict<E, R>(err: &SdkError<E, R>) -> Option<usize>
where
    E: ProvideCancellation,
{
    err.as_service_error()?.failed_condition()
}

/// Whether a transaction was cancelled because another one held its items.
fn concurrent_transaction<R>(
    err: &SdkError<aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError, R>,
) -> bool {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError as E;
    match err.as_service_error() {
        Some(E::TransactionCanceledException(e)) => e
            .cancellation_reasons()
            .iter()
            .any(|r| r.code() == Some("TransactionConflict")),
        _ => false,
    }
}

/// The index of the first transaction item whose condition failed, if that is why it failed.
pub trait ProvideCancellation {
    fn failed_condition(&self) -> Option<usize>;
}

impl ProvideCancellation
    for aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError
{
    fn failed_condition(&self) -> Option<usize> {
        match self {
            Self::TransactionCanceledException(e) => e
                .cancellation_reasons()
                .iter()
                .position(|r| r.code() == Some("ConditionalCheckFailed")),
            _ => None,
        }
    }
}

/// Writes `items` in one transaction. When the condition of item `i` fails, the answer is
/// `on_condition_failed(i)` (a 404, 409 or 412 the caller chooses); any other failure is mapped
/// by [`sdk_error`].
pub async fn transact(
    client: &Client,
    items: Vec<TransactWriteItem>,
    on_condition_failed: impl Fn(usize) -> Error,
) -> Result<()> {
    match client
        .transact_write_items()
        .set_transact_items(Some(items))
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) => match transaction_conflict(&e) {
            Some(i) => Err(on_condition_failed(i)),
            // Another transaction on the same items at the same moment: worth a retry (503),
            // not a server fault.
            None if concurrent_transaction(&e) => Err(Error::Unavailable(
                "a concurrent change to the same records; retry".into(),
            )),
            None => Err(sdk_error(e)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_foreign_shapes() {
        let key: Item = [
            ("pk", "PATIENT#1"),
            ("sk", "PROFILE"),
            ("gsi1pk", "PATIENTS"),
            ("gsi1sk", "jo#1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), s(v)))
        .collect();
        let cursor = encode_cursor(Some(&key)).unwrap();
        let any = |_: &HashMap<String, String>| true;
        let back = decode_cursor(Some(&cursor), &["pk", "sk", "gsi1pk", "gsi1sk"], any)
            .unwrap()
            .unwrap();
        assert_eq!(back, key);
        assert!(decode_cursor(Some(&cursor), &["pk", "sk"], any).is_err());
        assert!(decode_cursor(Some("!!"), &["pk", "sk"], any).is_err());
        assert!(decode_cursor(None, &["pk"], any).unwrap().is_none());
        let elsewhere = |k: &HashMap<String, String>| k["pk"] == "PATIENT#2";
        assert!(
            decode_cursor(Some(&cursor), &["pk", "sk", "gsi1pk", "gsi1sk"], elsewhere).is_err()
        );
    }
}
