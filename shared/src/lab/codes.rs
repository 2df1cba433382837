//! LOINC codes for test names and UCUM codes for units, from reviewed tables in the repository.
//!
//! `loinc.tsv` lists the common tests (metabolic panel, blood count, lipids, HbA1c, thyroid,
//! vitamins, hormones, coagulation, cardiac markers, urinalysis…) with the names laboratories
//! print for them. A name is matched after folding case, punctuation and the characters OCR
//! confuses (`1`/`l`/`i`, `0`/`o`), so `Hemoglobin Aic` finds HbA1c. A name that matches
//! nothing stays uncoded and sends the report to review: a wrong code is worse than none.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::LabResult;

/// One coded test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoincTest {
    pub code: &'static str,
    pub display: &'static str,
    /// The unit the test is usually reported in, as UCUM.
    pub ucum: &'static str,
}

const TABLE: &str = include_str!("loinc.tsv");

/// Printed units and their UCUM codes (matched with the same folding as names).
const UNITS: &[(&str, &str)] = &[
    ("mg/dL", "mg/dL"),
    ("g/dL", "g/dL"),
    ("g/L", "g/L"),
    ("mg/L", "mg/L"),
    ("ug/dL", "ug/dL"),
    ("μg/dL", "ug/dL"),
    ("ug/mL", "ug/mL"),
    ("ng/mL", "ng/mL"),
    ("ng/dL", "ng/dL"),
    ("pg/mL", "pg/mL"),
    ("mmol/L", "mmol/L"),
    ("umol/L", "umol/L"),
    ("μmol/L", "umol/L"),
    ("nmol/L", "nmol/L"),
    ("pmol/L", "pmol/L"),
    ("mEq/L", "meq/L"),
    ("U/L", "U/L"),
    ("IU/L", "[IU]/L"),
    ("IU/mL", "[IU]/mL"),
    ("mIU/L", "m[IU]/L"),
    ("mIU/mL", "m[IU]/mL"),
    ("uIU/mL", "u[IU]/mL"),
    ("μIU/mL", "u[IU]/mL"),
    ("%", "%"),
    ("fL", "fL"),
    ("pg", "pg"),
    ("x10E3/uL", "10*3/uL"),
    ("x10E6/uL", "10*6/uL"),
    ("10^3/uL", "10*3/uL"),
    ("10^6/uL", "10*6/uL"),
    ("10^9/L", "10*9/L"),
    ("10^12/L", "10*12/L"),
    ("K/uL", "10*3/uL"),
    ("M/uL", "10*6/uL"),
    ("mL/min/1.73", "mL/min/{1.73_m2}"),
    ("mL/min/1.73m2", "mL/min/{1.73_m2}"),
    ("mL/min/1.73 m2", "mL/min/{1.73_m2}"),
    ("mm/hr", "mm/h"),
    ("mm/h", "mm/h"),
    ("sec", "s"),
    ("s", "s"),
    ("mOsm/kg", "mosm/kg"),
    ("mg/g creat", "mg/g{creat}"),
    ("mg/g", "mg/g"),
    ("ratio", "{ratio}"),
    ("/HPF", "/[HPF]"),
    ("/LPF", "/[LPF]"),
];

/// Lower case, punctuation to spaces, OCR look-alikes folded, single spaces.
fn fold(s: &str) -> String {
    let mapped: String = s
        .chars()
        .map(|c| match c.to_lowercase().next().unwrap_or(c) {
            '1' | 'l' | '|' => 'i',
            '0' => 'o',
            'μ' | 'µ' => 'u',
            c if c.is_alphanumeric() || c == '%' => c,
            _ => ' ',
        })
        .collect();
    mapped.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn fold_unit(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c.to_lowercase().next().unwrap_or(c) {
            '1' | 'l' | '|' => 'i',
            '0' => 'o',
            'μ' | 'µ' => 'u',
            c => c,
        })
        .collect()
}

struct Tables {
    by_alias: HashMap<String, LoincTest>,
    tests: usize,
    /// Folded printed unit to (printed unit, UCUM code).
    units: HashMap<String, (&'static str, &'static str)>,
}

fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| {
        let mut by_alias = HashMap::new();
        let mut tests = 0;
        for line in TABLE.lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let mut cols = line.split('\t');
            let (Some(code), Some(display), Some(ucum), Some(aliases)) =
                (cols.next(), cols.next(), cols.next(), cols.next())
            else {
                continue;
            };
            tests += 1;
            let test = LoincTest {
                code,
                display,
                ucum,
            };
            for alias in aliases.split('|') {
                by_alias.entry(fold(alias)).or_insert_with(|| test.clone());
            }
        }
        let mut units = HashMap::new();
        for (printed, ucum) in UNITS {
            // The first spelling listed is the usual one (`uIU/mL` before `μIU/mL`).
            units.entry(fold_unit(printed)).or_insert((*printed, *ucum));
        }
        Tables {
            by_alias,
            tests,
            units,
        }
    })
}

