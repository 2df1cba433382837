//! Positioned words to lab values: reading a report's table by its columns.
//!
//! Commercial lab reports are tables whose meaning is in the columns: *Test | Current Result and
//! Flag | Previous Result and Date | Units | Reference Interval*, or *Test Name | In Range | Out
//! Of Range | Reference Range*, or a flag column of words. Reading them word by word along a line
//! takes a previous result for the current one, so this module works from positions: words
//! (from a PDF's text layer or from OCR) are grouped into lines, the header line names the
//! columns and where they start, and every row below it is split at those positions. Footnote
//! superscripts (smaller, raised) are dropped from names; panels (a line with only a name) are
//! kept with their rows. A page without a header, before any header was seen, falls back to the
//! line reader of [`super::parse`].

use serde::{Deserialize, Serialize};

use super::parse::{self, Bounds, Parsed};
use super::{Flag, LabResult, PreviousResult};

/// One word with its box, in points from the top-left corner of its page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Word {
    pub text: String,
    pub x0: f32,
    pub x1: f32,
    pub top: f32,
    pub bottom: f32,
    /// OCR's confidence in the word (0 to 1); `None` for a text layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f32>,
    /// The line OCR put the word on (it follows a skewed scan's lines); `None` for a text layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
}

impl Word {
    fn height(&self) -> f32 {
        (self.bottom - self.top).max(0.1)
    }

    fn center(&self) -> f32 {
        (self.top + self.bottom) / 2.0
    }
}

/// The words of one page and where they came from.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PageWords {
    pub words: Vec<Word>,
    /// Read by OCR (the page had no text layer).
    #[serde(default)]
    pub ocr: bool,
}

impl PageWords {
    /// Pseudo-positions for plain text (one line per line, one column per character): lets text
    /// without positions go through the same reader.
    pub fn from_text(text: &str) -> Vec<PageWords> {
        text.split('\u{c}')
            .map(|page| {
                let mut words = Vec::new();
                for (row, line) in page.lines().enumerate() {
                    let top = row as f32 * 12.0;
                    let mut at = 0usize;
                    for token in line.split_whitespace() {
                        let start = line[at..].find(token).map_or(at, |i| at + i);
                        at = start + token.len();
                        let column = line[..start].chars().count() as f32;
                        words.push(Word {
                            text: token.to_owned(),
                            x0: column * 5.0,
                            x1: (column + token.chars().count() as f32) * 5.0,
                            top,
                            bottom: top + 9.0,
                            confidence: None,
                            line: None,
                        });
                    }
                }
                PageWords { words, ocr: false }
            })
            .collect()
    }

    /// The characters of all words (for size checks).
    pub fn text_bytes(pages: &[PageWords]) -> usize {
        pages
            .iter()
            .flat_map(|p| &p.words)
            .map(|w| w.text.len() + 1)
            .sum()
    }
}

/// A line of words, left to right.
#[derive(Debug)]
struct Line<'a> {
    words: Vec<&'a Word>,
    /// The usual height of its words (superscripts are smaller).
    height: f32,
    bottom: f32,
}

impl Line<'_> {
    /// A footnote mark: digits or a symbol, smaller than the line and raised above it. Only a
    /// text layer's boxes follow the font size; OCR's are tight around the glyphs (digits are
    /// shorter than letters with descenders), and OCR glues marks to names anyway.
    fn is_superscript(&self, w: &Word) -> bool {
        w.confidence.is_none()
            && w.height() < self.height * 0.8
            && w.bottom < self.bottom - self.height * 0.15
    }
}

fn median(mut v: Vec<f32>) -> f32 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f32::total_cmp);
    v[v.len() / 2]
}

/// Groups a page's words into lines: OCR's own lines when it gave them, else by vertical centres.
fn lines(page: &PageWords) -> Vec<Line<'_>> {
    let mut words: Vec<&Word> = page
        .words
        .iter()
        .filter(|w| !w.text.trim().is_empty())
        .collect();
    let groups = if !words.is_empty() && words.iter().all(|w| w.line.is_some()) {
        let mut by_line: std::collections::BTreeMap<u32, Vec<&Word>> = Default::default();
        for w in words {
            by_line
                .entry(w.line.unwrap_or_default())
                .or_default()
                .push(w);
        }
        let mut groups: Vec<Vec<&Word>> = by_line.into_values().collect();
        groups.sort_by(|a, b| {
            median(a.iter().map(|w| w.center()).collect())
                .total_cmp(&median(b.iter().map(|w| w.center()).collect()))
        });
        groups
    } else {
        words.sort_by(|a, b| a.center().total_cmp(&b.center()));
        group_by_centre(words)
    };
    groups
        .into_iter()
        .map(|mut words| {
            words.sort_by(|a, b| a.x0.total_cmp(&b.x0));
            let height = median(words.iter().map(|w| w.height()).collect());
            let bottom = median(
                words
                    .iter()
                    .filter(|w| w.height() >= height * 0.8)
                    .map(|w| w.bottom)
                    .collect(),
            );
            Line {
                words,
                height,
                bottom,
            }
        })
        .collect()
}

