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
    ("mmol/mol", "mmol/mol"),
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

/// Lower case, punctuation to spaces, single spaces; with `ocr`, OCR's look-alikes folded too
/// (`1`/`l`/`|` as `i`, `0` as `o`), which a text layer never needs (it would make `IDL` read
/// as `LDL`).
fn fold(s: &str, ocr: bool) -> String {
    let mapped: String = s
        .chars()
        .map(|c| {
            let c = c.to_lowercase().next().unwrap_or(c);
            match if ocr { look_alike(c) } else { c } {
                'μ' | 'µ' => 'u',
                c if c.is_alphanumeric() || c == '%' => c,
                _ => ' ',
            }
        })
        .collect();
    mapped.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// What OCR confuses, folded to one character: `1`, `l` and `|` as `i`, `0` as `o`.
fn look_alike(c: char) -> char {
    match c {
        '1' | 'l' | '|' => 'i',
        '0' => 'o',
        c => c,
    }
}

/// A printed unit without spaces; with `ocr`, case and look-alikes folded (`ulU/mL`). A text
/// layer's unit keeps its case: `G/L` (giga per litre) is not `g/L`.
fn fold_unit(s: &str, ocr: bool) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            'μ' | 'µ' => 'u',
            c if !ocr => c,
            c => look_alike(c.to_lowercase().next().unwrap_or(c)),
        })
        .collect()
}

/// What a unit measures, as LOINC's property classes: a test's code holds only for results in
/// a unit of its kind (glucose in mmol/L is another code than in mg/dL).
fn property(ucum: &str) -> Option<&'static str> {
    Some(match ucum {
        u if u.ends_with("mol/mol") => "substance fraction",
        u if u.contains("mol/") || u.contains("eq/") => "substance concentration",
        u if u.starts_with("mg/g") => "mass ratio",
        u if u.contains("g/") => "mass concentration",
        u if u.contains("U]") || u.contains("U/") => "activity",
        u if u.starts_with("10*") || u.starts_with("/[") => "number concentration",
        "%" => "fraction",
        "fL" => "entitic volume",
        "pg" => "entitic mass",
        "s" => "time",
        "mm/h" => "velocity",
        u if u.starts_with("mL/min") => "volume rate",
        "{ratio}" | "{INR}" => "ratio",
        "mosm/kg" => "osmolality",
        "{presence}" | "{color}" | "{appearance}" | "{SG}" | "[pH]" => "nominal",
        _ => return None,
    })
}

/// Whether a result in `unit` (UCUM, when known) can carry `test`'s code. An unknown or
/// missing unit does not rule a code out; a known unit of another kind does.
fn fits(test: &LoincTest, unit: Option<&str>) -> bool {
    match (property(test.ucum), unit.and_then(property)) {
        (Some(expected), Some(printed)) => expected == printed,
        _ => true,
    }
}

struct Tables {
    /// Folded alias to the tests it may name, in table order (conventional units first).
    plain: HashMap<String, Vec<LoincTest>>,
    ocr: HashMap<String, Vec<LoincTest>>,
    tests: usize,
    /// Printed unit (spaces out) to (printed unit, UCUM code); and folded for OCR.
    units: HashMap<String, (&'static str, &'static str)>,
    ocr_units: HashMap<String, (&'static str, &'static str)>,
}

fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| {
        let mut plain: HashMap<String, Vec<LoincTest>> = HashMap::new();
        let mut ocr: HashMap<String, Vec<LoincTest>> = HashMap::new();
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
                plain
                    .entry(fold(alias, false))
                    .or_default()
                    .push(test.clone());
                ocr.entry(fold(alias, true)).or_default().push(test.clone());
            }
        }
        let (mut units, mut ocr_units) = (HashMap::new(), HashMap::new());
        for (printed, ucum) in UNITS {
            // The first spelling listed is the usual one (`uIU/mL` before `μIU/mL`).
            units
                .entry(fold_unit(printed, false))
                .or_insert((*printed, *ucum));
            ocr_units
                .entry(fold_unit(printed, true))
                .or_insert((*printed, *ucum));
        }
        Tables {
            plain,
            ocr,
            tests,
            units,
            ocr_units,
        }
    })
}

/// How many tests the table codes.
pub fn table_size() -> usize {
    tables().tests
}

