//! Pages of every list: the `?limit=` every list endpoint takes, the page it answers with, and
//! keyset cursors over (time, id) for PostgreSQL lists (opaque to clients, stable under
//! inserts). DynamoDB lists page by the table's own keys (`patient::store`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use serde::Serialize;

use crate::{Error, Result};

/// A page of results and the opaque cursor of the next one.
#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// `?limit=` bounds shared by every list endpoint.
pub fn page_limit(raw: Option<&str>, default: usize, max: usize) -> Result<usize> {
    match raw {
        None => Ok(default),
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                Error::invalid("limit", format!("must be a whole number from 1 to {max}"))
            }),
    }
}

pub fn encode(at: DateTime<Utc>, id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}|{id}", at.to_rfc3339()))
}

/// Decodes a cursor made by [`encode`]; anything else is a 400 naming `cursor`.
pub fn decode(cursor: Option<&str>) -> Result<Option<(DateTime<Utc>, Uuid)>> {
    let Some(cursor) = cursor else {
        return Ok(None);
    };
    let bad = || Error::invalid("cursor", "is not a cursor this list returned");
    let text =
        String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?).map_err(|_| bad())?;
    let (at, id) = text.split_once('|').ok_or_else(bad)?;
    Ok(Some((
        DateTime::parse_from_rfc3339(at)
            .map_err(|_| bad())?
            .with_timezone(&Utc),
        id.parse().map_err(|_| bad())?,
    )))
}

/// Turns rows fetched with `LIMIT limit + 1` into a page: the extra row only says that
/// another page exists, and the cursor points after the last row kept.
pub fn page<T>(
    mut items: Vec<T>,
    limit: usize,
    key: impl Fn(&T) -> (DateTime<Utc>, Uuid),
) -> Page<T> {
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|item| {
            let (at, id) = key(item);
            encode(at, id)
        })
    } else {
        None
    };
    Page { items, next_cursor }
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trip_and_garbage() {
        let at = chrono::Utc::now();
        let id = uuid::Uuid::new_v4();
        assert_eq!(
            super::decode(Some(&super::encode(at, id))).unwrap(),
            Some((at, id))
        );
        assert!(super::decode(Some("garbage")).is_err());
        assert_eq!(super::decode(None).unwrap(), None);
    }
}