fn group_by_centre(words: Vec<&Word>) -> Vec<Vec<&Word>> {
    let mut groups: Vec<Vec<&Word>> = Vec::new();
    let mut center = f32::NEG_INFINITY;
    let mut height = 0.0f32;
    for w in words {
        let same = (w.center() - center).abs() < 0.5 * height.max(w.height());
        match groups.last_mut() {
            Some(group) if same => {
                group.push(w);
                // Full-size words set the line; superscripts must not drag it up.
                if w.height() >= height * 0.8 {
                    height = height.max(w.height());
                }
            }
            _ => {
                groups.push(vec![w]);
                center = w.center();
                height = w.height();
            }
        }
    }
    groups
}

/// Turns a slightly rotated scan's word boxes upright: the median slope of OCR's lines (word
/// bottoms against x) is the page's skew, and every box is rotated back by it, so columns line
/// up with their header from the top of the page to the bottom.
pub fn deskew(words: &mut [Word]) {
    let mut by_line: std::collections::BTreeMap<u32, Vec<(f32, f32)>> = Default::default();
    for w in words.iter() {
        if let Some(line) = w.line {
            by_line
                .entry(line)
                .or_default()
                .push(((w.x0 + w.x1) / 2.0, w.bottom));
        }
    }
    let slopes: Vec<f32> = by_line
        .values()
        .filter(|points| points.len() >= 3)
        .filter_map(|points| {
            let n = points.len() as f32;
            let mx = points.iter().map(|p| p.0).sum::<f32>() / n;
            let my = points.iter().map(|p| p.1).sum::<f32>() / n;
            let sxx: f32 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
            let sxy: f32 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
            (sxx > 1.0).then(|| sxy / sxx)
        })
        .collect();
    let slope = median(slopes);
    if slope.abs() < 1e-4 || slope.abs() > 0.1 {
        return;
    }
    for w in words.iter_mut() {
        let (cx, cy) = ((w.x0 + w.x1) / 2.0, (w.top + w.bottom) / 2.0);
        // Rotating by -atan(slope): small angles, so first order is exact enough.
        let dx = slope * cy;
        let dy = -slope * cx;
        w.x0 += dx;
        w.x1 += dx;
        w.top += dy;
        w.bottom += dy;
    }
}

/// What a column of a results table holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Test,
    Result,
    InRange,
    OutOfRange,
    Flag,
    Units,
    Range,
    Previous,
    Other,
}

fn classify(label: &str) -> Column {
    let l = label.to_lowercase();
    // OCR glues header words (`TestName`, `ReferenceRange`): match without spaces too.
    let tight: String = l.chars().filter(|c| c.is_alphanumeric()).collect();
    let has = |w: &str| l.contains(w) || tight.contains(&w.replace(' ', ""));
    if has("previous") || has("prior") || has("last result") {
        Column::Previous
    } else if has("out of range") || has("out-of-range") {
        Column::OutOfRange
    } else if l.starts_with("in range") || has("within range") {
        Column::InRange
    } else if has("reference") || has("interval") || has("range") || l == "ref" {
        Column::Range
    } else if has("result") || has("value") || has("current") {
        Column::Result
    } else if has("flag") || l == "abn" || l == "h/l" {
        Column::Flag
    } else if has("unit") {
        Column::Units
    } else if has("test") || has("analyte") || has("component") || has("name") {
        Column::Test
    } else {
        Column::Other
    }
}

/// The columns a header line names, left to right, with where each starts.
#[derive(Debug, Clone, PartialEq)]
struct Header {
    columns: Vec<(f32, Column)>,
}