/// The LOINC test a printed name stands for, given the result's unit (UCUM) and whether OCR
/// read it. Under a urinalysis panel only urine tests are considered: a serum code for a
/// urine sodium would be wrong.
pub fn loinc_for(
    name: &str,
    panel: Option<&str>,
    unit: Option<&str>,
    ocr: bool,
) -> Option<&'static LoincTest> {
    let t = tables();
    let aliases = if ocr { &t.ocr } else { &t.plain };
    let key = fold(name, ocr);
    let urine = panel.is_some_and(|p| fold(p, false).contains("urin"));
    let key = if urine && !key.starts_with("urine") {
        format!("urine {key}")
    } else {
        key
    };
    aliases.get(&key)?.iter().find(|test| fits(test, unit))
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

/// The UCUM code of a printed unit (from a text layer), if it is a known one.
pub fn ucum_for(unit: &str) -> Option<&'static str> {
    known_unit(unit, false).map(|u| u.1)
}

/// A known unit's usual spelling and UCUM code; for OCR, through its look-alikes (`ulU/mL`
/// is `uIU/mL`).
pub fn known_unit(unit: &str, ocr: bool) -> Option<(&'static str, &'static str)> {
    let t = tables();
    let map = if ocr { &t.ocr_units } else { &t.units };
    map.get(&fold_unit(unit, ocr)).copied()
}

/// Sets `loinc` and `unit_ucum` on each result; returns how many tests stayed uncoded.
pub fn code_results(results: &mut [LabResult]) -> usize {
    let mut uncoded = 0;
    for r in results.iter_mut() {
        let ocr = r.confidence.is_some();
        let known = r.unit.as_deref().and_then(|u| known_unit(u, ocr));
        r.unit_ucum = known.map(|u| u.1.to_owned());
        // OCR's look-alike characters in a known unit: its usual spelling. A text layer's
        // unit stays exactly as printed.
        if ocr && let Some((printed, _)) = known {
            r.unit = Some(printed.to_owned());
        }
        r.loinc = loinc_for(&r.name, r.panel.as_deref(), r.unit_ucum.as_deref(), ocr)
            .map(|t| t.code.to_owned());
        if r.loinc.is_none() {
            uncoded += 1;
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
        let code = |n: &str, p: Option<&str>| loinc_for(n, p, None, false).map(|t| t.code);
        assert_eq!(code("Glucose", None), Some("2345-7"));
        assert_eq!(code("Glucose, fasting", None), Some("1558-6"));
        assert_eq!(
            code("GLUCOSE", Some("Urinalysis, Routine")),
            Some("25428-4")
        );
        assert_eq!(code("HbA1c", None), Some("4548-4"));
        assert_eq!(code("LDL Chol Calc (NIH)", None), Some("13457-7"));
        assert_eq!(code("AST (SGOT)", None), Some("1920-8"));
        assert_eq!(code("Vitamin D, 25-Hydroxy", None), Some("62292-8"));
        assert_eq!(code("White blood cells", None), Some("6690-2"));
        assert_eq!(code("Unobtainium", None), None);
        // OCR's look-alikes only for OCR: a text layer's IDL is not LDL.
        assert_eq!(code("Hemoglobin Aic", None), None);
        assert_eq!(
            loinc_for("Hemoglobin Aic", None, None, true).map(|t| t.code),
            Some("4548-4")
        );
        assert_eq!(code("IDL Cholesterol", None), None);
        // Under a urine panel, no serum code; a bare pH or PCT names nothing for sure.
        assert_eq!(code("Sodium", Some("Urine Chemistry")), None);
        assert_eq!(code("pH", None), None);
        assert_eq!(code("PCT", None), None);
        // The unit decides between codes of one name, and rules out a code of another kind.
        let with = |n: &str, unit: &str| loinc_for(n, None, ucum_for(unit), false).map(|t| t.code);
        assert_eq!(with("Neutrophils", "%"), Some("770-8"));
        assert_eq!(with("Neutrophils", "10^9/L"), Some("751-8"));
        assert_eq!(with("Glucose", "mg/dL"), Some("2345-7"));
        assert_eq!(with("Glucose", "mmol/L"), Some("14749-6"));
        assert_eq!(with("Hemoglobin", "g/L"), Some("718-7"));
        assert_eq!(with("HbA1c", "%"), Some("4548-4"));
        assert_eq!(with("HbA1c", "mmol/mol"), Some("59261-8"));
        assert_eq!(with("MCH", "pg/mL"), None);
        assert_eq!(ucum_for("x10E3/uL"), Some("10*3/uL"));
        assert_eq!(known_unit("ulU/mL", true).map(|u| u.1), Some("u[IU]/mL"));
        assert_eq!(ucum_for("ulU/mL"), None);
        assert_eq!(ucum_for("G/L"), None);
        assert_eq!(ucum_for("mL/min/1.73"), Some("mL/min/{1.73_m2}"));
        assert_eq!(ucum_for("furlongs"), None);
    }
}
