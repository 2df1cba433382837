#!/usr/bin/env bash
# Builds the Lambda layer that gives lab-processor its OCR: Debian bookworm's Tesseract (with
# the English language data) and poppler's pdftoppm, for arm64 (Graviton, as the functions) or
# amd64, together with every shared library they load and Debian's own dynamic loader, so the
# programs use nothing of the Lambda image's libraries. The layer is mounted at /opt:
#   bin/tesseract, bin/pdftoppm     wrappers: exec the bundled loader on the real program
#   lib/ocr/                        the programs, their libraries, the loader
#   share/tessdata/eng.traineddata  (lab-processor sets TESSDATA_PREFIX to it)
# lab-processor finds /opt/bin/{pdftoppm,tesseract} by itself; without the layer OCR is off
# and scanned reports end `unreadable` as before.
#
#   scripts/build-ocr-layer.sh [arm64|amd64] [OUT.zip]      (root on Debian: uses apt)
#   aws lambda publish-layer-version --layer-name careflow-ocr \
#     --zip-file fileb://OUT.zip --compatible-architectures arm64 \
#     --compatible-runtimes provided.al2023
#   sam deploy ... --parameter-overrides OcrLayerArn=<the LayerVersionArn>
#
# The wrappers find their layer from their own path with shell expansion only (no dirname):
# the OCR sandbox lets a program replace itself (exec) but not start another process.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
arch="${1:-arm64}"
out="${2:-$ROOT/.local/ocr-layer-$arch.zip}"
case "$arch" in
  arm64) loader=ld-linux-aarch64.so.1 machine=AArch64 ;;
  amd64) loader=ld-linux-x86-64.so.2 machine=X86-64 ;;
  *) echo "architecture must be arm64 or amd64" >&2; exit 2 ;;
esac
for tool in apt-get dpkg-deb readelf zip; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install -y binutils zip)" >&2; exit 1; }
done
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

if [[ "$arch" != "$(dpkg --print-architecture)" ]] && ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
  dpkg --add-architecture "$arch"
fi
apt-get update -qq </dev/null >/dev/null

# The packages that hold the programs, their libraries (the whole dependency closure, from which
# only the libraries the programs load are kept) and the language data.
packages=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
  --no-replaces --no-enhances "tesseract-ocr:$arch" "poppler-utils:$arch" tesseract-ocr-eng </dev/null \
  | grep -E '^[a-z0-9]' | sed 's/:.*//' | sort -u)
mkdir -p "$work/debs" "$work/root"
(cd "$work/debs" && for p in $packages; do
  apt-get download -qq "$p:$arch" </dev/null 2>/dev/null || apt-get download -qq "$p" </dev/null 2>/dev/null || true
done)
for deb in "$work"/debs/*.deb; do dpkg-deb -x "$deb" "$work/root"; done

layer="$work/layer"
mkdir -p "$layer/bin" "$layer/lib/ocr" "$layer/share/tessdata"
cp "$work/root/usr/bin/tesseract" "$work/root/usr/bin/pdftoppm" "$layer/lib/ocr/"
find "$work/root" -name eng.traineddata -exec cp {} "$layer/share/tessdata/" \;
[[ -s "$layer/share/tessdata/eng.traineddata" ]] || { echo "no eng.traineddata" >&2; exit 1; }

# Every library the programs need, transitively, by DT_NEEDED (readelf works on any arch).
find_lib() { find "$work/root" \( -type f -o -type l \) -name "$1" -print -quit; }
queue=(tesseract pdftoppm)
declare -A seen=()
while ((${#queue[@]})); do
  file="${queue[0]}"; queue=("${queue[@]:1}")
  for needed in $(readelf -d "$layer/lib/ocr/$file" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    [[ -n "${seen[$needed]:-}" ]] && continue
    seen[$needed]=1
    src="$(find_lib "$needed")"
    [[ -n "$src" ]] || { echo "library $needed not found in the packages" >&2; exit 1; }
    cp -L "$src" "$layer/lib/ocr/$needed"
    queue+=("$needed")
  done
done
loader_src="$(find_lib "$loader")"
[[ -n "$loader_src" ]] || { echo "loader $loader not found" >&2; exit 1; }
cp -L "$loader_src" "$layer/lib/ocr/$loader"

# Every program and library is built for the layer's architecture (a package of the build
# machine's own architecture must not slip in: lab-processor would find OCR broken at start).
for file in "$layer"/lib/ocr/*; do
  readelf -h "$file" 2>/dev/null | grep -q "Machine:.*$machine" \
    || { echo "$(basename "$file") is not an $arch ELF file" >&2; exit 1; }
done

for program in tesseract pdftoppm; do
  cat >"$layer/bin/$program" <<WRAP
#!/bin/sh
# $program from Debian bookworm with its own libraries and loader (scripts/build-ocr-layer.sh).
layer=\${0%/bin/*}
exec "\$layer/lib/ocr/$loader" --library-path "\$layer/lib/ocr" "\$layer/lib/ocr/$program" "\$@"
WRAP
  chmod 755 "$layer/bin/$program"
done

mkdir -p "$(dirname "$out")"
rm -f "$out"
(cd "$layer" && zip -qr9 "$out" .)
echo "OCR layer ($arch): $out, $(du -sh "$layer" | cut -f1) unpacked, $(du -h "$out" | cut -f1) zipped, $(ls "$layer/lib/ocr" | wc -l) files in lib/ocr"
