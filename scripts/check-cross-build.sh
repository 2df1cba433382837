#!/usr/bin/env bash
# Lambda runs arm64 and `sam build` cross-compiles with cargo lambda and zig. The hard case is a
# function that links librdkafka, whose configure script only works through the CC/CXX/AR
# wrapper of .cargo/config.toml; this builds one (outbox-relay, debug: the C toolchain path is
# the same as release's) for aarch64 and checks what comes out. All of them, released and
# zipped: scripts/package-functions.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib/stack.sh
source scripts/lib/stack.sh
careflow_venv
export PATH="$CAREFLOW_VENV/bin:$PATH"
rustup target add aarch64-unknown-linux-gnu >/dev/null 2>&1 ||
  careflow_die "cannot add the aarch64-unknown-linux-gnu Rust target (rustup target add)"
cargo lambda build --arm64 -p outbox-relay </dev/null
binary=target/lambda/outbox-relay/bootstrap
machine=$(readelf -h "$binary" | sed -n 's/^ *Machine: *//p')
if [[ "$machine" != AArch64 ]]; then
  careflow_die "outbox-relay is not an aarch64 executable: $machine"
fi
if ! grep -q -a 'librdkafka' "$binary"; then
  careflow_die "outbox-relay does not contain librdkafka"
fi
careflow_log "outbox-relay cross-builds for arm64 with librdkafka inside"
