"""Lab reports in the layouts clinics receive, with the exact values the processor must read.

Three layouts, drawn at fixed positions the way laboratory systems print them:

- ``commercial``: Test | Current Result and Flag | Previous Result and Date | Units | Reference
  Interval; panels as headings, footnote superscripts glued to test names, two pages with the
  patient header and footer repeated, ranges like ``>59`` and ``Not Estab.``, qualitative results.
- ``split``: Test Name | In Range | Out Of Range | Reference Range | Lab, the units inside the
  range column (``65-99 mg/dL``, ``> OR = 40 mg/dL``), upper-case names.
- ``hospital``: Test | Result | Flag | Units | Reference Range | Previous, flags as words in their
  own column, two pages.

Each is written as a text PDF and the first two also as scans (rasterised at 300 dpi, slightly
rotated and noisy, back into an image-only PDF) for OCR. ``expected/{name}.json`` lists what must
be read from each. Run through ``scripts/make-lab-layouts.sh``.
"""

import json
import random
import sys
from pathlib import Path

from reportlab.lib.pagesizes import letter
from reportlab.pdfgen import canvas

PAGE_W, PAGE_H = letter

# panel, name, footnote, value, printed flag, previous (value, date), unit, range, expected flag
CMP = "Comp. Metabolic Panel (14)"
CBC = "CBC With Differential/Platelet"
LIPID = "Lipid Panel"
UA = "Urinalysis, Routine"
ROWS = [
    (CMP, "Glucose", "01", "105", "High", ("98", "10/02/2025"), "mg/dL", "70-99", "H"),
    (CMP, "BUN", "01", "14", "", ("16", "10/02/2025"), "mg/dL", "6-24", "normal"),
    (CMP, "Creatinine", "01", "1.41", "High", ("1.02", "10/02/2025"), "mg/dL", "0.76-1.27", "H"),
    (CMP, "eGFR", "", "58", "Low", ("88", "10/02/2025"), "mL/min/1.73", ">59", "L"),
    (CMP, "BUN/Creatinine Ratio", "", "10", "", None, "", "9-20", "normal"),
    (CMP, "Sodium", "01", "139", "", ("141", "10/02/2025"), "mmol/L", "134-144", "normal"),
    (CMP, "Potassium", "01", "6.8", "Critical", ("4.4", "10/02/2025"), "mmol/L", "3.5-5.2", "HH"),
    (CMP, "Chloride", "01", "101", "", None, "mmol/L", "96-106", "normal"),
    (CMP, "Carbon Dioxide, Total", "01", "22", "", None, "mmol/L", "20-29", "normal"),
    (CMP, "Calcium", "01", "9.6", "", None, "mg/dL", "8.7-10.2", "normal"),
    (CMP, "Protein, Total", "01", "7.1", "", None, "g/dL", "6.0-8.5", "normal"),
    (CMP, "Albumin", "02", "4.5", "", None, "g/dL", "3.8-4.9", "normal"),
    (CMP, "Globulin, Total", "", "2.6", "", None, "g/dL", "1.5-4.5", "normal"),
    (CMP, "Bilirubin, Total", "01", "0.4", "", None, "mg/dL", "0.0-1.2", "normal"),
    (CMP, "Alkaline Phosphatase", "01", "72", "", None, "IU/L", "44-121", "normal"),
    (CMP, "AST (SGOT)", "01", "21", "", None, "IU/L", "0-40", "normal"),
    (CMP, "ALT (SGPT)", "01", "48", "High", ("30", "10/02/2025"), "IU/L", "0-44", "H"),
    (CBC, "WBC", "", "11.2", "High", ("6.1", "10/02/2025"), "x10E3/uL", "3.4-10.8", "H"),
    (CBC, "RBC", "", "4.61", "", None, "x10E6/uL", "4.14-5.80", "normal"),
    (CBC, "Hemoglobin", "", "13.5", "", ("14.1", "10/02/2025"), "g/dL", "13.0-17.7", "normal"),
    (CBC, "Hematocrit", "", "41.2", "", None, "%", "37.5-51.0", "normal"),
    (CBC, "MCV", "", "89", "", None, "fL", "79-97", "normal"),
    (CBC, "Platelets", "", "250", "", None, "x10E3/uL", "150-450", "normal"),
    (CBC, "Neutrophils", "", "71", "", None, "%", "Not Estab.", None),
    (LIPID, "Cholesterol, Total", "", "212", "High", ("198", "04/11/2025"), "mg/dL", "100-199", "H"),
    (LIPID, "Triglycerides", "", "145", "", None, "mg/dL", "0-149", "normal"),
    (LIPID, "HDL Cholesterol", "", "38", "Low", None, "mg/dL", ">39", "L"),
    (LIPID, "LDL Chol Calc (NIH)", "", "148", "High", None, "mg/dL", "0-99", "H"),
    (None, "Hemoglobin A1c", "03", "6.1", "High", ("5.9", "04/11/2025"), "%", "4.8-5.6", "H"),
    (None, "TSH", "", "2.100", "", None, "uIU/mL", "0.450-4.500", "normal"),
    (None, "Vitamin D, 25-Hydroxy", "", "18.2", "Low", None, "ng/mL", "30.0-100.0", "L"),
    (None, "PSA", "", "1.2", "", None, "ng/mL", "0.0-4.0", "normal"),
    (None, "Testosterone", "", "512", "", None, "ng/dL", "264-916", "normal"),
    (UA, "Specific Gravity", "", "1.021", "", None, "", "1.005-1.030", "normal"),
    (UA, "pH", "", "6.0", "", None, "", "5.0-7.5", "normal"),
    (UA, "Protein", "", "Negative", "", None, "", "Negative/Trace", "normal"),
    (UA, "Glucose", "", "Negative", "", None, "", "Negative", "normal"),
    (UA, "Blood", "", "Trace", "Abnormal", None, "", "Negative", "A"),
    (UA, "Nitrite", "", "Negative", "", None, "", "Negative", "normal"),
    (UA, "Leukocyte Esterase", "", "Not Detected", "", None, "", "Not Detected", "normal"),
]

