//! The Kafka message schemas: one JSON envelope, typed payloads, and decoding that tells a
//! consumer exactly why a record cannot be used.
//!
//! Envelope: `{event_id, type, version, occurred_at, data}`. `event_id` is unique per event and
//! makes every consumer idempotent; `type` + `version` select the payload schema. A new,
//! incompatible payload gets a new version; consumers refuse versions they do not know (as
//! poison) rather than guess.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub mod analytics;
pub mod appointment;
pub mod time;

pub use appointment::{
    AppointmentAttended, AppointmentCancelled, AppointmentCreated, AppointmentEvent,
    AppointmentNoShow, AppointmentRescheduled, AttendanceRecorded,
};

/// Topic names.
pub const APPOINTMENTS_TOPIC: &str = "appointments";
pub const ANALYTICS_RESULTS_TOPIC: &str = "analytics-results";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope<T> {
    pub event_id: Uuid,
    #[serde(rename = "type")]
    pub event_type: String,
    pub version: u32,
    #[serde(deserialize_with = "time::deserialize")]
    pub occurred_at: DateTime<Utc>,
    pub data: T,
}

/// A payload that knows its envelope `type` and `version`.
pub trait EventPayload: Serialize + DeserializeOwned {
    const TYPE: &'static str;
    const VERSION: u32;

    fn envelope(self, occurred_at: DateTime<Utc>) -> Envelope<Self> {
        Envelope {
            event_id: Uuid::new_v4(),
            event_type: Self::TYPE.to_owned(),
            version: Self::VERSION,
            occurred_at,
            data: self,
        }
    }
}

/// Why a record could not be decoded. Every variant is permanent: retrying will not help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("not a CareFlow event envelope: {0}")]
    Malformed(String),
    #[error("unknown event type {event_type} version {version}")]
    Unknown { event_type: String, version: u32 },
    #[error("invalid {event_type} payload: {message}")]
    InvalidPayload { event_type: String, message: String },
}

/// The envelope with its payload still raw, to dispatch on `type` and `version`.
pub type RawEnvelope = Envelope<serde_json::Value>;

/// Parses the envelope of a record's value.
pub fn decode_envelope(bytes: &[u8]) -> Result<RawEnvelope, DecodeError> {
    serde_json::from_slice(bytes).map_err(|e| DecodeError::Malformed(e.to_string()))
}

/// A family of payloads one topic carries, chosen by the envelope's `type` and `version`.
pub trait EventSet: Sized {
    /// Whether `type` + `version` name one of the set's payloads.
    fn knows(event_type: &str, version: u32) -> bool;

    /// Deserializes `data` as the payload `type` + `version` name (one that [`Self::knows`]).
    fn payload<'de, D: serde::Deserializer<'de>>(
        event_type: &str,
        version: u32,
        data: D,
    ) -> Result<Self, D::Error>;
}

/// An envelope decoded with its typed payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded<E> {
    pub event_id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub event: E,
}

/// Decodes a record's value in one pass: the payload is deserialized straight from the bytes
/// into its type once `type` and `version` are known (they precede `data` in every envelope
/// CareFlow writes); an envelope with `data` first has its payload borrowed as raw JSON and
/// decoded after. Hot consumers use this instead of [`decode_envelope`] + a typed payload, which
/// builds a generic JSON tree and then walks it again.
///
/// It accepts what the two-pass route accepts, with two exceptions no CareFlow producer
/// writes: a key given twice inside `data` (a tree kept the last; here it is refused as an
/// invalid payload) and an envelope written as a JSON array. Refusals are classed as before,
/// except that broken JSON inside the `data` of a known type is an invalid payload (the payload
/// is read while the envelope is) and that `data` of an unknown type is skipped unchecked.
pub fn decode<E: EventSet>(bytes: &[u8]) -> Result<Decoded<E>, DecodeError> {
    let failed_payload = std::cell::Cell::new(None);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = serde::de::DeserializeSeed::deserialize(
        single_pass::EnvelopeSeed::<E>::new(&failed_payload),
        &mut de,
    )
    .and_then(|parsed| de.end().map(|()| parsed));
    let parsed = match parsed {
        Ok(parsed) => parsed,
        Err(e) => {
            return Err(match failed_payload.take() {
                Some(event_type) => DecodeError::InvalidPayload {
                    event_type,
                    message: e.to_string(),
                },
                None => DecodeError::Malformed(e.to_string()),
            });
        }
    };
    let event = match parsed.data {
        single_pass::Data::Typed(event) => event,
        single_pass::Data::Unknown => {
            return Err(DecodeError::Unknown {
                event_type: parsed.event_type,
                version: parsed.version,
            });
        }
        single_pass::Data::Raw(raw) => {
            if !E::knows(&parsed.event_type, parsed.version) {
                return Err(DecodeError::Unknown {
                    event_type: parsed.event_type,
                    version: parsed.version,
                });
            }
            let mut de = serde_json::Deserializer::from_str(raw.get());
            E::payload(&parsed.event_type, parsed.version, &mut de).map_err(|e| {
                DecodeError::InvalidPayload {
                    event_type: parsed.event_type.clone(),
                    message: e.to_string(),
                }
            })?
        }
    };
    Ok(Decoded {
        event_id: parsed.event_id,
        occurred_at: parsed.occurred_at,
        event,
    })
}

mod single_pass {
    //! The visitor behind [`super::decode`].

    use std::borrow::Cow;
    use std::cell::Cell;
    use std::fmt;
    use std::marker::PhantomData;

