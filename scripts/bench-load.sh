#!/usr/bin/env bash
# Issue-20 load runs: the local runner under wrk for a fixed time per route (default 60 s):
# GET /patients/{id}, POST /appointments (distinct slots), GET /doctors/{id}/slots.
# `scripts/bench-load.sh [SECONDS]`. Release build; starts PostgreSQL and the AWS API emulator.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib/stack.sh
source scripts/lib/stack.sh
careflow_traps
if ! command -v wrk >/dev/null 2>&1 && [[ $EUID -eq 0 ]]; then
  careflow_log "installing wrk with apt"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk </dev/null >/dev/null 2>&1 \
    || { apt-get update -qq </dev/null >/dev/null \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk </dev/null >/dev/null; }
fi
command -v wrk >/dev/null 2>&1 || careflow_die "wrk is needed (apt-get install wrk)"
careflow_venv
careflow_start_postgres
careflow_start_moto
careflow_function_roles loadbench loadbench
cargo build --release -p careflow-bench --bin load-bench </dev/null
RUST_LOG="${RUST_LOG:-error}" target/release/load-bench "${1:-60}"
