#!/usr/bin/env bash
# Builds every Lambda function as AWS deploys it (arm64, release, zipped) and prints each
# zip's size: `scripts/package-functions.sh` (needs cargo-lambda and zig: installed into the
# repo's venv; and the aarch64 Rust target, added with rustup).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib/stack.sh
source scripts/lib/stack.sh
careflow_venv
"$CAREFLOW_VENV/bin/pip" install -q cargo-lambda ziglang
rustup target add aarch64-unknown-linux-gnu >/dev/null
export PATH="$CAREFLOW_VENV/bin:$PATH"
functions=()
for dir in functions/*/; do functions+=(-p "$(basename "$dir")"); done
cargo lambda build --release --arm64 --output-format zip "${functions[@]}" </dev/null
printf '| function | zipped |\n|---|---|\n'
for dir in functions/*/; do
  name=$(basename "$dir")
  size=$(stat -c %s "target/lambda/$name/bootstrap.zip")
  awk -v n="$name" -v s="$size" 'BEGIN { printf "| %s | %.1f MiB |\n", n, s / 1048576 }'
done