/// How many tests the table codes.
pub fn table_size() -> usize {
    tables().tests
}

/// The LOINC test a printed name stands for, urine tests first under a urinalysis panel.
pub fn loinc_for(name: &str, panel: Option<&str>) -> Option<&'static LoincTest> {
    let t = tables();
    let key = fold(name);
    let urine = panel.is_some_and(|p| fold(p).contains("urin"));
    if urine && let Some(test) = t.by_alias.get(&format!("urine {key}")) {
        return Some(test);
    }
    t.by_alias.get(&key)
}

/// A LOINC code's form and its mod-10 check digit (`2345-7`).
pub fn is_valid_loinc(code: &str) -> bool {
    let Some((number, check)) = code.split_once('-') else {
        return false;
    };
    if number.is_empty()
        || number.len() > 7
        || check.len() != 1
        || !number
            .chars()
            .chain(check.chars())
            .all(|c| c.is_ascii_digit())
    {
        return false;
    }
    let mut sum = 0;
    for (i, d) in number.chars().rev().enumerate() {
        let mut d = d.to_digit(10).unwrap_or_default();
        if i % 2 == 0 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    check == ((10 - sum % 10) % 10).to_string()
}

/// The UCUM code of a printed unit, if it is a known one.
pub fn ucum_for(unit: &str) -> Option<&'static str> {
    known_unit(unit).map(|u| u.1)
}

/// A known unit's usual spelling and UCUM code (`ulU/mL`, as OCR reads it, is `uIU/mL`).
pub fn known_unit(unit: &str) -> Option<(&'static str, &'static str)> {
    tables().units.get(&fold_unit(unit)).copied()
}

/// Sets `loinc` and `unit_ucum` on each result; returns how many tests stayed uncoded.
pub fn code_results(results: &mut [LabResult]) -> usize {
    let mut uncoded = 0;
    for r in results.iter_mut() {
        r.loinc = loinc_for(&r.name, r.panel.as_deref()).map(|t| t.code.to_owned());
        if r.loinc.is_none() {
            uncoded += 1;
        }
        let known = r.unit.as_deref().and_then(known_unit);
        r.unit_ucum = known.map(|u| u.1.to_owned());
        // OCR's look-alike characters in a known unit: its usual spelling. A text layer's
        // unit stays exactly as printed.
        if r.confidence.is_some()
            && let Some((printed, _)) = known
        {
            r.unit = Some(printed.to_owned());
        }
    }
    uncoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_codes_the_common_tests_once_each() {
        assert!(table_size() >= 100, "{}", table_size());
        let mut codes = std::collections::HashSet::new();
        for line in TABLE.lines().filter(|l| !l.starts_with('#')) {
            let code = line.split('\t').next().unwrap();
            // LOINC codes: digits, a hyphen and a check digit.
            let (num, check) = code.split_once('-').unwrap();
            assert!(
                num.chars().all(|c| c.is_ascii_digit()) && check.len() == 1,
                "{code}"
            );
            assert!(codes.insert(code), "{code} twice");
            assert_eq!(line.split('\t').count(), 4, "{line}");
        }
    }

    #[test]
    fn loinc_check_digits_are_right() {
        // LOINC's mod-10 check digit (the Luhn algorithm on the number).
        for line in TABLE.lines().filter(|l| !l.starts_with('#')) {
            let code = line.split('\t').next().unwrap();
            assert!(is_valid_loinc(code), "{code}");
        }
        for bad in ["2345-8", "2345", "-7", "23a5-7", "2345-77", ""] {
            assert!(!is_valid_loinc(bad), "{bad}");
        }
    }

    #[test]
    fn printed_names_find_their_codes() {
        let code = |n: &str, p: Option<&str>| loinc_for(n, p).map(|t| t.code);
        assert_eq!(code("Glucose", None), Some("2345-7"));
        assert_eq!(code("Glucose, fasting", None), Some("1558-6"));
        assert_eq!(
            code("GLUCOSE", Some("Urinalysis, Routine")),
            Some("25428-4")
        );
        assert_eq!(code("Hemoglobin Aic", None), Some("4548-4"));
        assert_eq!(code("HbA1c", None), Some("4548-4"));
        assert_eq!(code("LDL Chol Calc (NIH)", None), Some("13457-7"));
        assert_eq!(code("AST (SGOT)", None), Some("1920-8"));
        assert_eq!(code("Vitamin D, 25-Hydroxy", None), Some("62292-8"));
        assert_eq!(code("White blood cells", None), Some("6690-2"));
        assert_eq!(code("Unobtainium", None), None);
        assert_eq!(ucum_for("x10E3/uL"), Some("10*3/uL"));
        assert_eq!(ucum_for("ulU/mL"), Some("u[IU]/mL"));
        assert_eq!(ucum_for("mL/min/1.73"), Some("mL/min/{1.73_m2}"));
        assert_eq!(ucum_for("furlongs"), None);
    }
}
