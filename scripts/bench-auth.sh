#!/usr/bin/env bash
# Issue-2 benchmark: init time of auth-login vs a hello-world lambda_runtime binary (and vs
# auth-login built with aws-lc's jitter entropy, unless --no-jitter-build), plus the login
# handler's in-process p50/p99. Release builds; starts PostgreSQL like the test command.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib/stack.sh
source scripts/lib/stack.sh
careflow_traps
careflow_start_postgres

cargo build --release -p auth-login -p careflow-bench </dev/null
binaries=(target/release/hello-lambda target/release/auth-login)
if [[ "${1:-}" != --no-jitter-build ]]; then
  # The workspace turns jitter entropy off (.cargo/config.toml); build a copy with it on.
  AWS_LC_SYS_NO_JITTER_ENTROPY=0 cargo build --release -p auth-login --target-dir target/jitter </dev/null
  binaries+=(target/jitter/release/auth-login)
fi
target/release/auth-bench "${binaries[@]}"