PATIENT = ("DOE, JANE", "04/01/1990", "F")
COLLECTED = "11/20/2026 08:15"
COLLECTED_ISO = "2026-11-20"

FONT, BOLD = "Helvetica", "Helvetica-Bold"


def expected_row(row, name=None, unit=None, reference_range=None):
    panel, printed, _, value, _, previous, u, rng, flag = row
    return {
        "panel": panel,
        "name": name or printed,
        "value": value,
        "unit": (unit if unit is not None else u) or None,
        "reference_range": reference_range or rng,
        "flag": flag,
        "previous": {"value": previous[0], "date": previous[1]} if previous else None,
    }


def text(c, x, y, s, size=8.5, font=FONT):
    c.setFont(font, size)
    c.drawString(x, y, s)
    return c.stringWidth(s, font, size)


# ---------------------------------------------------------------- commercial (two pages)

def commercial(path):
    c = canvas.Canvas(path, pagesize=letter)
    cols = {"test": 40, "current": 215, "previous": 322, "units": 432, "range": 495}
    pages = [ROWS[:24], ROWS[24:]]
    expected = []
    for number, rows in enumerate(pages, start=1):
        y = PAGE_H - 50
        text(c, 40, y, "CareFlow Reference Laboratories", 13, BOLD)
        y -= 18
        text(c, 40, y, f"Patient: {PATIENT[0]}    DOB: {PATIENT[1]}    Sex: {PATIENT[2]}", 9)
        text(c, 360, y, "Specimen ID: 324-118-2207-0", 9)
        y -= 12
        text(c, 40, y, f"Date Collected: {COLLECTED}", 9)
        text(c, 360, y, "Date Reported: 11/21/2026 06:02", 9)
        y -= 12
        text(c, 40, y, "Ordering Physician: A LOVELACE", 9)
        y -= 22
        for key, label in [("test", "Test"), ("current", "Current Result and Flag"),
                           ("previous", "Previous Result and Date"), ("units", "Units"),
                           ("range", "Reference Interval")]:
            text(c, cols[key], y, label, 8.5, BOLD)
        c.line(40, y - 4, PAGE_W - 40, y - 4)
        y -= 18
        panel = None
        for row in rows:
            p, name, note, value, flag, previous, unit, rng, _ = row
            if p != panel:
                if p:
                    text(c, 40, y, p, 9, BOLD)
                    y -= 14
                panel = p
            indent = 52 if p else 40
            w = text(c, indent, y, name)
            if note:
                text(c, indent + w + 0.5, y + 3.2, note, 5.5)
            text(c, cols["current"], y, value)
            if flag:
                text(c, cols["current"] + 48, y, flag)
            if previous:
                text(c, cols["previous"], y, previous[0])
                text(c, cols["previous"] + 38, y, previous[1])
            if unit:
                text(c, cols["units"], y, unit)
            text(c, cols["range"], y, rng)
            expected.append(expected_row(row))
            y -= 13
        y = 60
        c.line(40, y + 12, PAGE_W - 40, y + 12)
        text(c, 40, y, "01  CF Central Lab, 1447 York Court, Burlington, NC 27215   Dir: M Smith, MD", 7)
        text(c, 40, y - 9, "02  CF East Lab, 69 First Ave, Raritan, NJ 08869   Dir: T Doe, MD", 7)
        text(c, 40, y - 18, "03  Method: HPLC, NGSP certified", 7)
        text(c, PAGE_W - 110, y - 18, f"Page {number} of {len(pages)}", 8)
        c.showPage()
    c.save()
    return expected


