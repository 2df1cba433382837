//! Patients: profiles, medical history, who may see them, and the audit trail of every access.
//!
//! The types here are the domain's; the DynamoDB layout lives only in [`store`].

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::auth::{Caller, Role};
use crate::validate::{self, bounded_text, optional_text, text_list};
use crate::{Error, Result};

#[cfg(feature = "dynamodb")]
pub mod care;
#[cfg(feature = "dynamodb")]
pub mod service;
#[cfg(feature = "dynamodb")]
pub mod store;

pub use crate::policy::Action;

pub const NAME_MAX: usize = 200;
pub const LIST_MAX: usize = 50;
pub const ALLERGY_MAX: usize = 100;
pub const MEDICATION_MAX: usize = 200;
pub const DIAGNOSIS_MAX: usize = 500;
pub const NOTES_MAX: usize = 4000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sex {
    Female,
    Male,
    Other,
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BloodType {
    #[serde(rename = "A+")]
    APositive,
    #[serde(rename = "A-")]
    ANegative,
    #[serde(rename = "B+")]
    BPositive,
    #[serde(rename = "B-")]
    BNegative,
    #[serde(rename = "AB+")]
    AbPositive,
    #[serde(rename = "AB-")]
    AbNegative,
    #[serde(rename = "O+")]
    OPositive,
    #[serde(rename = "O-")]
    ONegative,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Address {
    pub line1: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    pub city: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmergencyContact {
    pub name: String,
    pub phone: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relationship: Option<String>,
}

/// The part of a profile that people write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileFields {
    pub full_name: String,
    pub date_of_birth: NaiveDate,
    pub sex: Sex,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emergency_contact: Option<EmergencyContact>,
    #[serde(default)]
    pub allergies: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blood_type: Option<BloodType>,
}

/// Fields a client may send; anything else is refused by name.
const WRITABLE: &[&str] = &[
    "full_name",
    "date_of_birth",
    "sex",
    "phone",
    "email",
    "address",
    "emergency_contact",
    "allergies",
    "blood_type",
];

impl ProfileFields {
    /// Parses a client's JSON object, refusing unknown fields, then validates.
    pub fn from_json(object: Map<String, Value>, today: NaiveDate) -> Result<Self> {
        if let Some(unknown) = object.keys().find(|k| !WRITABLE.contains(&k.as_str())) {
            return Err(Error::invalid(unknown.clone(), "is not a profile field"));
        }
        let fields: ProfileFields = crate::json::from_value(Value::Object(object))?;
        fields.validated(today)
    }

    /// Checks every field and returns the normalised profile.
    pub fn validated(self, today: NaiveDate) -> Result<Self> {
        let address = match self.address {
            None => None,
            Some(a) => {
                let country = a.country.trim().to_ascii_uppercase();
                if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
                    return Err(Error::invalid(
                        "address.country",
                        "must be an ISO 3166-1 alpha-2 code",
                    ));
                }
                Some(Address {
                    line1: bounded_text("address.line1", &a.line1, 200)?,
                    line2: optional_text("address.line2", a.line2.as_deref(), 200)?,
                    city: bounded_text("address.city", &a.city, 100)?,
                    region: optional_text("address.region", a.region.as_deref(), 100)?,
                    postal_code: optional_text(
                        "address.postal_code",
                        a.postal_code.as_deref(),
                        20,
                    )?,
                    country,
                })
            }
        };
        let emergency_contact = match self.emergency_contact {
            None => None,
            Some(c) => Some(EmergencyContact {
                name: validate::name("emergency_contact.name", &c.name, NAME_MAX)?,
                phone: validate::phone("emergency_contact.phone", &c.phone)?,
                relationship: optional_text(
                    "emergency_contact.relationship",
                    c.relationship.as_deref(),
                    100,
                )?,
            }),
        };
        Ok(Self {
            full_name: validate::name("full_name", &self.full_name, NAME_MAX)?,
            date_of_birth: validate::birth_date("date_of_birth", self.date_of_birth, today)?,
            sex: self.sex,
            phone: self
                .phone
                .as_deref()
                .map(|p| validate::phone("phone", p))
                .transpose()?,
            email: self
                .email
                .as_deref()
                .map(|e| validate::normalize_email("email", e))
                .transpose()?,
            address,
            emergency_contact,
            allergies: text_list("allergies", &self.allergies, LIST_MAX, ALLERGY_MAX)?,
            blood_type: self.blood_type,
        })
    }

    /// Applies a JSON Merge Patch (RFC 7396) and validates the result. Ids, version and
    /// timestamps are not patchable; required fields cannot be cleared.
    pub fn patched(&self, patch: &Value, today: NaiveDate) -> Result<Self> {
        let Value::Object(patch_map) = patch else {
            return Err(Error::invalid(
                "body",
                "a merge patch must be a JSON object",
            ));
        };
        if patch_map.is_empty() {
            return Err(Error::invalid("body", "the patch changes nothing"));
        }
        for key in patch_map.keys() {
            if !WRITABLE.contains(&key.as_str()) {
                return Err(Error::invalid(key.clone(), "cannot be changed"));
            }
        }
        for required in ["full_name", "date_of_birth", "sex", "allergies"] {
            if patch_map.get(required).is_some_and(Value::is_null) {
                return Err(Error::invalid(required, "cannot be removed"));
            }
        }
        let mut doc = serde_json::to_value(self).map_err(Error::internal)?;
        crate::json::merge_patch(&mut doc, patch);
        let Value::Object(object) = doc else {
            return Err(Error::internal("profile is not an object"));
        };
        Self::from_json(object, today)
    }
}

/// A patient's profile as stored and shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatientProfile {
    pub patient_id: Uuid,
    #[serde(flatten)]
    pub fields: ProfileFields,
    /// Incremented by every change; the ETag, and what `If-Match` must carry.
    pub version: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl PatientProfile {
    pub fn etag(&self) -> String {
        format!("\"{}\"", self.version)
    }
}

/// Parses an `If-Match` header into the version it names (`"3"` or `W/"3"`).
pub fn parse_if_match(value: Option<&str>) -> Result<u64> {
    let raw = value.ok_or(Error::PreconditionRequired)?;
    raw.trim()
        .trim_start_matches("W/")
        .trim_matches('"')
        .parse::<u64>()
        .ok()
        .filter(|v| *v >= 1)
        .ok_or_else(|| Error::invalid("if-match", "must be the ETag of the profile, like \"3\""))
}

/// What a doctor or admin writes into a patient's history.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewHistoryEntry {
    pub diagnosis: String,
    #[serde(default)]
    pub notes: Option<String>,
    #[serde(default)]
    pub medications: Vec<String>,
    #[serde(default)]
    pub allergies: Vec<String>,
}

