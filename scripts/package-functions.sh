#!/usr/bin/env bash
# Builds every Lambda function as AWS deploys it (arm64, release, zipped) and prints each
# zip's size: `scripts/package-functions.sh` (needs cargo-lambda and zig: installed into the
# repo's venv; and the aarch64 Rust target, added with rustup). It works on x86_64 and arm64
# hosts alike: .cargo/config.toml hands the target's zig toolchain to librdkafka's configure.
#
# Every package is then checked: an aarch64 executable, linked against nothing but glibc, and
# needing no newer glibc than Lambda's provided.al2023 runtime has (2.34). With qemu-user
# (`apt-get install qemu-user-static libc6-arm64-cross`) each one is also started once, with no
# configuration: it must get as far as reporting what it is missing, proving it loads and runs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib/stack.sh
source scripts/lib/stack.sh
careflow_venv
rustup target add aarch64-unknown-linux-gnu >/dev/null
export PATH="$CAREFLOW_VENV/bin:$PATH"

readonly glibc_ceiling=2.34
qemu=$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true)
if [[ ! -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ]]; then
  qemu= # no arm64 C library to run against (libc6-arm64-cross)
fi
unpacked=$(mktemp -d)
trap 'rm -rf "$unpacked"' EXIT

# Prints why the package at $1 would not run on Lambda, or nothing.
check_package() {
  local zip=$1 bin="$unpacked/bootstrap" mode machine newest needed
  rm -f "$bin"
  # Lambda runs the zip's `bootstrap` as it is: it must be there, and executable.
  mode=$(python3 - "$zip" "$unpacked" <<'PY'
import os, sys, zipfile
info = zipfile.ZipFile(sys.argv[1]).getinfo("bootstrap")
mode = (info.external_attr >> 16) & 0o777
zipfile.ZipFile(sys.argv[1]).extract(info, sys.argv[2])
os.chmod(os.path.join(sys.argv[2], "bootstrap"), mode or 0o644)
print("0%o" % mode)
PY
  ) || {
    echo "no bootstrap in the zip"
    return
  }
  if ((!(mode & 0111))); then
    echo "bootstrap is not executable in the zip (mode $mode)"
    return
  fi
  machine=$(readelf -h "$bin" | sed -n 's/^ *Machine: *//p')
  if [[ "$machine" != AArch64 ]]; then
    echo "not an aarch64 executable: $machine"
    return
  fi
  needed=$(readelf -d "$bin" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' |
    grep -v -E '^(libc|libm|libpthread|libdl|librt|ld-linux-aarch64)\.so' || true)
  if [[ -n "$needed" ]]; then
    echo "links libraries Lambda does not have: $needed"
    return
  fi
  newest=$(readelf -V "$bin" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -1)
  if [[ "$(printf '%s\n%s\n' "$newest" "$glibc_ceiling" | sort -V | tail -1)" != "$glibc_ceiling" ]]; then
    echo "needs glibc $newest, Lambda has $glibc_ceiling"
    return
  fi
  if [[ -n "$qemu" ]]; then
    # No configuration at all: a working binary exits at once naming what it is missing. A
    # crash (signal), a loader error or a hang means it would not start on Lambda either.
    local out status=0
    out=$(env -i timeout 60 "$qemu" -L /usr/aarch64-linux-gnu "$bin" 2>&1) || status=$?
    # 124: timed out; above 125: not run, or killed by a signal.
    if ((status == 0 || status >= 124)) || ! grep -q -i -E 'missing|not set|environment' <<<"$out"; then
      echo "did not start cleanly under qemu (exit $status): ${out:0:300}"
    fi
  fi
}

printf '| function | zipped (arm64) |\n|---|---|\n' >target/function-sizes.md
failed=()
for dir in functions/*/; do
  name=$(basename "$dir")
  log="target/package-$name.log"
  if ! cargo lambda build --release --arm64 --output-format zip -p "$name" </dev/null >"$log" 2>&1; then
    failed+=("$name: build failed (see $log)")
    continue
  fi
  zip="target/lambda/$name/bootstrap.zip"
  problem=$(check_package "$zip")
  if [[ -n "$problem" ]]; then
    failed+=("$name: $problem")
    continue
  fi
  awk -v n="$name" -v s="$(stat -c %s "$zip")" 'BEGIN { printf "| %s | %.1f MiB |\n", n, s / 1048576 }' >>target/function-sizes.md
done
cat target/function-sizes.md
if [[ -z "$qemu" ]]; then
  echo "qemu-user or the arm64 C library not found: packages were checked with readelf only, not started" >&2
fi
if ((${#failed[@]})); then
  printf 'not packaged: %s\n' "${failed[@]}" >&2
  exit 1
fi
