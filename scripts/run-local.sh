#!/usr/bin/env bash
# The one command that runs the whole CareFlow system locally: PostgreSQL and moto (or the ones
# given by CAREFLOW_DATABASE_URL / AWS_ENDPOINT_URL), then the local runner (crate careflow-local).
# Arguments go to the runner. The runner also reads CAREFLOW_PORT (default 3000),
# CAREFLOW_ADMIN_EMAIL / CAREFLOW_ADMIN_PASSWORD and KAFKA_BOOTSTRAP_SERVERS.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib/stack.sh
source scripts/lib/stack.sh
trap careflow_stop_all EXIT

careflow_venv
careflow_ocr_tools
careflow_start_postgres
careflow_start_moto
# Each function runs with its own role of template.yaml (IAM is enforced by the emulator).
careflow_function_roles "${CAREFLOW_STAGE:-local}" "${CAREFLOW_STAGE:-local}"

child=""
# shellcheck disable=SC2317  # called from traps
forward() {
  if [[ -n "$child" ]]; then kill -s "$1" "$child" 2>/dev/null || true; fi
}
trap 'forward INT' INT
trap 'forward TERM' TERM
trap 'forward HUP' HUP

# The web portal, served by the runner beside the API: built when missing (npm registry).
if [[ ! -f web/dist/index.html && -f web/package.json ]] && command -v npm >/dev/null; then
  careflow_log "building the web portal (web/dist)"
  (cd web && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent) </dev/null
fi
careflow_log "starting careflow-local (CAREFLOW_PORT=${CAREFLOW_PORT:-3000}); Ctrl-C stops everything"
# Background jobs of a script ignore SIGINT; the subshell restores it so the runner sees Ctrl-C.
(
  trap - INT TERM HUP
  DATABASE_URL="$CAREFLOW_DATABASE_URL" exec cargo run -p careflow-local -- "$@"
) <&0 &
child=$!

status=0
while :; do
  wait "$child" && status=0 || status=$?
  # wait returns early when a trapped signal arrives; keep waiting while the runner shuts down.
  if _cf_alive "$child"; then continue; fi
  break
done
exit "$status"