impl Header {
    /// A header when its labels name a test column, a result column and one more.
    /// `text_height`: the page's usual word height (a header's own boxes can be inflated by
    /// the rule OCR reads under it).
    fn find(line: &Line<'_>, text_height: f32) -> Option<Header> {
        // Words of one label are a space apart (a quarter em); labels are further apart.
        let gap = (text_height * 0.55).max(2.0);
        let mut labels: Vec<(f32, String)> = Vec::new();
        let mut last_end = f32::NEG_INFINITY;
        for w in &line.words {
            let text = w
                .text
                .trim_matches(|c: char| !c.is_alphanumeric() && c != '/');
            if text.is_empty() {
                continue;
            }
            // These words always start a label, however close OCR placed them.
            let starts_label = ["reference", "ref", "units", "unit"]
                .iter()
                .any(|k| text.to_lowercase().starts_with(k));
            match labels.last_mut() {
                Some((_, label)) if w.x0 - last_end < gap && !starts_label => {
                    label.push(' ');
                    label.push_str(text);
                }
                _ => labels.push((w.x0, text.to_owned())),
            }
            last_end = w.x1;
        }
        let mut columns: Vec<(f32, Column)> = labels
            .iter()
            .map(|(x, label)| (*x, classify(label)))
            .collect();
        // Beside an out-of-range column, a second "range" left of it is the in-range column
        // whose "In" OCR misread (`dn Range`).
        if let Some(out) = columns.iter().position(|c| c.1 == Column::OutOfRange)
            && !columns.iter().any(|c| c.1 == Column::InRange)
            && columns.iter().filter(|c| c.1 == Column::Range).count() >= 2
            && let Some(first) = columns[..out].iter().position(|c| c.1 == Column::Range)
        {
            columns[first].1 = Column::InRange;
        }
        let kinds: Vec<Column> = columns.iter().map(|c| c.1).collect();
        let results = kinds
            .iter()
            .any(|k| matches!(k, Column::Result | Column::InRange | Column::OutOfRange));
        let more = kinds
            .iter()
            .any(|k| matches!(k, Column::Units | Column::Range | Column::Flag));
        (kinds.first() == Some(&Column::Test) && results && more).then_some(Header { columns })
    }

    fn column_of(&self, w: &Word) -> Column {
        let tolerance = 4.0;
        self.columns
            .iter()
            .rev()
            .find(|(x, _)| w.x0 + tolerance >= *x)
            .map_or(Column::Test, |c| c.1)
    }
}

/// Reads every page: positioned tables where a header is found, the line reader elsewhere.
pub fn parse_pages(pages: &[PageWords]) -> Parsed {
    let mut parsed = Parsed::default();
    let mut header: Option<Header> = None;
    let mut panel = Panel::default();
    for page in pages {
        let lines = lines(page);
        let text_height = median(page.words.iter().map(Word::height).collect());
        let page_header = lines
            .iter()
            .position(|l| Header::find(l, text_height).is_some());
        for (i, line) in lines.iter().enumerate() {
            let text = join(&line.words);
            if parsed.collected_at.is_none() {
                parsed.collected_at = parse::collection_date(&text);
            }
            if Some(i) == page_header {
                header = Header::find(line, text_height);
                continue;
            }
            match &header {
                // Above this page's header: the patient block, repeated on every page.
                Some(_) if page_header.is_some_and(|h| i < h) => {}
                Some(h) => match table_row(h, line, &mut panel, page.ocr) {
                    Row::Result(result) => parsed.results.push(*result),
                    Row::Nothing => {}
                    // Words that do not line up with the header (a "table" typed with spaces
                    // in a proportional font): read the line as a line.
                    Row::Misaligned(table_reading) => {
                        // The line without what stands under a previous-result header.
                        let current: Vec<&Word> = line
                            .words
                            .iter()
                            .copied()
                            .filter(|w| h.column_of(w) != Column::Previous)
                            .collect();
                        let text = join(&current);
                        let line_reading = parse::parse_row(&text).map(|mut result| {
                            result.confidence = page.ocr.then(|| line_confidence(&line.words));
                            result
                        });
                        if let Some(result) = line_reading.or(table_reading.map(|r| *r)) {
                            parsed.results.push(result);
                        }
                    }
                },
                None => {
                    if let Some(mut result) = parse::parse_row(&text) {
                        result.confidence = page.ocr.then(|| line_confidence(&line.words));
                        parsed.results.push(result);
                    }
                }
            }
        }
    }
    parsed
}

/// The panel heading rows stand under, and how far its rows are indented.
#[derive(Debug, Default)]
struct Panel {
    name: Option<String>,
    heading_x: f32,
    row_x: Option<f32>,
}

