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
# One function at a time, so one that cannot be packaged here is reported, not fatal.
printf '| function | zipped (arm64) |\n|---|---|\n' >target/function-sizes.md
for dir in functions/*/; do
  name=$(basename "$dir")
  if cargo lambda build --release --arm64 --output-format zip -p "$name" </dev/null >"target/package-$name.log" 2>&1; then
    size=$(stat -c %s "target/lambda/$name/bootstrap.zip")
    awk -v n="$name" -v s="$size" 'BEGIN { printf "| %s | %.1f MiB |\n", n, s / 1048576 }' >>target/function-sizes.md
  else
    printf '| %s | not built here (see target/package-%s.log) |\n' "$name" "$name" >>target/function-sizes.md
  fi
done
cat target/function-sizes.md
