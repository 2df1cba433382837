#!/usr/bin/env bash
# Every function must build on its own, with only the cargo features it asks for: that is how
# `sam build` / `cargo lambda build` compile it. Workspace builds unify features across crates
# and can hide a missing one.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
for dir in functions/*/; do
  name=$(basename "$dir")
  cargo check --quiet -p "$name" </dev/null || { echo "[careflow] $name does not build on its own" >&2; exit 1; }
done
echo "[careflow] every function builds on its own"