fn line_confidence(words: &[&Word]) -> f32 {
    words
        .iter()
        .filter_map(|w| w.confidence)
        .fold(1.0, f32::min)
}

/// What a line under a header is.
enum Row {
    Result(Box<LabResult>),
    /// A heading (the panel is updated), a footer, a previous result alone: no value.
    Nothing,
    /// Its result column holds words that are not a value, or its range column numbers that
    /// are not a range: the columns do not fit it. What the columns gave, when anything.
    Misaligned(Option<Box<LabResult>>),
}

/// One row of a table (or a panel heading, which updates `panel` and yields nothing).
fn table_row(header: &Header, line: &Line<'_>, panel: &mut Panel, ocr: bool) -> Row {
    match read_row(header, line, panel, ocr) {
        Some(Ok(result)) => Row::Result(Box::new(result)),
        Some(Err(Misaligned(reading))) => Row::Misaligned(reading.map(Box::new)),
        None => Row::Nothing,
    }
}

struct Misaligned(Option<LabResult>);

fn read_row(
    header: &Header,
    line: &Line<'_>,
    panel: &mut Panel,
    ocr: bool,
) -> Option<Result<LabResult, Misaligned>> {
    let mut cells: Vec<(Column, Vec<&Word>)> = Vec::new();
    for w in &line.words {
        if line.is_superscript(w) {
            continue;
        }
        let column = header.column_of(w);
        match cells.iter_mut().find(|(c, _)| *c == column) {
            Some((_, words)) => words.push(w),
            None => cells.push((column, vec![w])),
        }
    }
    let cell = |c: Column| -> Vec<&Word> {
        cells
            .iter()
            .find(|(k, _)| *k == c)
            .map(|(_, w)| w.clone())
            .unwrap_or_default()
    };
    let name_words = cell(Column::Test);
    let name = clean_name(&join(&name_words));
    if name.is_empty() || !name.chars().next().is_some_and(char::is_alphabetic) {
        return None;
    }
    let name_x = name_words.first().map_or(0.0, |w| w.x0);
    let others = cells.iter().any(|(c, _)| *c != Column::Test);
    if !others {
        // A heading: a short line of words alone in the test column.
        if name.split_whitespace().count() <= 8 && !name.contains(':') {
            *panel = Panel {
                name: Some(name),
                heading_x: name_x,
                row_x: None,
            };
        }
        return None;
    }
    // A row back at the heading's indent after indented rows has left the panel.
    if let Some(row_x) = panel.row_x
        && row_x > panel.heading_x + 4.0
        && name_x < row_x - 4.0
    {
        *panel = Panel::default();
    }

    // The value, and flags printed in the result column (`105 High`, `1.41H`).
    let mut printed_flags: Vec<String> = Vec::new();
    let mut value_parts: Vec<&str> = Vec::new();
    let mut value_words: Vec<&Word> = Vec::new();
    let mut out_of_range = false;
    for column in [Column::Result, Column::InRange, Column::OutOfRange] {
        let words = cell(column);
        if words.is_empty() || !value_parts.is_empty() {
            continue;
        }
        out_of_range = column == Column::OutOfRange;
        for w in words {
            let (value, flag) = split_glued_flag(&w.text);
            if let Some(flag) = flag {
                printed_flags.push(flag.to_owned());
            }
            if !value.is_empty() {
                value_parts.push(value);
            }
            value_words.push(w);
        }
    }
    printed_flags.extend(cell(Column::Flag).iter().map(|w| w.text.clone()));
    let value = match value_text(&value_parts) {
        Some(value) => value,
        // `Normal` alone is a qualitative result, not a flag.
        None => {
            let at = printed_flags.iter().position(|f| is_qualitative(f))?;
            printed_flags.remove(at)
        }
    };

    let mut unit = non_empty(join(&cell(Column::Units)));
    let mut range = non_empty(clean_range(&join(&cell(Column::Range))));
    if unit.is_none()
        && let Some(r) = range.clone()
        && let Some((rest, u)) = r.rsplit_once(' ')
        && parse::looks_like_unit(u)
    {
        unit = Some(u.to_owned());
        range = non_empty(rest.trim().to_owned());
    }
    let unit = unit.map(|u| clean_unit(&u));
    let numeric = parse::numeric_value(&value);
    if numeric.is_none() && !is_qualitative(&value) {
        return Some(Err(Misaligned(None)));
    }
    // A flag that ran into the range's column (`3.5 - 5.1 L`).
    if let Some(r) = range.clone()
        && parse::range_bounds(&r).is_none()
        && let Some((rest, last)) = r.rsplit_once(' ')
        && flag_word(last).is_some()
        && parse::range_bounds(rest).is_some()
    {
        printed_flags.push(last.to_owned());
        range = Some(rest.trim().to_owned());
    }
    let bounds = range.as_deref().and_then(parse::range_bounds);
    // A range with numbers that is not a range: the row's words may not be where the header
    // says (or it is a range of its own kind, `<1:40`: kept when the line reader cannot help).
    let misaligned = bounds.is_none()
        && range
            .as_deref()
            .is_some_and(|r| r.chars().any(|c| c.is_ascii_digit()));
    let flag = decide_flag(
        &printed_flags,
        &value,
        numeric,
        bounds,
        range.as_deref(),
        out_of_range,
    );
    let previous = previous_result(&cell(Column::Previous));
    let confidence = ocr.then(|| {
        let mut words = value_words.clone();
        words.extend(cell(Column::Flag));
        line_confidence(&words)
    });
    if panel.name.is_some() && panel.row_x.is_none() {
        panel.row_x = Some(name_x);
    }
    let reading = LabResult {
        name,
        value,
        unit,
        reference_range: range,
        flag,
        panel: panel.name.clone(),
        loinc: None,
        unit_ucum: None,
        previous,
        confidence,
    };
    Some(if misaligned {
        Err(Misaligned(Some(reading)))
    } else {
        Ok(reading)
    })
}

