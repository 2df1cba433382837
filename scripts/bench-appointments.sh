#!/usr/bin/env bash
# Issue-4 benchmark: bookings/s through appointments-create in process, with PostgreSQL and a
# Kafka-protocol broker (release build).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib/stack.sh
source scripts/lib/stack.sh
careflow_traps
careflow_start_postgres
cargo build --release -p careflow-bench --bin appointments-bench </dev/null
target/release/appointments-bench