# ---------------------------------------------------------------- split in/out of range

SPLIT_ROWS = [r for r in ROWS if r[0] in (CMP, LIPID)][:14]


def split_range(rng, unit):
    if rng.startswith(">"):
        rng = f"> OR = {int(rng[1:]) + 1}"
    return f"{rng} {unit}".strip()


def split(path):
    c = canvas.Canvas(path, pagesize=letter)
    cols = {"test": 40, "in": 250, "out": 320, "range": 400, "lab": 540}
    y = PAGE_H - 50
    text(c, 40, y, "CAREFLOW DIAGNOSTICS", 13, BOLD)
    y -= 16
    text(c, 40, y, f"Patient Name: {PATIENT[0]}", 9)
    text(c, 300, y, f"Collected: {COLLECTED}", 9)
    y -= 12
    text(c, 40, y, f"DOB: {PATIENT[1]}   Gender: {PATIENT[2]}", 9)
    text(c, 300, y, "Received: 11/20/2026 12:40", 9)
    y -= 24
    for key, label in [("test", "Test Name"), ("in", "In Range"), ("out", "Out Of Range"),
                       ("range", "Reference Range"), ("lab", "Lab")]:
        text(c, cols[key], y, label, 8.5, BOLD)
    c.line(40, y - 4, PAGE_W - 40, y - 4)
    y -= 18
    expected = []
    panel = None
    for row in SPLIT_ROWS:
        p, name, _, value, flag, _, unit, rng, _ = row
        if p != panel:
            text(c, 40, y, p.upper(), 9, BOLD)
            y -= 14
            panel = p
        text(c, 40, y, name.upper())
        if flag:
            letter_flag = {"High": "H", "Low": "L", "Critical": "H"}[flag]
            text(c, cols["out"], y, f"{value} {letter_flag}")
        else:
            text(c, cols["in"], y, value)
        printed_range = split_range(rng, unit)
        text(c, cols["range"], y, printed_range)
        text(c, cols["lab"], y, "EN")
        y -= 13
        e = expected_row(row, name=name.upper(), unit=unit,
                         reference_range=printed_range[: len(printed_range) - len(unit)].strip())
        e["panel"] = p.upper()
        # The split layout prints a critical value as H: the flag column says H, not HH.
        if row[8] == "HH":
            e["flag"] = "H"
        e["previous"] = None
        expected.append(e)
    y -= 10
    text(c, 40, y, "Flags: H = above the reference range, L = below. Values in the Out Of Range column", 7)
    text(c, 40, y - 9, "are outside the reference range. EN: CareFlow Diagnostics Endocrine, 1 Main St.", 7)
    c.showPage()
    c.save()
    return expected


# ---------------------------------------------------------------- hospital (flag column)