fn join(words: &[&Word]) -> String {
    let mut out = String::new();
    for w in words {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&w.text);
    }
    parse::normalise(&out)
}

fn non_empty(s: String) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

/// What footnote superscripts become in OCR, and punctuation that never ends a test name.
const FOOTNOTE_MARKS: &[char] = &[
    '"', '\'', '”', '“', '’', '‘', '®', '™', '°', '*', '!', '^', '•', '†', '‡', '§', '¹', '²', '³',
    '⁰', '|',
];

/// Strips footnote marks OCR reads as symbols or digits glued to the name (`Glucose”`,
/// `BUN®!`, `Creatinine01`), keeping real digits (`Vitamin B12`, `A1c`).
pub fn clean_name(raw: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    for token in raw.split_whitespace() {
        let mut t: &str = token.trim_end_matches(FOOTNOTE_MARKS);
        // Two footnote digits glued after a lower-case letter (`Glucose01`, `A1c03`).
        let chars: Vec<char> = t.chars().collect();
        let n = chars.len();
        if n > 3
            && chars[n - 1].is_ascii_digit()
            && chars[n - 2].is_ascii_digit()
            && chars[n - 3].is_lowercase()
        {
            t = &t[..t.len() - 2];
        }
        if t.chars().any(char::is_alphanumeric) || t == "%" {
            words.push(t.to_owned());
        }
    }
    // A separate footnote number at the end (`Glucose 01`) or a lone symbol.
    while words.len() > 1
        && words
            .last()
            .is_some_and(|w| w.len() <= 2 && w.chars().all(|c| c.is_ascii_digit()))
    {
        words.pop();
    }
    words.join(" ")
}

/// A reference range as printed, without OCR's stray leading marks or a trailing full stop.
fn clean_range(raw: &str) -> String {
    let t = raw
        .trim()
        .trim_start_matches(|c: char| !(c.is_alphanumeric() || "<>≤≥".contains(c)));
    let t = t.trim_end_matches(|c: char| c == '|' || c == '_' || c.is_whitespace());
    match t.strip_suffix('.') {
        Some(rest) if rest.ends_with(|c: char| c.is_ascii_digit()) => rest.to_owned(),
        _ => t.to_owned(),
    }
}

fn clean_unit(raw: &str) -> String {
    raw.trim_matches(|c: char| c == '|' || c == '_' || c == '.' && !raw.ends_with("1.73"))
        .to_owned()
}

/// A value with a flag letter glued to it (`1.41H`, `58L`): value and flag apart.
fn split_glued_flag(token: &str) -> (&str, Option<&str>) {
    if flag_word(token).is_some() && !parse::is_value(token) {
        return ("", Some(token));
    }
    for suffix in ["HH", "LL", "H", "L", "A", "*"] {
        if let Some(value) = token.strip_suffix(suffix)
            && parse::is_value(value)
        {
            return (value, Some(suffix));
        }
    }
    (token, None)
}

