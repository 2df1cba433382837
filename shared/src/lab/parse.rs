//! Lab-report text to lab values. Pure functions: text in, values out.
//!
//! A lab report prints one test per row: name, value, unit, reference range and sometimes a
//! flag (`Hemoglobin 13.5 g/dL 12.0 - 16.0`, `LDL cholesterol 162 mg/dL < 130 H`). Text
//! extracted from PDFs keeps a row on one line but varies in spacing and in the characters it
//! uses (U+2212 minus, en dashes, a modifier circumflex for `^`), so lines are normalised and
//! read as tokens rather than fixed columns. A row counts only when it has a reference range
//! or a unit that looks like one, which keeps page numbers, dates and prose out.

use chrono::NaiveDate;

use super::{Flag, LabResult};

const NAME_MAX_CHARS: usize = 80;
const NAME_MAX_WORDS: usize = 8;

/// What a report's text yields.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Parsed {
    pub results: Vec<LabResult>,
    pub collected_at: Option<NaiveDate>,
}

/// Reads lab values and the collection date out of a report's text.
pub fn parse_report(text: &str) -> Parsed {
    let mut parsed = Parsed::default();
    for raw in text.lines() {
        let line = normalise(raw);
        if parsed.collected_at.is_none() {
            parsed.collected_at = collection_date(&line);
        }
        if let Some(result) = parse_row(&line) {
            parsed.results.push(result);
        }
    }
    parsed
}

/// Unifies the characters PDF producers use for minus, dashes, `^`, `µ` and spaces.
pub fn normalise(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 4);
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        // Tight kerning runs a `%` unit into the range after it (`5.4 %4.0 - 5.6`).
        if c == '%' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push(' ');
        }
    }
    out.chars()
        .map(|c| match c {
            '\u{2212}' | '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2013}' | '\u{2014}' => '-',
            '\u{02c6}' => '^',
            '\u{00b5}' => '\u{03bc}',
            '\u{00a0}' | '\u{2009}' | '\u{202f}' | '\t' => ' ',
            c => c,
        })
        .collect()
}

/// One table row, if the line is one.
pub fn parse_row(line: &str) -> Option<LabResult> {
    let tokens: Vec<&str> = line.split_whitespace().collect();
    let value_at = tokens.iter().position(|t| is_value(t))?;
    if value_at == 0 || value_at > NAME_MAX_WORDS {
        return None;
    }
    let name = tokens[..value_at].join(" ");
    let name = name.trim_end_matches([':', '.']).trim();
    if name.chars().count() > NAME_MAX_CHARS
        || !name.chars().next().is_some_and(char::is_alphabetic)
        || tokens[value_at - 1].ends_with(':')
    {
        return None;
    }
    let value = tokens[value_at].to_owned();
    let mut rest = &tokens[value_at + 1..];

    // A flag printed right after the value (`11.2 H 10^9/L ...`) or at the end of the row.
    let mut printed_flag = None;
    if let Some(first) = rest.first()
        && let Some(flag) = flag_token(first)
    {
        printed_flag = Some(flag);
        rest = &rest[1..];
    }
    if let Some(last) = rest.last()
        && let Some(flag) = flag_token(last)
    {
        printed_flag = Some(flag);
        rest = &rest[..rest.len() - 1];
    }

    let mut unit = None;
    if let Some(first) = rest.first()
        && !starts_range(first)
    {
        unit = Some((*first).to_owned());
        rest = &rest[1..];
    }
    let (reference_range, bounds) = match parse_range(rest) {
        Some((text, bounds)) => (Some(text), Some(bounds)),
        None if rest.is_empty() => (None, None),
        // Something after the unit that is not a range: not a row we understand.
        None => return None,
    };
    if reference_range.is_none() && !unit.as_deref().is_some_and(looks_like_unit) {
        return None;
    }
    if unit.as_deref().is_some_and(|u| !plausible_unit(u)) {
        return None;
    }
    let flag = printed_flag.or_else(|| {
        let v = numeric(&value)?;
        bounds.map(|b| b.flag(v))
    });
    Some(LabResult {
        name: name.to_owned(),
        value,
        unit,
        reference_range,
        flag,
        panel: None,
        loinc: None,
        unit_ucum: None,
        previous: None,
        confidence: None,
    })
}

/// A measured value: `13.5`, `250`, `5,4`, `<5`, `>60`.
pub(crate) fn is_value(token: &str) -> bool {
    let digits = token.trim_start_matches(['<', '>', '≤', '≥']);
    let mut seen_digit = false;
    let mut seen_sep = false;
    for c in digits.chars() {
        match c {
            '0'..='9' => seen_digit = true,
            '.' | ',' if seen_digit && !seen_sep => seen_sep = true,
            _ => return false,
        }
    }
    seen_digit && !digits.ends_with(['.', ','])
}

/// The number a value states, if it is a number (`<5` states 5).
pub(crate) fn numeric_value(token: &str) -> Option<f64> {
    numeric(token).filter(|_| is_value(token))
}

