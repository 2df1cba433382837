#!/usr/bin/env bash
# Issue-20 benchmark: init, first response and peak RSS of every function's release binary
# under a fake Lambda Runtime API, with the template's environment and role (AWS API emulator),
# the local PostgreSQL and a Kafka-protocol broker, against a hello-world lambda_runtime binary.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib/stack.sh
source scripts/lib/stack.sh
careflow_traps
careflow_venv
careflow_start_postgres
careflow_start_moto
careflow_function_roles coldstart coldstart
packages=(-p careflow-bench)
for dir in functions/*/; do packages+=(-p "$(basename "$dir")"); done
# One build of every function: cargo unifies the careflow features they ask for, so each binary
# links at least what `cargo lambda build` would give it alone. The `coldstart` profile is release
# without LTO (45 LTO links take an hour on 2 cores); hello-world and auth-login are also built
# and measured with the release profile itself, for comparison.
cargo build --profile coldstart "${packages[@]}" </dev/null
cargo build --release -p careflow-bench --bin hello-lambda </dev/null
cargo build --release -p auth-login </dev/null
target/coldstart/cold-starts target/coldstart target/release
