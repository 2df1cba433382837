#!/usr/bin/env bash
# Regenerates the lab reports in real-world layouts in local/tests/data/lab/layouts/: three table
# layouts as text PDFs and two of them as scans (image-only PDFs for OCR), each with the values
# the processor must read in expected/{name}.json (see scripts/lab_layouts.py). The outputs are
# committed, so tests and CI need none of these tools; run this only to change the test data.
# Needs python3 and poppler-utils (pdftoppm); reportlab and Pillow go into a throw-away venv.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/local/tests/data/lab/layouts"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
command -v pdftoppm >/dev/null || { echo "missing pdftoppm (apt-get install -y poppler-utils)" >&2; exit 1; }
python3 -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install -q --disable-pip-version-check reportlab==4.4.4 pillow==12.0.0 </dev/null
rm -rf "$OUT"
"$WORK/venv/bin/python" "$ROOT/scripts/lab_layouts.py" "$OUT"
ls -l "$OUT" "$OUT/expected"
