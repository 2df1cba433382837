//! JSON decoding whose errors name the offending field, for request bodies and patches.

use serde::de::DeserializeOwned;

use crate::{Error, Result};

/// Decodes a JSON document; errors say which field was wrong (`body` when it is not JSON).
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| field_error(&e))?;
    de.end()
        .map_err(|_| Error::invalid("body", "trailing data after the JSON value"))?;
    Ok(value)
}

/// Decodes an already parsed value (e.g. a profile with a merge patch applied).
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T> {
    serde_path_to_error::deserialize(value).map_err(|e| field_error(&e))
}

fn field_error(err: &serde_path_to_error::Error<serde_json::Error>) -> Error {
    let inner = err.inner();
    let message = inner.to_string();
    let path = err.path().to_string();
    if inner.is_syntax() || inner.is_eof() {
        return Error::invalid("body", "is not valid JSON");
    }
    // serde reports a missing field at its parent's path (an unknown one at its own): name the
    // missing field itself.
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next());
    let field = match (missing, path.as_str()) {
        (Some(name), "." | "") => name.to_owned(),
        (Some(name), parent) => format!("{parent}.{name}"),
        (None, "." | "") => "body".to_owned(),
        (None, path) => path.to_owned(),
    };
    let message = message
        .split(" at line ")
        .next()
        .unwrap_or(&message)
        .to_owned();
    Error::invalid(field, message)
}

/// Applies an RFC 7396 JSON Merge Patch to `target`.
pub fn merge_patch(target: &mut serde_json::Value, patch: &serde_json::Value) {
    use serde_json::Value;
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    let map = target.as_object_mut().expect("made an object above");
    for (key, value) in patch {
        if value.is_null() {
            map.remove(key);
        } else {
            merge_patch(map.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn merge_patch_follows_rfc_7396() {
        // The example of RFC 7396 §3.
        let mut doc = json!({"title": "Goodbye!", "author": {"givenName": "John", "familyName": "Doe"},
                             "tags": ["example", "sample"], "content": "This will be unchanged"});
        let patch = json!({"title": "Hello!", "phoneNumber": "+01-123-456-7890",
                           "author": {"familyName": null}, "tags": ["example"]});
        super::merge_patch(&mut doc, &patch);
        assert_eq!(
            doc,
            json!({"title": "Hello!", "author": {"givenName": "John"}, "tags": ["example"],
                               "content": "This will be unchanged", "phoneNumber": "+01-123-456-7890"})
        );
    }
}