fn numeric(token: &str) -> Option<f64> {
    let digits = token.trim_start_matches(['<', '>', '≤', '≥']);
    // `1,250` groups thousands (a lab prints at most two decimals after a comma: `5,4`,
    // `0,125` aside); otherwise the comma is a decimal point.
    let thousands = digits.split_once(',').is_some_and(|(head, tail)| {
        tail.len() == 3
            && !head.is_empty()
            && head.len() <= 3
            && !head.starts_with('0')
            && head.chars().chain(tail.chars()).all(|c| c.is_ascii_digit())
    });
    if thousands {
        digits.replace(',', "").parse().ok()
    } else {
        digits.replace(',', ".").parse().ok()
    }
}

fn flag_token(token: &str) -> Option<Flag> {
    match token.trim_matches(['*', '!', '(', ')', '[', ']']) {
        "H" | "High" | "HIGH" | "↑" => Some(Flag::High),
        "L" | "Low" | "LOW" | "↓" => Some(Flag::Low),
        "HH" => Some(Flag::CriticalHigh),
        "LL" => Some(Flag::CriticalLow),
        "N" | "Normal" | "NORMAL" => Some(Flag::Normal),
        _ => None,
    }
}

fn starts_range(token: &str) -> bool {
    is_value(token) || token.starts_with(['<', '>', '≤', '≥']) || split_dash(token).is_some()
}

