//! Patient records in one DynamoDB table (single-table design).
//!
//! Keys, all strings:
//! - profile: `pk = PATIENT#{patient_id}`, `sk = PROFILE`; listed through `gsi1` with
//!   `gsi1pk = PATIENTS`, `gsi1sk = {lower-cased full name}#{patient_id}` (name order, prefix
//!   search, and a total order so pagination never skips or repeats a profile);
//! - history: `pk = PATIENT#{patient_id}`, `sk = HISTORY#{recorded_at}#{entry_id}` (time order);
//! - lab report: `pk = PATIENT#{patient_id}`, `sk = LAB#{report_id}` (report ids are UUIDv7, so
//!   key order is upload order; the S3 key `lab-reports/{patient_id}/{report_id}.pdf` names the
//!   item directly): see `crate::lab::store`;
//! - audit: `pk = AUDIT#{patient_id}`, `sk = {at}#{event_id}`: one partition per patient, so
//!   an auditor queries a patient's whole trail with one key.
//!
//! Every change is written in one transaction with its audit item, so there is no change
//! without its audit record. Times in sort keys are fixed-width RFC 3339 so they sort as text.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Put, PutRequest, TransactWriteItem, WriteRequest,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{AuditEvent, HistoryEntry, PatientProfile};
use crate::config::{ConfigError, Vars};
use crate::dynamo::{Item, decode_cursor, from_item, page, s, sdk_error, to_item, transact};
use crate::pagination::Page;
use crate::{Error, Result};

pub(crate) const PROFILE_SK: &str = "PROFILE";
const PATIENTS: &str = "PATIENTS";
const GSI1: &str = "gsi1";

pub(crate) fn patient_pk(id: Uuid) -> String {
    format!("PATIENT#{id}")
}

pub(crate) fn audit_pk(id: Uuid) -> String {
    format!("AUDIT#{id}")
}

/// The most profiles one page of a doctor's list reads (a page may then hold fewer than its
/// limit, with a cursor).
const PROFILES_EXAMINED_MAX: usize = 300;

/// A doctor's list pages by patient id: the cursor is the last id examined.
fn encode_id_cursor(id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(format!("patient|{id}"))
}

fn decode_id_cursor(cursor: Option<&str>) -> Result<Option<Uuid>> {
    let Some(cursor) = cursor else {
        return Ok(None);
    };
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|t| t.strip_prefix("patient|").and_then(|id| id.parse().ok()))
        .map(Some)
        .ok_or_else(|| Error::invalid("cursor", "is not a cursor this list returned"))
}