HOSPITAL_ROWS = [r for r in ROWS if r[0] in (CBC, None)] + [
    (None, "Glucose, Fasting", "", "45", "Critical", ("88", "2026-05-12"), "mg/dL", "70-99", "LL"),
] + [r for r in ROWS if r[0] == UA]


def hospital(path):
    c = canvas.Canvas(path, pagesize=letter)
    cols = {"test": 40, "result": 210, "flag": 280, "units": 340, "range": 410, "previous": 500}
    pages = [HOSPITAL_ROWS[:10], HOSPITAL_ROWS[10:]]
    expected = []
    for number, rows in enumerate(pages, start=1):
        y = PAGE_H - 50
        text(c, 40, y, "St. Example General Hospital - Laboratory Medicine", 12, BOLD)
        y -= 16
        text(c, 40, y, f"Name: {PATIENT[0]}  MRN: 00482913  DOB: {PATIENT[1]}", 9)
        y -= 12
        text(c, 40, y, "Specimen collected 2026-11-20 08:15   Accession: H26-0091827", 9)
        y -= 22
        for key, label in [("test", "Test"), ("result", "Result"), ("flag", "Flag"),
                           ("units", "Units"), ("range", "Reference Range"), ("previous", "Previous")]:
            text(c, cols[key], y, label, 8.5, BOLD)
        c.line(40, y - 4, PAGE_W - 40, y - 4)
        y -= 18
        panel = None
        for row in rows:
            p, name, _, value, flag, previous, unit, rng, expected_flag = row
            if p != panel:
                if p:
                    text(c, 40, y, p, 9, BOLD)
                    y -= 14
                panel = p
            text(c, 48 if p else 40, y, name)
            text(c, cols["result"], y, value)
            if flag:
                text(c, cols["flag"], y, flag)
            if unit:
                text(c, cols["units"], y, unit)
            text(c, cols["range"], y, rng)
            if previous:
                text(c, cols["previous"], y, f"{previous[0]} ({previous[1]})")
            expected.append(expected_row(row))
            y -= 13
        text(c, 40, 50, "Critical values were telephoned to the ordering clinician.", 7)
        text(c, PAGE_W - 110, 50, f"Page {number} of {len(pages)}", 8)
        c.showPage()
    c.save()
    return expected


def scan(pdf, out, dpi, seed):
    """Rasterises a text PDF the way a fax or scanner would and wraps it as image-only PDF."""
    import subprocess
    import tempfile

    from PIL import Image, ImageFilter

    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["pdftoppm", "-r", str(dpi), "-gray", "-png", pdf, f"{tmp}/p"], check=True)
        pages = sorted(Path(tmp).glob("p*.png"))
        c = canvas.Canvas(out, pagesize=letter)
        for i, page in enumerate(pages):
            img = Image.open(page).convert("L")
            img = img.rotate(rng.uniform(-0.6, 0.6), resample=Image.BICUBIC, fillcolor=255)
            img = img.filter(ImageFilter.GaussianBlur(0.6))
            px = img.load()
            w, h = img.size
            for _ in range(w * h // 1500):
                px[rng.randrange(w), rng.randrange(h)] = rng.choice((0, 90, 200))
            img = img.point(lambda v: 0 if v < 200 else 255).convert("1")
            png = f"{tmp}/scan{i}.png"
            img.save(png, optimize=True)
            c.drawImage(png, 0, 0, width=PAGE_W, height=PAGE_H)
            c.showPage()
        c.save()


def main(out_dir):
    out = Path(out_dir)
    (out / "expected").mkdir(parents=True, exist_ok=True)
    layouts = {"commercial": commercial, "split": split, "hospital": hospital}
    for name, draw in layouts.items():
        pdf = str(out / f"{name}.pdf")
        results = draw(pdf)
        doc = {"collected_at": COLLECTED_ISO, "results": results}
        (out / "expected" / f"{name}.json").write_text(json.dumps(doc, indent=1) + "\n")
        if name in ("commercial", "split"):
            scan(pdf, str(out / f"{name}-scan.pdf"), 300, seed=len(name))
            doc["source"] = f"{name}.pdf rasterised at 300 dpi"
            (out / "expected" / f"{name}-scan.json").write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
