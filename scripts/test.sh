#!/usr/bin/env bash
# The one command that runs every CareFlow check on a fresh machine:
# formatting, clippy, the test suite (against a local PostgreSQL and moto), and the infra lint.
# Extra arguments go to `cargo nextest run`, e.g.  scripts/test.sh -E 'test(login)'
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib/stack.sh
source scripts/lib/stack.sh
careflow_traps

if [[ "${CI:-}" == true ]]; then export CARGO_TERM_COLOR=never; fi

careflow_venv
careflow_ocr_tools
careflow_start_postgres
careflow_start_moto
# Every function runs with its template role's credentials; each test is a stage of its own
# (16 characters: the roles name `careflow-????????????????-records` and the like).
careflow_function_roles '????????????????' test
export CAREFLOW_TEST_DATABASE_URL="$CAREFLOW_DATABASE_URL"

step() { careflow_log "\$ $*"; "$@" </dev/null; }

if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  careflow_log "adding rustfmt and clippy components"
  rustup component add rustfmt clippy </dev/null
fi
if ! cargo nextest --version >/dev/null 2>&1; then
  careflow_log "cargo-nextest missing; installing it"
  cargo install cargo-nextest --locked </dev/null
fi

if ! cargo machete --version >/dev/null 2>&1; then
  careflow_log "cargo-machete missing; installing it"
  cargo install cargo-machete --locked </dev/null
fi

locked=()
if [[ -f Cargo.lock ]]; then locked=(--locked); fi

# Each test clones its own database; drop the ones earlier runs left behind.
# Only databases nobody is connected to: another run sharing this server may be using its own.
stale=$(psql "$CAREFLOW_TEST_DATABASE_URL" -Atc \
  "SELECT d.datname FROM pg_database d WHERE d.datname ~ '^careflow_(test|tpl)_[0-9a-f]+$'
     AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datname = d.datname)" </dev/null)
if [[ -n "$stale" ]]; then
  careflow_log "dropping $(wc -l <<<"$stale") test databases from earlier runs"
  while read -r db; do
    psql "$CAREFLOW_TEST_DATABASE_URL" -qc "DROP DATABASE IF EXISTS \"$db\"" </dev/null >/dev/null 2>&1 \
      || careflow_log "could not drop $db (in use); left for a later run"
  done <<<"$stale"
fi

step cargo fmt --all -- --check
# No locked crate has a RustSec advisory (offline, against ../shared/rustsec-advisory-db).
step scripts/check-advisories.sh
# No crate lists a dependency it does not use (each function links only what it needs).
step cargo machete
step cargo clippy --workspace --all-targets "${locked[@]}" -- -D warnings
step cargo nextest run --workspace --no-fail-fast "$@"
# template.yaml after the SAM transform, created as a stack in the emulator's CloudFormation:
# every resource and output checked; the types moto cannot create are checked another way.
step "$CAREFLOW_VENV/bin/python" scripts/deploy_template_to_moto.py --translated .local/template.translated.json
step scripts/check-functions.sh
step scripts/check-cross-build.sh
if [[ -x scripts/check-infra.sh ]]; then
  step scripts/check-infra.sh
fi
# The web portal end to end in headless Chromium against the local runner built above; only
# when no test filter was given (a filtered run is for the Rust tests).
if [[ $# -eq 0 && -x scripts/test-web.sh ]]; then
  step scripts/test-web.sh
fi
careflow_log "all checks passed"
