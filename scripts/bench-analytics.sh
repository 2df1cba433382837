#!/usr/bin/env bash
# Issue-7 benchmark: gcp-analytics windowing core (events/s on one core, with and without JSON
# decoding), the mock broker's raw consume rate, and the service end to end on the same broker.
# One optimised build (cargo's bench profile = release settings).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo bench -p gcp-analytics --bench analytics </dev/null