/// One immutable entry of a patient's medical history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub entry_id: Uuid,
    pub patient_id: Uuid,
    pub diagnosis: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    #[serde(default)]
    pub medications: Vec<String>,
    #[serde(default)]
    pub allergies: Vec<String>,
    pub author_id: Uuid,
    pub author_role: Role,
    pub recorded_at: DateTime<Utc>,
}

impl NewHistoryEntry {
    pub fn into_entry(
        self,
        patient_id: Uuid,
        author: &Caller,
        now: DateTime<Utc>,
    ) -> Result<HistoryEntry> {
        Ok(HistoryEntry {
            entry_id: Uuid::new_v4(),
            patient_id,
            diagnosis: bounded_text("diagnosis", &self.diagnosis, DIAGNOSIS_MAX)?,
            notes: optional_text("notes", self.notes.as_deref(), NOTES_MAX)?,
            medications: text_list("medications", &self.medications, LIST_MAX, MEDICATION_MAX)?,
            allergies: text_list("allergies", &self.allergies, LIST_MAX, ALLERGY_MAX)?,
            author_id: author.user_id,
            author_role: author.role,
            recorded_at: now,
        })
    }
}

/// One access to a patient's data, kept for auditors (who, what, which patient, when, outcome).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub event_id: Uuid,
    pub patient_id: Uuid,
    pub actor_id: Uuid,
    pub actor_role: Role,
    pub action: Action,
    pub outcome: Outcome,
    pub at: DateTime<Utc>,
    /// The break-the-glass grant this access relied on: an emergency access.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emergency_grant: Option<Uuid>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Allowed,
    Denied,
    NotFound,
}

