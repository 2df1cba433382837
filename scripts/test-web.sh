#!/usr/bin/env bash
# End-to-end tests of the web portal (web/) in headless Chromium against the local runner.
#
# Builds the portal (npm ci && npm run build), installs Debian's chromium when missing, starts
# PostgreSQL and moto unless CAREFLOW_DATABASE_URL / AWS_ENDPOINT_URL are set (scripts/test.sh
# exports them), runs target/debug/careflow-local on a free port with a fresh database, runs
# web/e2e/*.test.mjs (node's test runner + playwright-core) and stops the runner.
# Screenshots land in web/test-results/.
#   CAREFLOW_E2E_KEEP_DB=1   keep the test database afterwards
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib/stack.sh
source scripts/lib/stack.sh

_web_runner_pid=""
_web_db=""
_web_cleanup() {
  local rc=$?
  local p="$_web_runner_pid"
  if [[ -n "$p" ]] && _cf_alive "$p"; then
    kill "$p" 2>/dev/null || true
    for _ in $(seq 1 50); do _cf_alive "$p" || break; sleep 0.1; done
    if _cf_alive "$p"; then kill -9 "$p" 2>/dev/null || true; fi
  fi
  if [[ -n "$_web_db" && -z "${CAREFLOW_E2E_KEEP_DB:-}" ]]; then
    psql "$CAREFLOW_DATABASE_URL" -qc "DROP DATABASE IF EXISTS \"$_web_db\" WITH (FORCE)" </dev/null >/dev/null 2>&1 || true
  fi
  careflow_stop_all
  return "$rc"
}
trap _web_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

command -v node >/dev/null || careflow_die "node (>= 20.19) is needed for the web portal"
if [[ ! -x /usr/bin/chromium ]]; then
  careflow_log "web: installing Debian's chromium"
  apt-get update -qq </dev/null >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium </dev/null >/dev/null
fi

careflow_log "web: npm ci && npm run build"
(cd web && npm ci --no-audit --no-fund --loglevel=error </dev/null && npm run --silent build </dev/null) >&2

careflow_venv
careflow_start_postgres
careflow_start_moto

runner=target/debug/careflow-local
if [[ ! -x "$runner" ]]; then
  careflow_log "web: building careflow-local"
  cargo build -p careflow-local </dev/null
fi

# A database of its own, so the portal's users and appointments never meet other tests' data.
_web_db="careflow_web_$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
psql "$CAREFLOW_DATABASE_URL" -qc "CREATE DATABASE \"$_web_db\"" </dev/null
db_url="${CAREFLOW_DATABASE_URL%/*}/$_web_db"
db_url="${db_url%%\?*}"
[[ "$CAREFLOW_DATABASE_URL" == *\?* ]] && db_url="$db_url?${CAREFLOW_DATABASE_URL#*\?}"

web_stage="web$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
careflow_function_roles "$web_stage" "$web_stage"
port="$(_cf_free_port)"
analytics_port="$(_cf_free_port)"
admin_email="admin-e2e@careflow.local"
admin_password="e2e-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
mkdir -p web/test-results
log=web/test-results/runner.log
careflow_log "web: starting careflow-local on 127.0.0.1:$port (log $log)"
DATABASE_URL="$db_url" CAREFLOW_PORT="$port" CAREFLOW_ANALYTICS_PORT="$analytics_port" \
  CAREFLOW_ADMIN_EMAIL="$admin_email" CAREFLOW_ADMIN_PASSWORD="$admin_password" \
  CAREFLOW_STAGE="$web_stage" \
  "$runner" </dev/null >"$log" 2>&1 &
_web_runner_pid=$!
base="http://127.0.0.1:$port"
for i in $(seq 1 300); do
  if curl -s -o /dev/null --max-time 2 "$base/.well-known/jwks.json"; then break; fi
  if ! _cf_alive "$_web_runner_pid" || [[ $i -eq 300 ]]; then
    tail -n 30 "$log" >&2 || true
    careflow_die "careflow-local did not come up (log: $log)"
  fi
  sleep 0.2
done

# The runner serves web/dist beside the API (same origin, as the README's run command shows it).
curl -s --max-time 5 "$base/" | grep -q 'id="root"' \
  || careflow_die "careflow-local does not serve the portal at $base/ (web/dist)"
curl -s --max-time 5 "$base/config.js" | grep -q 'CAREFLOW_CONFIG' \
  || careflow_die "careflow-local does not serve /config.js"

careflow_log "web: running the end-to-end tests against $base"
(cd web && CAREFLOW_E2E_BASE_URL="$base" CAREFLOW_E2E_DATABASE_URL="$db_url" CAREFLOW_E2E_ADMIN_EMAIL="$admin_email" \
  CAREFLOW_E2E_ADMIN_PASSWORD="$admin_password" node --test --test-concurrency=1 e2e/portal.test.mjs </dev/null)