    use chrono::{DateTime, Utc};
    use serde::Deserialize;
    use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
    use serde_json::value::RawValue;
    use uuid::Uuid;

    use super::EventSet;

    pub(super) enum Data<'de, E> {
        Typed(E),
        /// `type` + `version` name no payload of the set.
        Unknown,
        /// `data` came before `type` or `version`.
        Raw(&'de RawValue),
    }

    pub(super) struct Parsed<'de, E> {
        pub event_id: Uuid,
        pub event_type: String,
        pub version: u32,
        pub occurred_at: DateTime<Utc>,
        pub data: Data<'de, E>,
    }

    #[derive(Deserialize)]
    #[serde(field_identifier, rename_all = "snake_case")]
    enum Field {
        EventId,
        #[serde(rename = "type")]
        Type,
        Version,
        OccurredAt,
        Data,
        #[serde(other)]
        Other,
    }

    /// A string borrowed from the input unless it has escapes.
    #[derive(Deserialize)]
    struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

    pub(super) struct EnvelopeSeed<'c, E> {
        /// Set to the event type when the payload failed to deserialize.
        failed_payload: &'c Cell<Option<String>>,
        set: PhantomData<E>,
    }

    impl<'c, E> EnvelopeSeed<'c, E> {
        pub(super) fn new(failed_payload: &'c Cell<Option<String>>) -> Self {
            Self {
                failed_payload,
                set: PhantomData,
            }
        }
    }

    impl<'de, E: EventSet> DeserializeSeed<'de> for EnvelopeSeed<'_, E> {
        type Value = Parsed<'de, E>;

        fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_map(self)
        }
    }

    impl<'de, E: EventSet> Visitor<'de> for EnvelopeSeed<'_, E> {
        type Value = Parsed<'de, E>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a CareFlow event envelope")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut event_id = None;
            let mut event_type: Option<Cow<'de, str>> = None;
            let mut version = None;
            let mut occurred_at = None;
            let mut data = None;
            fn once<T, E: de::Error>(slot: &Option<T>, name: &'static str) -> Result<(), E> {
                match slot {
                    Some(_) => Err(E::duplicate_field(name)),
                    None => Ok(()),
                }
            }
            while let Some(field) = map.next_key::<Field>()? {
                match field {
                    Field::EventId => {
                        once(&event_id, "event_id")?;
                        event_id = Some(map.next_value::<Uuid>()?);
                    }
                    Field::Type => {
                        once(&event_type, "type")?;
                        event_type = Some(map.next_value::<Text<'de>>()?.0);
                    }
                    Field::Version => {
                        once(&version, "version")?;
                        version = Some(map.next_value::<u32>()?);
                    }
                    Field::OccurredAt => {
                        once(&occurred_at, "occurred_at")?;
                        occurred_at = Some(map.next_value::<super::time::Timestamp>()?.0);
                    }
                    Field::Data => {
                        once(&data, "data")?;
                        data = Some(match (&event_type, version) {
                            (Some(t), Some(v)) if E::knows(t, v) => {
                                Data::Typed(map.next_value_seed(PayloadSeed {
                                    event_type: t,
                                    version: v,
                                    failed: self.failed_payload,
                                    set: PhantomData,
                                })?)
                            }
                            (Some(_), Some(_)) => {
                                map.next_value::<IgnoredAny>()?;
                                Data::Unknown
                            }
                            _ => Data::Raw(map.next_value::<&'de RawValue>()?),
                        });
                    }
                    Field::Other => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            Ok(Parsed {
                event_id: event_id.ok_or_else(|| de::Error::missing_field("event_id"))?,
                event_type: event_type
                    .ok_or_else(|| de::Error::missing_field("type"))?
                    .into_owned(),
                version: version.ok_or_else(|| de::Error::missing_field("version"))?,
                occurred_at: occurred_at.ok_or_else(|| de::Error::missing_field("occurred_at"))?,
                data: data.ok_or_else(|| de::Error::missing_field("data"))?,
            })
        }
    }

    struct PayloadSeed<'a, E> {
        event_type: &'a str,
        version: u32,
        failed: &'a Cell<Option<String>>,
        set: PhantomData<E>,
    }

    impl<'de, E: EventSet> DeserializeSeed<'de> for PayloadSeed<'_, E> {
        type Value = E;

        fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<E, D::Error> {
            E::payload(self.event_type, self.version, d).inspect_err(|_| {
                self.failed.set(Some(self.event_type.to_owned()));
            })
        }
    }
}

/// Decodes the payload of a raw envelope as `T`.
pub fn payload<T: EventPayload>(raw: &RawEnvelope) -> Result<T, DecodeError> {
    serde_json::from_value(raw.data.clone()).map_err(|e| DecodeError::InvalidPayload {
        event_type: raw.event_type.clone(),
        message: e.to_string(),
    })
}

/// Why a consumer did not apply a record.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// Never applicable (undecodable, unknown, invalid): store it and move on.
    #[error("poison record: {0}")]
    Poison(String),
    /// May work later (the database is down): retry.
    #[error(transparent)]
    Transient(crate::Error),
}

impl From<crate::Error> for ApplyError {
    fn from(e: crate::Error) -> Self {
        ApplyError::Transient(e)
    }
}

#[cfg(feature = "postgres")]
impl From<tokio_postgres::Error> for ApplyError {
    fn from(e: tokio_postgres::Error) -> Self {
        ApplyError::Transient(e.into())
    }
}

impl From<DecodeError> for ApplyError {
    fn from(e: DecodeError) -> Self {
        ApplyError::Poison(e.to_string())
    }
}