/// What one printed flag says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Printed {
    Flag(Flag),
    /// Critical, direction from the range.
    Critical,
}

fn flag_word(token: &str) -> Option<Printed> {
    let t = token
        .trim_matches(|c: char| "*!()[]".contains(c))
        .to_ascii_lowercase();
    let t = if t.is_empty() && token.contains(['*', '!']) {
        "*".to_owned()
    } else {
        t
    };
    Some(match t.as_str() {
        "h" | "high" | "hi" | "↑" => Printed::Flag(Flag::High),
        "l" | "low" | "lo" | "↓" => Printed::Flag(Flag::Low),
        "hh" | "ch" | "critical high" => Printed::Flag(Flag::CriticalHigh),
        "ll" | "cl" | "critical low" => Printed::Flag(Flag::CriticalLow),
        "a" | "abn" | "abnormal" => Printed::Flag(Flag::Abnormal),
        "n" | "normal" => Printed::Flag(Flag::Normal),
        "critical" | "crit" | "c" | "*" | "panic" => Printed::Critical,
        _ => return None,
    })
}

fn decide_flag(
    printed: &[String],
    value: &str,
    numeric: Option<f64>,
    bounds: Option<Bounds>,
    range: Option<&str>,
    out_of_range: bool,
) -> Option<Flag> {
    let computed = match (numeric, bounds) {
        (Some(v), Some(b)) => Some(b.flag(v)),
        (None, None) => range.map(|r| qualitative_flag(value, r)),
        _ => None,
    };
    let joined = printed.join(" ");
    let printed = flag_word(&joined).or_else(|| printed.iter().find_map(|p| flag_word(p)));
    match printed {
        Some(Printed::Flag(flag)) => Some(flag),
        Some(Printed::Critical) => Some(match computed {
            Some(Flag::Low) => Flag::CriticalLow,
            Some(Flag::High) => Flag::CriticalHigh,
            _ => Flag::Abnormal,
        }),
        None if out_of_range => match computed {
            Some(Flag::Normal) | None => Some(Flag::Abnormal),
            other => other,
        },
        None => computed,
    }
}

/// The flag a value earns against its range when nothing is printed (a corrected value).
pub(crate) fn computed_flag(value: &str, range: Option<&str>) -> Option<Flag> {
    let numeric = parse::numeric_value(value);
    let bounds = range.and_then(parse::range_bounds);
    decide_flag(&[], value, numeric, bounds, range, false)
}

/// A qualitative result against its expected value(s): `Negative` in `Negative/Trace`.
fn qualitative_flag(value: &str, range: &str) -> Flag {
    let v = value.trim().to_lowercase();
    let expected = range
        .split(['/', ',', ';'])
        .map(|r| r.trim().to_lowercase())
        .any(|r| r == v);
    if expected {
        Flag::Normal
    } else {
        Flag::Abnormal
    }
}

/// Results reported as words rather than numbers.
fn is_qualitative(value: &str) -> bool {
    const WORDS: &[&str] = &[
        "negative",
        "positive",
        "not detected",
        "detected",
        "trace",
        "reactive",
        "non-reactive",
        "nonreactive",
        "normal",
        "abnormal",
        "present",
        "absent",
        "none seen",
        "indeterminate",
        "equivocal",
        "clear",
        "cloudy",
        "hazy",
        "turbid",
        "yellow",
        "straw",
        "amber",
        "few",
        "moderate",
        "many",
        "small",
        "large",
        "1+",
        "2+",
        "3+",
        "4+",
    ];
    WORDS.contains(&value.trim().to_lowercase().as_str())
}

