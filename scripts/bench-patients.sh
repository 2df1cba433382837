#!/usr/bin/env bash
# Issue-3 benchmark: patients-get in process against DynamoDB in the local emulator (release build).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib/stack.sh
source scripts/lib/stack.sh
careflow_traps
careflow_venv
careflow_start_moto
cargo build --release -p careflow-bench --bin patients-bench </dev/null
target/release/patients-bench