/// `4.0-10.0` as one token.
fn split_dash(token: &str) -> Option<(f64, f64)> {
    let (a, b) = token.split_once('-')?;
    Some((
        numeric(a).filter(|_| is_value(a))?,
        numeric(b).filter(|_| is_value(b))?,
    ))
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Bounds {
    pub(crate) low: Option<f64>,
    pub(crate) high: Option<f64>,
    /// `< x` excludes x itself.
    pub(crate) high_exclusive: bool,
    pub(crate) low_exclusive: bool,
}

impl Bounds {
    pub(crate) fn flag(self, v: f64) -> Flag {
        if self
            .low
            .is_some_and(|l| v < l || (self.low_exclusive && v == l))
        {
            Flag::Low
        } else if self
            .high
            .is_some_and(|h| v > h || (self.high_exclusive && v == h))
        {
            Flag::High
        } else {
            Flag::Normal
        }
    }
}

/// The reference range in the remaining tokens: `a - b`, `a-b`, `< b`, `<b`, `> a`, `≤ b`.
fn parse_range(tokens: &[&str]) -> Option<(String, Bounds)> {
    let joined: String = tokens.concat();
    if joined.is_empty() {
        return None;
    }
    let text = |b: &Bounds| match (b.low, b.high) {
        (Some(_), Some(_)) => {
            let (a, z) = joined.split_once('-').unwrap_or_default();
            format!("{a} - {z}")
        }
        _ => {
            let op: String = joined
                .chars()
                .take_while(|c| "<>≤≥=".contains(*c))
                .collect();
            format!("{op} {}", &joined[op.len()..])
        }
    };
    let bounds = bounds_of(&joined)?;
    Some((text(&bounds), bounds))
}

/// The bounds a range states: `a-b`, `<b`, `<=b`, `>a`, `>=a`, `> OR = a`; `None` for words.
pub(crate) fn range_bounds(range: &str) -> Option<Bounds> {
    let joined: String = range
        .split_whitespace()
        .collect::<String>()
        .replace("OR=", "=")
        .replace("or=", "=");
    bounds_of(&joined)
}

fn bounds_of(joined: &str) -> Option<Bounds> {
    let bounds = if let Some((a, b)) = split_dash(joined) {
        (a <= b).then_some(Bounds {
            low: Some(a),
            high: Some(b),
            high_exclusive: false,
            low_exclusive: false,
        })?
    } else if let Some(v) = joined
        .strip_prefix("<=")
        .or_else(|| joined.strip_prefix('≤'))
    {
        Bounds {
            low: None,
            high: Some(numeric(v).filter(|_| is_value(v))?),
            high_exclusive: false,
            low_exclusive: false,
        }
    } else if let Some(v) = joined.strip_prefix('<') {
        Bounds {
            low: None,
            high: Some(numeric(v).filter(|_| is_value(v))?),
            high_exclusive: true,
            low_exclusive: false,
        }
    } else if let Some(v) = joined
        .strip_prefix(">=")
        .or_else(|| joined.strip_prefix('≥'))
    {
        Bounds {
            low: Some(numeric(v).filter(|_| is_value(v))?),
            high: None,
            high_exclusive: false,
            low_exclusive: false,
        }
    } else if let Some(v) = joined.strip_prefix('>') {
        Bounds {
            low: Some(numeric(v).filter(|_| is_value(v))?),
            high: None,
            high_exclusive: false,
            low_exclusive: true,
        }
    } else {
        return None;
    };
    Some(bounds)
}

/// Units that make a row a lab value even without a range.
pub(crate) fn looks_like_unit(unit: &str) -> bool {
    unit.contains(['/', '%', '^'])
        || matches!(
            unit,
            "fL" | "pg" | "g" | "mg" | "U" | "IU" | "mEq" | "mmHg" | "sec" | "ratio" | "cells"
        )
}

/// A unit is short and has no sentence punctuation.
fn plausible_unit(unit: &str) -> bool {
    unit.chars().count() <= 16 && !unit.ends_with([',', ';', ':'])
}

/// `Collected: 2026-11-20 08:15`, `Collection date 20.11.2026`, `Specimen collected 2026/11/20`,
/// `Date Collected: 11/20/2026` (slashes with the year last are read month first, as US
/// laboratories print them).
pub(crate) fn collection_date(line: &str) -> Option<NaiveDate> {
    let lower = line.to_lowercase();
    let at = lower.find("collect")?;
    line[at..]
        .split_whitespace()
        .map(|t| t.trim_matches([',', ';', '(', ')']))
        .find_map(date_token)
}

fn date_token(token: &str) -> Option<NaiveDate> {
    ["%Y-%m-%d", "%Y/%m/%d", "%d.%m.%Y", "%m/%d/%Y"]
        .iter()
        .find_map(|f| NaiveDate::parse_from_str(token, f).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    type Row = (String, String, Option<String>, Option<String>, Option<Flag>);

    fn row(line: &str) -> Option<Row> {
        parse_row(&normalise(line)).map(|r| (r.name, r.value, r.unit, r.reference_range, r.flag))
    }

    fn s(v: &str) -> Option<String> {
        Some(v.to_owned())
    }

    #[test]
    fn rows_in_the_shapes_producers_print_them() {
        assert_eq!(
            row("Hemoglobin 13.5 g/dL 12.0 - 16.0"),
            Some((
                "Hemoglobin".into(),
                "13.5".into(),
                s("g/dL"),
                s("12.0 - 16.0"),
                Some(Flag::Normal)
            ))
        );
        assert_eq!(
            row("  White blood cells    11.2    10ˆ9/L   4.0 − 10.0    H").unwrap(),
            (
                "White blood cells".into(),
                "11.2".into(),
                s("10^9/L"),
                s("4.0 - 10.0"),
                Some(Flag::High)
            )
        );
        // No flag printed: computed from the range.
        assert_eq!(
            row("Glucose, fasting 105 mg/dL 70-99").unwrap().4,
            Some(Flag::High)
        );
        assert_eq!(
            row("Potassium 3.2 mmol/L 3.5–5.1").unwrap().4,
            Some(Flag::Low)
        );
        let ldl = row("LDL cholesterol 162 mg/dL < 130").unwrap();
        assert_eq!((ldl.3, ldl.4), (s("< 130"), Some(Flag::High)));
        assert_eq!(row("LDL 130 mg/dL <130").unwrap().4, Some(Flag::High));
        assert_eq!(row("HDL 61 mg/dL >40").unwrap().4, Some(Flag::Normal));
        // A printed flag wins over the range, wherever it stands.
        assert_eq!(
            row("TSH 2.1 H mIU/L 0.4 - 4.0").unwrap().4,
            Some(Flag::High)
        );
        // No unit, a range: still a row.
        assert_eq!(
            row("pH 7.40 7.35 - 7.45").unwrap(),
            (
                "pH".into(),
                "7.40".into(),
                None,
                s("7.35 - 7.45"),
                Some(Flag::Normal)
            )
        );
        // A unit, no range: a row without a flag.
        assert_eq!(
            row("HbA1c 5.4 %").unwrap(),
            ("HbA1c".into(), "5.4".into(), s("%"), None, None)
        );
        assert_eq!(
            row("Hemoglobina 13,5 g/dL 12,0 - 16,0").unwrap().4,
            Some(Flag::Normal)
        );
        // A thousands separator is not a decimal comma.
        assert_eq!(
            row("Vitamin B12 1,250 pg/mL 232 - 1245").unwrap().4,
            Some(Flag::High)
        );
        assert_eq!(numeric_value("0,125"), Some(0.125));
    }

    #[test]
    fn prose_dates_and_headers_are_not_rows() {
        for line in [
            "Test Result Unit Reference range Flag",
            "Patient: Jo Example Date of birth: 1990-04-01",
            "Collected: 2026-11-20 08:15",
            "Page 1 of 2",
            "Flags: H above range, L below range.",
            "12 Example Street, Springfield",
            "Invoice total: 12.50 EUR",
            "In 2019 we saw 40 patients a day",
            "",
        ] {
            assert_eq!(row(line), None, "{line}");
        }
    }

    #[test]
    fn a_whole_report() {
        let text = "CareFlow Lab\nCollected: 2026-11-20 08:15\nTest Result Unit Range\n\
                    Sodium 139 mmol/L 135 - 145\n\nPotassium 3.2 mmol/L 3.5 - 5.1 L\nPage 1 of 1\n";
        let parsed = parse_report(text);
        assert_eq!(parsed.collected_at, NaiveDate::from_ymd_opt(2026, 11, 20));
        let names: Vec<_> = parsed.results.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["Sodium", "Potassium"]);
        assert_eq!(
            parse_report("Specimen collected on 20.11.2026")
                .collected_at
                .unwrap()
                .to_string(),
            "2026-11-20"
        );
        assert_eq!(parse_report("no values at all").results, vec![]);
    }
}