fn value_text(parts: &[&str]) -> Option<String> {
    let text = parse::normalise(&parts.join(" "));
    let text = text.trim_matches(|c: char| c == '|' || c == '_');
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// `98 10/02/2025` or `14.1 (10/02/2025)`: the value and its date.
fn previous_result(words: &[&Word]) -> Option<PreviousResult> {
    if words.is_empty() {
        return None;
    }
    let mut date = None;
    let mut value = Vec::new();
    for w in words {
        let t = w.text.trim_matches(['(', ')', ',']);
        if t.contains('/') && t.chars().filter(char::is_ascii_digit).count() >= 6
            || t.len() == 10 && t.chars().filter(|c| *c == '-').count() == 2
        {
            date = Some(t.to_owned());
        } else if flag_word(t).is_none() || parse::is_value(t) {
            value.push(t);
        }
    }
    let value = value.join(" ");
    (!value.is_empty()).then_some(PreviousResult { value, date })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(text: &str, x0: f32, top: f32, size: f32) -> Word {
        Word {
            text: text.into(),
            x0,
            x1: x0 + text.len() as f32 * size * 0.5,
            top,
            bottom: top + size,
            confidence: None,
            line: None,
        }
    }

    fn row(cells: &[(&str, f32)], top: f32) -> Vec<Word> {
        let mut out = Vec::new();
        for (text, x) in cells {
            let mut x = *x;
            for t in text.split(' ') {
                let w = word(t, x, top, 8.0);
                x = w.x1 + 2.0;
                out.push(w);
            }
        }
        out
    }

    #[test]
    fn the_previous_result_is_never_the_current_one() {
        let mut words = row(
            &[
                ("Test", 40.0),
                ("Current Result and Flag", 215.0),
                ("Previous Result and Date", 322.0),
                ("Units", 432.0),
                ("Reference Interval", 495.0),
            ],
            100.0,
        );
        words.extend(row(&[("Comp. Metabolic Panel (14)", 40.0)], 115.0));
        let mut glucose = row(
            &[
                ("Glucose", 52.0),
                ("105 High", 215.0),
                ("98 10/02/2025", 322.0),
                ("mg/dL", 432.0),
                ("70-99", 495.0),
            ],
            128.0,
        );
        // The footnote mark: smaller, raised, glued to the name.
        glucose.push(word("01", 80.5, 125.0, 5.0));
        words.extend(glucose);
        // Only a previous value, no current one: not a row.
        words.extend(row(
            &[("Creatinine", 52.0), ("1.02 10/02/2025", 322.0)],
            141.0,
        ));
        words.extend(row(
            &[
                ("Hemoglobin A1c", 40.0),
                ("6.8", 215.0),
                ("%", 432.0),
                ("4.8-5.6", 495.0),
            ],
            154.0,
        ));
        let parsed = parse_pages(&[PageWords { words, ocr: false }]);
        let names: Vec<_> = parsed.results.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["Glucose", "Hemoglobin A1c"]);
        let g = &parsed.results[0];
        assert_eq!(
            (
                g.value.as_str(),
                g.flag,
                g.unit.as_deref(),
                g.reference_range.as_deref()
            ),
            ("105", Some(Flag::High), Some("mg/dL"), Some("70-99"))
        );
        assert_eq!(g.panel.as_deref(), Some("Comp. Metabolic Panel (14)"));
        assert_eq!(g.previous.as_ref().unwrap().value, "98");
        // Back at the heading's indent: outside the panel; the flag computed from the range.
        let a1c = &parsed.results[1];
        assert_eq!((a1c.panel.as_deref(), a1c.flag), (None, Some(Flag::High)));
    }

    #[test]
    fn in_and_out_of_range_columns_and_flag_words() {
        let mut words = row(
            &[
                ("Test Name", 40.0),
                ("In Range", 250.0),
                ("Out Of Range", 320.0),
                ("Reference Range", 400.0),
                ("Lab", 540.0),
            ],
            100.0,
        );
        words.extend(row(
            &[
                ("GLUCOSE", 40.0),
                ("105 H", 320.0),
                ("65-99 mg/dL", 400.0),
                ("EN", 540.0),
            ],
            113.0,
        ));
        words.extend(row(
            &[("HDL", 40.0), ("38", 320.0), ("> OR = 40 mg/dL", 400.0)],
            126.0,
        ));
        words.extend(row(
            &[("SODIUM", 40.0), ("139", 250.0), ("134-144 mmol/L", 400.0)],
            139.0,
        ));
        let parsed = parse_pages(&[PageWords { words, ocr: false }]);
        let got: Vec<_> = parsed
            .results
            .iter()
            .map(|r| {
                (
                    r.value.as_str(),
                    r.unit.as_deref(),
                    r.reference_range.as_deref(),
                    r.flag,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("105", Some("mg/dL"), Some("65-99"), Some(Flag::High)),
                ("38", Some("mg/dL"), Some("> OR = 40"), Some(Flag::Low)),
                ("139", Some("mmol/L"), Some("134-144"), Some(Flag::Normal)),
            ]
        );
    }

    #[test]
    fn critical_and_qualitative_results() {
        let mut words = row(
            &[
                ("Test", 40.0),
                ("Result", 210.0),
                ("Flag", 280.0),
                ("Units", 340.0),
                ("Reference Range", 410.0),
            ],
            100.0,
        );
        words.extend(row(
            &[
                ("Potassium", 40.0),
                ("6.8", 210.0),
                ("Critical", 280.0),
                ("mmol/L", 340.0),
                ("3.5-5.2", 410.0),
            ],
            113.0,
        ));
        words.extend(row(
            &[
                ("Glucose", 40.0),
                ("45", 210.0),
                ("Critical", 280.0),
                ("mg/dL", 340.0),
                ("70-99", 410.0),
            ],
            126.0,
        ));
        words.extend(row(
            &[("Blood", 40.0), ("Trace", 210.0), ("Negative", 410.0)],
            139.0,
        ));
        words.extend(row(
            &[
                ("Protein", 40.0),
                ("Negative", 210.0),
                ("Negative/Trace", 410.0),
            ],
            152.0,
        ));
        words.extend(row(
            &[
                ("Critical values were", 40.0),
                ("telephoned to the clinician.", 210.0),
            ],
            170.0,
        ));
        let parsed = parse_pages(&[PageWords { words, ocr: false }]);
        let flags: Vec<_> = parsed.results.iter().map(|r| r.flag).collect();
        assert_eq!(
            flags,
            [
                Some(Flag::CriticalHigh),
                Some(Flag::CriticalLow),
                Some(Flag::Abnormal),
                Some(Flag::Normal)
            ]
        );
    }

    #[test]
    fn footnote_marks_and_ocr_noise_leave_names() {
        for (raw, clean) in [
            ("Glucose”", "Glucose"),
            ("BUN®!", "BUN"),
            ("Creatinine01", "Creatinine"),
            ("Hemoglobin A1c03", "Hemoglobin A1c"),
            ("Vitamin B12", "Vitamin B12"),
            ("Albumin ®", "Albumin"),
            ("Glucose 01", "Glucose"),
            ("AST (SGOT)\"!", "AST (SGOT)"),
            ("Hematocrit %", "Hematocrit %"),
        ] {
            assert_eq!(clean_name(raw), clean, "{raw}");
        }
        assert_eq!(split_glued_flag("1.41H"), ("1.41", Some("H")));
        assert_eq!(split_glued_flag("High"), ("", Some("High")));
        assert_eq!(split_glued_flag("105"), ("105", None));
        assert_eq!(clean_range("—_>59"), ">59");
        assert_eq!(clean_range("6.0-8.5."), "6.0-8.5");
        assert_eq!(clean_range("Not Estab."), "Not Estab.");
    }

    #[test]
    fn rows_that_do_not_line_up_with_their_header_are_read_as_lines() {
        // A "table" typed with spaces: the header's columns say nothing about the rows.
        let text = "Test    Result    Unit    Reference range    Flag\n\
                    White blood cells    11.2    10^9/L    4.0 - 10.0    H\n\
                    Hemoglobin    13.5    g/dL    12.0 - 16.0\n\
                    Potassium 3.2  mmol/L    3.5 - 5.1 L\n\
                    Creatinine            1.02 10/02/2025\n";
        let parsed = parse_pages(&PageWords::from_text(text));
        let got: Vec<_> = parsed
            .results
            .iter()
            .map(|r| (r.name.as_str(), r.value.as_str(), r.flag))
            .collect();
        assert_eq!(
            got,
            [
                ("White blood cells", "11.2", Some(Flag::High)),
                ("Hemoglobin", "13.5", Some(Flag::Normal)),
                ("Potassium", "3.2", Some(Flag::Low))
            ]
        );
    }

    #[test]
    fn a_row_without_a_current_value_never_takes_the_previous_one() {
        let mut words = row(
            &[
                ("Test", 40.0),
                ("Result", 215.0),
                ("Previous Result and Date", 322.0),
                ("Units", 432.0),
            ],
            100.0,
        );
        // "Test not performed": not a value; the line is read without its previous result.
        words.extend(row(
            &[("Glucose", 40.0), ("TNP", 215.0), ("98 10/02/2025", 322.0)],
            113.0,
        ));
        let parsed = parse_pages(&[PageWords { words, ocr: false }]);
        assert_eq!(parsed.results, vec![]);
    }

    #[test]
    fn plain_text_goes_through_the_line_reader() {
        let pages = PageWords::from_text("Collected: 2026-11-20\nSodium 139 mmol/L 135 - 145\n");
        let parsed = parse_pages(&pages);
        assert_eq!(parsed.results.len(), 1);
        assert_eq!(parsed.collected_at.unwrap().to_string(), "2026-11-20");
    }
}
