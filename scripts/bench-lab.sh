#!/usr/bin/env bash
# Issue-6 benchmark: lab-report PDF extraction throughput, side by side in one run:
# pdf-extract in process, pdf-extract through the isolating child process that lab-processor
# really uses (one process per PDF, rlimits, timeout), and poppler's pdftotext (one process per
# PDF), on the same files: the shared PDF corpus (CAREFLOW_PDF_CORPUS, default
# ../shared/pdf-corpus) and the generated lab reports. Release build.
#   scripts/bench-lab.sh [--iterations N]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! command -v pdftotext >/dev/null || ! command -v pdfinfo >/dev/null; then
  echo "[careflow] installing poppler-utils (pdftotext, pdfinfo)" >&2
  if [[ $EUID -eq 0 ]]; then apt-get install -y -qq poppler-utils >/dev/null </dev/null \
    || { apt-get update -qq </dev/null && apt-get install -y -qq poppler-utils >/dev/null </dev/null; }
  else sudo apt-get install -y -qq poppler-utils >/dev/null </dev/null; fi
fi
corpus="${CAREFLOW_PDF_CORPUS:-../shared/pdf-corpus}"
inputs=(local/tests/data/lab)
if [[ -d "$corpus" ]]; then inputs+=("$corpus"); else echo "[careflow] no corpus at $corpus: lab reports only" >&2; fi
cargo build --release -p careflow-bench --bin lab-bench </dev/null
echo "pdftotext: $(pdftotext -v 2>&1 | head -1)"
target/release/lab-bench "$@" "${inputs[@]}"