pub(crate) fn sortable_time(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// The records table.
#[derive(Clone, Debug)]
pub struct RecordsTable {
    client: Client,
    table: String,
}

impl RecordsTable {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Reads `CAREFLOW_TABLE`; the SDK honours `AWS_ENDPOINT_URL` (the local emulator).
    pub async fn from_vars(vars: &Vars) -> Result<Self, ConfigError> {
        let table = vars.required("CAREFLOW_TABLE")?;
        let sdk = vars.aws().await;
        Ok(Self::new(Client::new(&sdk), table))
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table_name(&self) -> &str {
        &self.table
    }

    fn profile_item(profile: &PatientProfile) -> Result<Item> {
        to_item(
            profile,
            &[
                ("pk", patient_pk(profile.patient_id)),
                ("sk", PROFILE_SK.to_owned()),
                ("gsi1pk", PATIENTS.to_owned()),
                (
                    "gsi1sk",
                    format!(
                        "{}#{}",
                        profile.fields.full_name.to_lowercase(),
                        profile.patient_id
                    ),
                ),
            ],
        )
    }

    pub(crate) fn audit_item(event: &AuditEvent) -> Result<Item> {
        to_item(
            event,
            &[
                ("pk", audit_pk(event.patient_id)),
                (
                    "sk",
                    format!("{}#{}", sortable_time(&event.at), event.event_id),
                ),
            ],
        )
    }

    pub(crate) fn put(&self, item: Item, condition: Option<&str>) -> Result<TransactWriteItem> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .set_condition_expression(condition.map(str::to_owned))
            .build()
            .map_err(Error::internal)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Creates a profile; 409 if the patient has one already.
    pub async fn create_profile(&self, profile: &PatientProfile, audit: &AuditEvent) -> Result<()> {
        let items = vec![
            self.put(
                Self::profile_item(profile)?,
                Some("attribute_not_exists(pk)"),
            )?,
            self.put(Self::audit_item(audit)?, None)?,
        ];
        transact(&self.client, items, |_| Error::Conflict {
            code: "profile-exists",
            message: "this patient already has a profile".into(),
        })
        .await
    }

    /// Replaces a profile if it is still at `expected_version`; 412 otherwise.
    pub async fn replace_profile(
        &self,
        profile: &PatientProfile,
        expected_version: u64,
        audit: &AuditEvent,
    ) -> Result<()> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(Self::profile_item(profile)?))
            .condition_expression("attribute_exists(pk) AND #version = :expected")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(
                ":expected",
                AttributeValue::N(expected_version.to_string()),
            )
            .build()
            .map_err(Error::internal)?;
        let items = vec![
            TransactWriteItem::builder().put(put).build(),
            self.put(Self::audit_item(audit)?, None)?,
        ];
        transact(&self.client, items, |_| {
            Error::PreconditionFailed(
                "the profile changed since you read it; read it again and retry".into(),
            )
        })
        .await
    }

    /// A profile by patient id (strongly consistent).
    pub async fn get_profile(&self, patient_id: Uuid) -> Result<Option<PatientProfile>> {
        self.get(patient_pk(patient_id), PROFILE_SK.to_owned())
            .await
    }

    /// One item by its key, strongly consistent.
    pub(crate) async fn get<T: serde::de::DeserializeOwned>(
        &self,
        pk: String,
        sk: String,
    ) -> Result<Option<T>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        out.item.map(from_item).transpose()
    }

    /// A page of the items of partition `pk` whose sort key starts with `prefix`, newest
    /// (highest key) first.
    pub(crate) async fn newest_first<T: serde::de::DeserializeOwned>(
        &self,
        pk: String,
        prefix: &str,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<T>> {
        let start = decode_cursor(cursor, &["pk", "sk"], |k| {
            k["pk"] == pk && k["sk"].starts_with(prefix)
        })?;
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":prefix", s(prefix))
            .scan_index_forward(false)
            .limit(limit as i32)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(sdk_error)?;
        page(out.last_evaluated_key, out.items)
    }

    /// A page of the items under one `gsi1pk` of the index, in key order (`forward`) or newest
    /// first; the cursor must name a patient item of that partition.
    pub(crate) async fn index_page<T: serde::de::DeserializeOwned>(
        &self,
        gsi1pk: &str,
        forward: bool,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<T>> {
        let start = decode_cursor(cursor, &["pk", "sk", "gsi1pk", "gsi1sk"], |k| {
            k["gsi1pk"] == gsi1pk && k["pk"].starts_with("PATIENT#")
        })?;
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI1)
            .key_condition_expression("gsi1pk = :pk")
            .expression_attribute_values(":pk", s(gsi1pk))
            .scan_index_forward(forward)
            .limit(limit as i32)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(sdk_error)?;
        page(out.last_evaluated_key, out.items)
    }

    /// A transaction item that holds only while `patient_id` has a profile.
    pub(crate) fn profile_exists(&self, patient_id: Uuid) -> Result<TransactWriteItem> {
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .key("pk", s(patient_pk(patient_id)))
            .key("sk", s(PROFILE_SK))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(Error::internal)?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }

    /// Profiles in name order, optionally those whose name starts with `name_prefix`.
    pub async fn list_profiles(
        &self,
        name_prefix: Option<&str>,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<PatientProfile>> {
        let prefix = name_prefix.map(str::to_lowercase);
        let start = decode_cursor(cursor, &["pk", "sk", "gsi1pk", "gsi1sk"], |k| {
            k["gsi1pk"] == PATIENTS
                && k["sk"] == PROFILE_SK
                && k["pk"].starts_with("PATIENT#")
                && prefix.as_deref().is_none_or(|p| k["gsi1sk"].starts_with(p))
        })?;
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI1)
            .expression_attribute_values(":p", s(PATIENTS))
            .limit(limit as i32)
            .set_exclusive_start_key(start);
        query = match name_prefix {
            Some(prefix) => query
                .key_condition_expression("gsi1pk = :p AND begins_with(gsi1sk, :prefix)")
                .expression_attribute_values(":prefix", s(prefix.to_lowercase())),
            None => query.key_condition_expression("gsi1pk = :p"),
        };
        let out = query.send().await.map_err(sdk_error)?;
        page(out.last_evaluated_key, out.items)
    }

    /// The profiles of `patients` (sorted ids) after the cursor's patient, in id order,
    /// optionally those whose name starts with `name_prefix`: a doctor's list. Reads them up to
    /// 100 at a time with BatchGetItem (strongly consistent), retrying unprocessed keys, and at
    /// most [`PROFILES_EXAMINED_MAX`] per page.
    pub async fn profiles_among(
        &self,
        patients: &[Uuid],
        name_prefix: Option<&str>,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<PatientProfile>> {
        let after = decode_id_cursor(cursor)?;
        let prefix = name_prefix.map(str::to_lowercase);
        let candidates: Vec<Uuid> = patients
            .iter()
            .copied()
            .filter(|p| after.is_none_or(|a| *p > a))
            .collect();
        let mut items = Vec::new();
        let mut examined = 0;
        'chunks: for chunk in candidates.chunks(limit.clamp(1, 100)) {
            // Bounded work per request: a prefix few of many patients match answers a short
            // page with a cursor rather than reading every profile at once.
            if examined >= PROFILES_EXAMINED_MAX {
                break;
            }
            let mut found = self.batch_profiles(chunk).await?;
            for id in chunk {
                examined += 1;
                let Some(profile) = found.remove(id) else {
                    continue;
                };
                if prefix
                    .as_deref()
                    .is_none_or(|p| profile.fields.full_name.to_lowercase().starts_with(p))
                {
                    items.push(profile);
                    if items.len() == limit {
                        break 'chunks;
                    }
                }
            }
        }
        let next_cursor = (examined < candidates.len())
            .then(|| candidates[examined - 1])
            .map(encode_id_cursor);
        Ok(Page { items, next_cursor })
    }

    async fn batch_profiles(
        &self,
        ids: &[Uuid],
    ) -> Result<std::collections::HashMap<Uuid, PatientProfile>> {
        use aws_sdk_dynamodb::types::KeysAndAttributes;
        let mut keys: Vec<Item> = ids
            .iter()
            .map(|id| {
                [("pk", patient_pk(*id)), ("sk", PROFILE_SK.to_owned())]
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), s(v)))
                    .collect()
            })
            .collect();
        let mut found = std::collections::HashMap::new();
        for attempt in 0..5u32 {
            if keys.is_empty() {
                return Ok(found);
            }
            let request = KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut keys)))
                .consistent_read(true)
                .build()
                .map_err(Error::internal)?;
            let out = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(sdk_error)?;
            for item in out
                .responses
                .and_then(|mut r| r.remove(&self.table))
                .unwrap_or_default()
            {
                let profile: PatientProfile = from_item(item)?;
                found.insert(profile.patient_id, profile);
            }
            keys = out
                .unprocessed_keys
                .and_then(|mut m| m.remove(&self.table))
                .map(|k| k.keys)
                .unwrap_or_default();
            if !keys.is_empty() {
                tokio::time::sleep(std::time::Duration::from_millis(20 << attempt)).await;
            }
        }
        if keys.is_empty() {
            Ok(found)
        } else {
            Err(Error::Unavailable("profiles were not all read".into()))
        }
    }

    /// Adds a history entry to an existing profile; 404 if there is no profile.
    pub async fn add_history(&self, entry: &HistoryEntry, audit: &AuditEvent) -> Result<()> {
        let item = to_item(
            entry,
            &[
                ("pk", patient_pk(entry.patient_id)),
                (
                    "sk",
                    format!(
                        "HISTORY#{}#{}",
                        sortable_time(&entry.recorded_at),
                        entry.entry_id
                    ),
                ),
            ],
        )?;
        let items = vec![
            self.profile_exists(entry.patient_id)?,
            self.put(item, Some("attribute_not_exists(pk)"))?,
            self.put(Self::audit_item(audit)?, None)?,
        ];
        transact(&self.client, items, |failed| match failed {
            0 => Error::NotFound("patient"),
            // A second entry with the same time and UUIDv4: not the caller's fault; retryable.
            _ => Error::Unavailable("history entry id collision".into()),
        })
        .await
    }

    /// A patient's history, newest first.
    pub async fn list_history(
        &self,
        patient_id: Uuid,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<HistoryEntry>> {
        self.newest_first(patient_pk(patient_id), "HISTORY#", limit, cursor)
            .await
    }

    /// Records audit events outside a change (reads, denials), 25 per batch, retrying
    /// unprocessed items.
    pub async fn record(&self, events: &[AuditEvent]) -> Result<()> {
        for chunk in events.chunks(25) {
            let mut requests: Vec<WriteRequest> = chunk
                .iter()
                .map(|e| {
                    let put = PutRequest::builder()
                        .set_item(Some(Self::audit_item(e)?))
                        .build()
                        .map_err(Error::internal)?;
                    Ok(WriteRequest::builder().put_request(put).build())
                })
                .collect::<Result<_>>()?;
            for attempt in 0..5u32 {
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(sdk_error)?;
                requests = out
                    .unprocessed_items
                    .and_then(|mut m| m.remove(&self.table))
                    .unwrap_or_default();
                if requests.is_empty() {
                    break;
                }
                if attempt == 4 {
                    return Err(Error::Unavailable(
                        "audit records were not all written".into(),
                    ));
                }
                tokio::time::sleep(std::time::Duration::from_millis(20 << attempt)).await;
            }
        }
        Ok(())
    }

    /// A patient's audit trail, oldest first: what an auditor queries.
    pub async fn audit_trail(
        &self,
        patient_id: Uuid,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<AuditEvent>> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(audit_pk(patient_id)))
            .limit(limit as i32)
            .set_exclusive_start_key(decode_cursor(cursor, &["pk", "sk"], |k| {
                k["pk"] == audit_pk(patient_id)
            })?)
            .send()
            .await
            .map_err(sdk_error)?;
        page(out.last_evaluated_key, out.items)
    }
}
