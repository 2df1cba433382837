#!/usr/bin/env bash
# Regenerates the lab-report test PDFs in local/tests/data/lab/ with several real PDF producers,
# plus the hostile files (image-only, encrypted, truncated, not a PDF, empty). The outputs are
# committed, so tests and CI need none of these tools; run this only to change the test data.
#
# Producers: reportlab and fpdf2 (Python, from PyPI, into a throw-away venv), groff's gropdf
# (groff -Tpdf) and Ghostscript's pdfwrite (ps2pdf of groff's PostScript). Hostile files need
# qpdf (encryption) and ImageMagick (a scanned page). On Debian:
#   apt-get install -y groff ghostscript qpdf imagemagick
# The values are the same in every report; local/tests/data/lab/expected.json is what the
# processor must find in each.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/local/tests/data/lab"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT"
for tool in groff ps2pdf qpdf convert python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool (see the header of this script)" >&2; exit 1; }
done

python3 -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install -q --disable-pip-version-check reportlab==4.4.4 fpdf2==2.8.4 </dev/null

# The report's rows: name, value, unit, reference range, flag as printed (blank: none printed,
# the processor computes it from the range).
cat >"$WORK/rows.tsv" <<'ROWS'
Hemoglobin	13.5	g/dL	12.0 - 16.0	
White blood cells	11.2	10^9/L	4.0 - 10.0	H
Platelets	250	10^9/L	150 - 400	
Glucose, fasting	105	mg/dL	70 - 99	
Sodium	139	mmol/L	135 - 145	
Potassium	3.2	mmol/L	3.5 - 5.1	L
Creatinine	0.9	mg/dL	0.6 - 1.2	
LDL cholesterol	162	mg/dL	< 130	
HbA1c	5.4	%	4.0 - 5.6	
TSH	2.1	mIU/L	0.4 - 4.0	
ROWS

cat >"$WORK/gen.py" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
out = sys.argv[2]
title = "CareFlow Clinical Laboratory - Lab Report"
header = ["Test", "Result", "Unit", "Reference range", "Flag"]
meta = ["Patient: Jo Example    Date of birth: 1990-04-01", "Collected: 2026-11-20 08:15", "Ordering physician: Dr. Ada Lovelace"]
footer = "Flags: H above range, L below range. Report generated for test purposes."

def reportlab(path, encrypt=None):
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
    styles = getSampleStyleSheet()
    doc = SimpleDocTemplate(path, pagesize=A4, title="Lab report", encrypt=encrypt)
    story = [Paragraph(title, styles["Title"])] + [Paragraph(m, styles["Normal"]) for m in meta]
    story.append(Spacer(1, 12))
    t = Table([header] + rows, hAlign="LEFT")
    t.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.grey), ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold")]))
    story += [t, Spacer(1, 12), Paragraph(footer, styles["Italic"])]
    doc.build(story)

def fpdf(path):
    from fpdf import FPDF
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(0, 10, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    for m in meta:
        pdf.cell(0, 6, m, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    widths = [55, 25, 25, 40, 15]
    with pdf.table(col_widths=widths, text_align="LEFT") as table:
        for r in [header] + rows:
            row = table.row()
            for cell in r:
                row.cell(cell)
    pdf.ln(4)
    pdf.cell(0, 6, footer)
    pdf.output(path)

def image_only(path, png):
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas
    c = canvas.Canvas(path, pagesize=A4)
    c.drawImage(png, 40, 300, width=500, height=400)
    c.showPage()
    c.save()

kind = sys.argv[3]
if kind == "reportlab":
    reportlab(out)
elif kind == "reportlab-encrypted":
    reportlab(out, encrypt="secret")
elif kind == "fpdf2":
    fpdf(out)
elif kind == "image-only":
    image_only(out, sys.argv[4])
PY

PY="$WORK/venv/bin/python"
"$PY" "$WORK/gen.py" "$WORK/rows.tsv" "$OUT/report-reportlab.pdf" reportlab
"$PY" "$WORK/gen.py" "$WORK/rows.tsv" "$OUT/report-fpdf2.pdf" fpdf2

# groff: a tbl table; -Tpdf is gropdf, -Tps | ps2pdf is Ghostscript's pdfwrite.
{
  printf '.ps 14\n.B "CareFlow Clinical Laboratory - Lab Report"\n.ps 10\n.sp\n'
  printf 'Patient: Jo Example    Date of birth: 1990-04-01\n.br\nCollected: 2026-11-20 08:15\n.br\nOrdering physician: Dr. Ada Lovelace\n.sp\n'
  printf '.TS\nbox tab(|);\nl l l l l.\nTest|Result|Unit|Reference range|Flag\n_\n'
  while IFS=$'\t' read -r name value unit range flag; do
    printf '%s|%s|%s|%s|%s\n' "$name" "$value" "$unit" "${range//-/\\-}" "$flag"
  done <"$WORK/rows.tsv"
  printf '.TE\n.sp\nFlags: H above range, L below range. Report generated for test purposes.\n'
} >"$WORK/report.ms"
groff -t -ms -Tpdf "$WORK/report.ms" >"$OUT/report-groff.pdf"
groff -t -ms -Tps "$WORK/report.ms" >"$WORK/report.ps"
ps2pdf -dPDFSETTINGS=/ebook "$WORK/report.ps" "$OUT/report-ghostscript.pdf"

# Hostile files.
convert -size 800x600 xc:white -font DejaVu-Sans -pointsize 22 -fill black \
  -annotate +40+80 'Hemoglobin 13.5 g/dL 12.0 - 16.0' -annotate +40+130 'Glucose 105 mg/dL 70 - 99' \
  "$WORK/scan.png"
"$PY" "$WORK/gen.py" "$WORK/rows.tsv" "$OUT/scanned-image-only.pdf" image-only "$WORK/scan.png"
qpdf --encrypt user-secret owner-secret 256 -- "$OUT/report-reportlab.pdf" "$OUT/encrypted-qpdf.pdf"
"$PY" "$WORK/gen.py" "$WORK/rows.tsv" "$OUT/encrypted-reportlab.pdf" reportlab-encrypted
size=$(stat -c %s "$OUT/report-reportlab.pdf")
head -c $((size / 2)) "$OUT/report-reportlab.pdf" >"$OUT/truncated.pdf"
: >"$OUT/empty.pdf"
printf 'Hemoglobin 13.5 g/dL 12.0 - 16.0\nThis is a text file with a .pdf name.\n' >"$OUT/not-a-pdf.pdf"
ls -l "$OUT"