impl AuditEvent {
    pub fn new(caller: &Caller, patient_id: Uuid, action: Action, outcome: Outcome) -> Self {
        Self {
            event_id: Uuid::new_v4(),
            patient_id,
            actor_id: caller.user_id,
            actor_role: caller.role,
            action,
            outcome,
            at: Utc::now(),
            emergency_grant: None,
        }
    }

    /// Marks the event with how the access came about (an emergency grant or not).
    pub fn under(mut self, access: crate::policy::Access) -> Self {
        self.emergency_grant = access.emergency_grant;
        self
    }

    /// Whether the access relied on a break-the-glass grant.
    pub fn is_emergency(&self) -> bool {
        self.emergency_grant.is_some()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()
    }

    fn base() -> ProfileFields {
        let body = json!({"full_name": " Jo Example ", "date_of_birth": "1990-04-01", "sex": "female",
                          "address": {"line1": "1 Example Street", "city": "Springfield", "country": "us"}});
        ProfileFields::from_json(body.as_object().unwrap().clone(), today()).unwrap()
    }

    #[test]
    fn profile_is_normalised_and_bad_fields_are_named() {
        let p = base();
        assert_eq!(p.full_name, "Jo Example");
        assert_eq!(p.address.as_ref().unwrap().country, "US");
        let cases = [
            (
                json!({"full_name": "X", "date_of_birth": "2099-01-01", "sex": "male"}),
                "date_of_birth",
            ),
            (
                json!({"full_name": "X", "date_of_birth": "1990-02-30", "sex": "male"}),
                "date_of_birth",
            ),
            (
                json!({"full_name": "X", "date_of_birth": "1990-02-03", "sex": "robot"}),
                "sex",
            ),
            (
                json!({"full_name": "X", "date_of_birth": "1990-02-03", "sex": "male", "phone": "123"}),
                "phone",
            ),
            (
                json!({"full_name": "X", "date_of_birth": "1990-02-03", "sex": "male", "blood_type": "C+"}),
                "blood_type",
            ),
            (
                json!({"full_name": "X", "date_of_birth": "1990-02-03", "sex": "male", "ssn": "1"}),
                "ssn",
            ),
            (
                json!({"full_name": "X", "date_of_birth": "1990-02-03", "sex": "male",
                    "address": {"line1": "a", "city": "b", "country": "USA"}}),
                "address.country",
            ),
            (
                json!({"date_of_birth": "1990-02-03", "sex": "male"}),
                "full_name",
            ),
        ];
        for (body, field) in cases {
            let err =
                ProfileFields::from_json(body.as_object().unwrap().clone(), today()).unwrap_err();
            assert_eq!(err.problem().field.as_deref(), Some(field), "{body}");
        }
    }

    #[test]
    fn merge_patch_changes_only_what_it_names() {
        let p = base();
        let patched = p
            .patched(
                &json!({"phone": "+15555550123", "address": {"city": "Shelbyville"}}),
                today(),
            )
            .unwrap();
        assert_eq!(patched.phone.as_deref(), Some("+15555550123"));
        assert_eq!(patched.address.as_ref().unwrap().city, "Shelbyville");
        assert_eq!(patched.address.as_ref().unwrap().line1, "1 Example Street");
        assert_eq!(patched.full_name, p.full_name);
        let cleared = patched.patched(&json!({"phone": null}), today()).unwrap();
        assert_eq!(cleared.phone, None);
        for (patch, field) in [
            (json!({"version": 9}), "version"),
            (json!({"full_name": null}), "full_name"),
            (json!({}), "body"),
            (json!({"sex": "x"}), "sex"),
        ] {
            let err = p.patched(&patch, today()).unwrap_err();
            assert_eq!(err.problem().field.as_deref(), Some(field), "{patch}");
        }
    }

    #[test]
    fn if_match_parsing() {
        assert_eq!(parse_if_match(Some("\"3\"")).unwrap(), 3);
        assert_eq!(parse_if_match(Some("W/\"3\"")).unwrap(), 3);
        assert_eq!(parse_if_match(None).unwrap_err().status(), 428);
        assert_eq!(parse_if_match(Some("abc")).unwrap_err().status(), 400);
        assert_eq!(parse_if_match(Some("\"0\"")).unwrap_err().status(), 400);
    }
}
