//! Field validators shared by every endpoint. Each names the field it rejects.

use chrono::NaiveDate;
use unicode_normalization::UnicodeNormalization;

use crate::{Error, Result};

pub const EMAIL_MAX: usize = 254;

/// A list's optional time bounds: when both are given, `to` must come after `from`.
pub fn time_range(
    from: Option<chrono::DateTime<chrono::Utc>>,
    to: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<()> {
    match (from, to) {
        (Some(from), Some(to)) if to <= from => Err(Error::invalid("to", "must be after from")),
        _ => Ok(()),
    }
}

/// Validates and normalises an e-mail address (trimmed, Unicode NFC, lower-cased): two spellings
/// of one address (a precomposed `é` or `e` + combining accent) are one account.
pub fn normalize_email(field: &str, raw: &str) -> Result<String> {
    // Lower-cased first, so the result is in NFC whatever lower-casing does.
    let email: String = raw.trim().to_lowercase().nfc().collect();
    if email.is_empty() {
        return Err(Error::invalid(field, "is required"));
    }
    if email.len() > EMAIL_MAX {
        return Err(Error::invalid(
            field,
            format!("must be at most {EMAIL_MAX} characters"),
        ));
    }
    let valid = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && local.len() <= 64
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains("..")
                && !email
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || reorders_display(c))
                && !domain.contains('@')
        }
        None => false,
    };
    if valid {
        Ok(email)
    } else {
        Err(Error::invalid(field, "is not a valid e-mail address"))
    }
}

/// Whether `c` reorders the text around it when displayed (the bidirectional embeddings,
/// overrides and isolates, and the directional marks): shown to someone else, such text can
/// read differently from what it says ("Trojan Source").
fn reorders_display(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// A person's name (or any one-line label): bounded text in Unicode NFC, with no control
/// characters, line breaks or bidirectional controls.
pub fn name(field: &str, raw: &str, max: usize) -> Result<String> {
    let text: String = raw.trim().nfc().collect();
    if text
        .chars()
        .any(|c| matches!(c, '\n' | '\t' | '\u{2028}' | '\u{2029}'))
    {
        return Err(Error::invalid(field, "must be one line"));
    }
    bounded_text(field, &text, max)
}

/// Validates a required, bounded text field and returns it trimmed. Control characters (other
/// than line breaks and tabs) and bidirectional controls are refused.
pub fn bounded_text(field: &str, raw: &str, max: usize) -> Result<String> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(Error::invalid(field, "is required"));
    }
    if text.chars().count() > max {
        return Err(Error::invalid(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(Error::invalid(field, "must not contain control characters"));
    }
    if text.chars().any(reorders_display) {
        return Err(Error::invalid(
            field,
            "must not contain bidirectional control characters",
        ));
    }
    Ok(text.to_owned())
}

/// An optional bounded text: `None` and blank both mean absent.
pub fn optional_text(field: &str, raw: Option<&str>, max: usize) -> Result<Option<String>> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => bounded_text(field, text, max).map(Some),
    }
}

/// A list of short texts: at most `max_items`, each 1..=`max_len` characters, duplicates removed.
pub fn text_list(
    field: &str,
    items: &[String],
    max_items: usize,
    max_len: usize,
) -> Result<Vec<String>> {
    if items.len() > max_items {
        return Err(Error::invalid(
            field,
            format!("must have at most {max_items} items"),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let item = bounded_text(&format!("{field}[{i}]"), item, max_len)?;
        if !out.iter().any(|seen| seen.eq_ignore_ascii_case(&item)) {
            out.push(item);
        }
    }
    Ok(out)
}

/// An E.164 phone number (`+` then 7 to 15 digits), spaces and dashes removed.
pub fn phone(field: &str, raw: &str) -> Result<String> {
    let compact: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.'))
        .collect();
    let digits = compact.strip_prefix('+').unwrap_or("");
    let ok = (7..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    if ok {
        Ok(compact)
    } else {
        Err(Error::invalid(
            field,
            "must be an international number like +15555550123",
        ))
    }
}

/// A birth date: a real calendar date, not in the future, not before 1900.
pub fn birth_date(field: &str, date: NaiveDate, today: NaiveDate) -> Result<NaiveDate> {
    if date > today {
        return Err(Error::invalid(field, "must not be in the future"));
    }
    if date < NaiveDate::from_ymd_opt(1900, 1, 1).expect("valid date") {
        return Err(Error::invalid(field, "must be after 1900-01-01"));
    }
    Ok(date)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_one_line_nfc_without_controls_or_bidi_overrides() {
        let decomposed = "Jose\u{0301} Example";
        assert_eq!(
            name("full_name", decomposed, 200).unwrap(),
            "Jos\u{e9} Example"
        );
        for bad in [
            "Jo\nExample",
            "Jo\tExample",
            "Jo\u{0007}",
            "Jo\u{202E}elpmaxE",
            "Jo\u{2066}x\u{2069}",
            "Jo\u{200F}",
            "Jo\u{2028}Example",
        ] {
            let Err(Error::InvalidField { field, .. }) = name("full_name", bad, 200) else {
                panic!("{bad:?} accepted")
            };
            assert_eq!(field, "full_name");
        }
        assert!(bounded_text("diagnosis", "line one\nline two", 100).is_ok());
        assert!(bounded_text("diagnosis", "dose \u{202E}01", 100).is_err());
    }

    #[test]
    fn e_mails_in_two_unicode_spellings_are_one_address() {
        let composed = normalize_email("email", "Jos\u{e9}@Example.com").unwrap();
        let decomposed = normalize_email("email", "Jose\u{0301}@example.COM").unwrap();
        assert_eq!(composed, decomposed);
        assert!(normalize_email("email", "pat\u{202E}@example.com").is_err());
    }

    #[test]
    fn a_time_range_ends_after_it_starts() {
        use chrono::{Duration, Utc};
        let now = Utc::now();
        assert!(time_range(None, None).is_ok());
        assert!(time_range(Some(now), None).is_ok());
        assert!(time_range(None, Some(now)).is_ok());
        assert!(time_range(Some(now), Some(now + Duration::seconds(1))).is_ok());
        for to in [now, now - Duration::seconds(1)] {
            let Err(Error::InvalidField { field, .. }) = time_range(Some(now), Some(to)) else {
                panic!("{to} accepted")
            };
            assert_eq!(field, "to");
        }
    }

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            normalize_email("email", "  Jane.Roe@Example.COM ").unwrap(),
            "jane.roe@example.com"
        );
        for bad in [
            "",
            "jane",
            "jane@",
            "@example.com",
            "jane@example",
            "ja ne@example.com",
            "a@b..com",
        ] {
            assert!(normalize_email("email", bad).is_err(), "{bad}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(normalize_email("email", &long).is_err());
    }

    #[test]
    fn phones_dates_and_lists() {
        assert_eq!(phone("phone", "+1 555-555-0123").unwrap(), "+15555550123");
        for bad in ["5555550123", "+0123456789", "+12", "+1555abc0123", ""] {
            assert!(phone("phone", bad).is_err(), "{bad}");
        }
        let today = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        assert!(birth_date("dob", today, today).is_ok());
        assert!(birth_date("dob", today.succ_opt().unwrap(), today).is_err());
        assert!(birth_date("dob", NaiveDate::from_ymd_opt(1899, 12, 31).unwrap(), today).is_err());
        let list = text_list(
            "allergies",
            &["Penicillin".into(), "penicillin".into(), "latex".into()],
            5,
            20,
        )
        .unwrap();
        assert_eq!(list, vec!["Penicillin", "latex"]);
        let err = text_list("allergies", &["ok".into(), " ".into()], 5, 20).unwrap_err();
        assert_eq!(err.problem().field.as_deref(), Some("allergies[1]"));
    }
}
