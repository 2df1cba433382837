# shellcheck shell=bash
# Local stand-ins for CareFlow's production services: PostgreSQL and an AWS API emulator (moto).
# Sourced by scripts/test.sh and scripts/run-local.sh; safe under `set -euo pipefail`.
#
#   careflow_venv            .local/venv with the pinned tools of scripts/requirements-dev.txt
#   careflow_start_postgres  exports CAREFLOW_DATABASE_URL (kept as is when the user set it)
#   careflow_start_moto      exports AWS_ENDPOINT_URL (kept as is when the user set it) and, for
#                            the moto it starts, the administrator's AWS_ACCESS_KEY_ID/SECRET
#   careflow_sam_venv        .local/sam-venv with the SAM CLI (and aws-sam-translator)
#   careflow_function_roles  creates every function's role for a stage; exports
#                            CAREFLOW_FUNCTION_CREDENTIALS
#   careflow_stop_all        stops only what the functions above started
#   careflow_traps           registers careflow_stop_all on EXIT, INT, TERM and HUP

CAREFLOW_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CAREFLOW_VENV="$CAREFLOW_ROOT/.local/venv"
export CAREFLOW_ROOT CAREFLOW_VENV

_CF_PG_BIN=""
_CF_PG_BASE=""
_CF_PG_STARTED=""
_CF_MOTO_PID=""

careflow_log() { printf '[careflow] %s\n' "$*" >&2; }
careflow_die() { careflow_log "error: $*"; exit 1; }

_cf_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# True when PID is a live (not zombie) process.
_cf_alive() {
  local state
  [[ -n "${1:-}" && -r "/proc/$1/stat" ]] || return 1
  state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" || return 1
  [[ -n "$state" && "$state" != Z ]]
}

# ---------------------------------------------------------------------------- Python tools

careflow_venv() {
  local req="$CAREFLOW_ROOT/scripts/requirements-dev.txt"
  local stamp="$CAREFLOW_VENV/.careflow-requirements.sha256"
  local want
  [[ -f "$req" ]] || careflow_die "missing $req"
  if [[ -d "$CAREFLOW_VENV" ]] && ! "$CAREFLOW_VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    careflow_log "recreating broken venv $CAREFLOW_VENV"
    rm -rf "$CAREFLOW_VENV"
  fi
  if [[ ! -x "$CAREFLOW_VENV/bin/python" ]]; then
    careflow_log "creating venv .local/venv"
    mkdir -p "$CAREFLOW_ROOT/.local"
    if ! python3 -m venv "$CAREFLOW_VENV" >/dev/null 2>&1; then
      # Debian's python3 ships venv without ensurepip (package python3-venv).
      rm -rf "$CAREFLOW_VENV"
      if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
        careflow_log "installing python3-venv with apt"
        apt-get update -qq </dev/null >/dev/null && apt-get install -y -qq python3-venv </dev/null >/dev/null
      fi
      python3 -m venv "$CAREFLOW_VENV" || {
        rm -rf "$CAREFLOW_VENV"
        careflow_die "python3 -m venv failed: install python3-venv"
      }
    fi
  fi
  want="$( (sha256sum "$req"; "$CAREFLOW_VENV/bin/python" -V) 2>&1 | sha256sum | cut -d' ' -f1)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    return 0
  fi
  careflow_log "installing Python tools (moto, cfn-lint) into .local/venv"
  rm -f "$stamp"
  PIP_DISABLE_PIP_VERSION_CHECK=1 "$CAREFLOW_VENV/bin/python" -m pip install -q -r "$req" </dev/null \
    || careflow_die "pip install -r scripts/requirements-dev.txt failed"
  printf '%s\n' "$want" >"$stamp"
}

# ---------------------------------------------------------------------------- PostgreSQL

_cf_pg_find_bin() {
  local d
  if [[ -n "${CAREFLOW_PG_BIN:-}" ]]; then _CF_PG_BIN="$CAREFLOW_PG_BIN"; return 0; fi
  while IFS= read -r d; do
    if [[ -x "$d/pg_ctl" && -x "$d/postgres" ]]; then _CF_PG_BIN="$d"; return 0; fi
  done < <(printf '%s\n' /usr/lib/postgresql/*/bin | sort -rV)
  if command -v pg_ctl >/dev/null 2>&1; then _CF_PG_BIN="$(dirname "$(command -v pg_ctl)")"; return 0; fi
  return 1
}

# Runs a PostgreSQL tool as the postgres user when we are root (postgres refuses to run as root).
_cf_pg() {
  local tool="$1"; shift
  if [[ $EUID -eq 0 ]]; then
    (cd / && runuser -u postgres -- "$_CF_PG_BIN/$tool" "$@")
  else
    "$_CF_PG_BIN/$tool" "$@"
  fi
}

# Where the cluster lives: .local/pg, unless root's postgres user cannot reach it (then under /tmp).
_cf_pg_pick_base() {
  local base="$CAREFLOW_ROOT/.local/pg"
  mkdir -p "$base"
  if [[ $EUID -eq 0 ]]; then
    chown postgres: "$base"
    if ! (cd / && runuser -u postgres -- test -x "$base" -a -w "$base"); then
      base="${TMPDIR:-/tmp}/careflow-pg-$(printf '%s' "$CAREFLOW_ROOT" | cksum | cut -d' ' -f1)"
      careflow_log "postgres cannot reach .local/pg; using $base"
      mkdir -p "$base"
      chown postgres: "$base"
      chmod 700 "$base"
    fi
  fi
  _CF_PG_BASE="$base"
}

# PIDs of processes (postmaster and orphaned backends) whose cwd is the data dir.
_cf_pg_procs() {
  local data="$1" p cwd
  for p in /proc/[0-9]*; do
    cwd="$(readlink "$p/cwd" 2>/dev/null)" || continue
    [[ "$cwd" == "$data" ]] && _cf_alive "${p#/proc/}" && echo "${p#/proc/}"
  done
  return 0
}

# Prints the postmaster PID when a postmaster of this data dir is running.
_cf_pg_running_pid() {
  local data="$1" pid
  [[ -f "$data/postmaster.pid" ]] || return 1
  pid="$(head -n1 "$data/postmaster.pid" 2>/dev/null)" || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] && _cf_alive "$pid" || return 1
  [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == postgres ]] || return 1
  [[ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" == "$data" ]] || return 1
  echo "$pid"
}

# OCR of scanned lab reports: Tesseract (English data) and poppler's pdftoppm, from Debian's
# packages (lab-processor finds them in /usr/bin; on Lambda they come from the OCR layer).
careflow_ocr_tools() {
  if command -v tesseract >/dev/null 2>&1 && command -v pdftoppm >/dev/null 2>&1 \
    && tesseract --list-langs 2>/dev/null | grep -qx eng; then
    return 0
  fi
  if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    careflow_log "installing tesseract-ocr, tesseract-ocr-eng and poppler-utils with apt"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tesseract-ocr tesseract-ocr-eng poppler-utils </dev/null >/dev/null 2>&1 \
      || { apt-get update -qq </dev/null >/dev/null \
        && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tesseract-ocr tesseract-ocr-eng poppler-utils </dev/null >/dev/null; }
  fi
  command -v tesseract >/dev/null 2>&1 && command -v pdftoppm >/dev/null 2>&1 \
    || careflow_die "tesseract and pdftoppm are needed for OCR of scanned lab reports (apt-get install tesseract-ocr tesseract-ocr-eng poppler-utils)"
}

careflow_start_postgres() {
  [[ -n "$_CF_PG_STARTED" ]] && return 0
  if [[ -n "${CAREFLOW_DATABASE_URL:-}" ]]; then
    careflow_log "postgres: using CAREFLOW_DATABASE_URL from the environment"
    export CAREFLOW_DATABASE_URL
    return 0
  fi
  if ! _cf_pg_find_bin; then
    if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
      careflow_log "postgres: not installed; installing Debian's postgresql"
      apt-get update -qq </dev/null >/dev/null
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql </dev/null >/dev/null
    fi
    _cf_pg_find_bin || careflow_die "PostgreSQL server binaries not found (set CAREFLOW_PG_BIN or CAREFLOW_DATABASE_URL)"
  fi
  _cf_pg_pick_base
  local base="$_CF_PG_BASE" data="$_CF_PG_BASE/data" log="$_CF_PG_BASE/log" owner_file="$_CF_PG_BASE/owner"
  local major pid owner port sockdir i pids

  # Initialise once (and again if a partial or other-major cluster is there).
  major="$("$_CF_PG_BIN/postgres" --version | awk '{print $3}' | cut -d. -f1)"
  if [[ -f "$data/PG_VERSION" && "$(cat "$data/PG_VERSION")" != "$major" ]]; then
    careflow_log "postgres: cluster is version $(cat "$data/PG_VERSION"), binaries are $major; re-initialising"
    rm -rf "$data"
  elif [[ -d "$data" && ! -f "$data/PG_VERSION" ]]; then
    rm -rf "$data"
  fi
  if [[ ! -d "$data" ]]; then
    careflow_log "postgres: initdb ${data#"$CAREFLOW_ROOT"/}"
    _cf_pg initdb -D "$data" --auth=trust -U postgres -E UTF8 --locale=C --no-sync >"$base/initdb.log" 2>&1 \
      || { tail -n 20 "$base/initdb.log" >&2; careflow_die "initdb failed (log: $base/initdb.log)"; }
  fi

  # A server from an earlier run: reuse it if its owner (another of our scripts) is alive, else stop it.
  if pid="$(_cf_pg_running_pid "$data")"; then
    owner="$(cat "$owner_file" 2>/dev/null || true)"
    if [[ -n "$owner" && "$owner" != "$$" ]] && _cf_alive "$owner"; then
      port="$(sed -n 4p "$data/postmaster.pid")"
      export CAREFLOW_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
      careflow_log "postgres: sharing the server of running script pid $owner on port $port"
      return 0
    fi
    careflow_log "postgres: stopping a leftover server (pid $pid) from an earlier run"
    _cf_pg pg_ctl -D "$data" stop -m immediate -w -t 30 >/dev/null 2>&1 || kill -9 "$pid" 2>/dev/null || true
  fi
  # Backends orphaned by a killed postmaster hold its shared memory; wait for them, then kill them.
  for i in $(seq 1 50); do
    pids="$(_cf_pg_procs "$data")"
    [[ -z "$pids" ]] && break
    if [[ $i -eq 50 ]]; then
      # shellcheck disable=SC2086
      kill -9 $pids 2>/dev/null || true
      sleep 1
    fi
    sleep 0.2
  done
  # No process is left in the data dir, so a postmaster.pid is stale; its PID may be an unreaped
  # zombie or belong to another process now, either of which would make postgres refuse to start.
  if [[ -f "$data/postmaster.pid" ]] && ! _cf_pg_running_pid "$data" >/dev/null; then
    careflow_log "postgres: removing stale postmaster.pid"
    rm -f "$data/postmaster.pid"
  fi

  port="${CAREFLOW_PG_PORT:-$(_cf_free_port)}"
  sockdir="$data"
  (( ${#sockdir} > 90 )) && sockdir=/tmp   # unix socket paths are limited to ~107 bytes
  careflow_log "postgres: starting on 127.0.0.1:$port (log ${log#"$CAREFLOW_ROOT"/})"
  if ! _cf_pg pg_ctl -D "$data" -l "$log" -w -t 60 \
      -o "-p $port -k '$sockdir' -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
      start >/dev/null 2>&1; then
    tail -n 20 "$log" >&2 || true
    careflow_die "postgres did not start (log: $log)"
  fi
  _CF_PG_STARTED=1
  printf '%s\n' "$$" >"$owner_file"
  export CAREFLOW_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
}

# ---------------------------------------------------------------------------- moto (AWS APIs)

careflow_start_moto() {
  if [[ -n "${AWS_ENDPOINT_URL:-}" ]]; then
    careflow_log "aws: using AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL from the environment"
    export AWS_ENDPOINT_URL
    return 0
  fi
  if _cf_alive "$_CF_MOTO_PID"; then return 0; fi
  [[ -x "$CAREFLOW_VENV/bin/moto_server" ]] || careflow_venv
  local pidfile="$CAREFLOW_ROOT/.local/moto.pid" log="$CAREFLOW_ROOT/.local/moto.log" old owner port i admin
  # A moto left behind by a killed run of ours: stop it.
  if [[ -f "$pidfile" ]] && read -r old owner <"$pidfile"; then
    if [[ "$owner" != "$$" ]] && ! _cf_alive "$owner" && _cf_alive "$old" \
        && tr '\0' ' ' <"/proc/$old/cmdline" 2>/dev/null | grep -q moto_server; then
      careflow_log "aws: stopping a leftover moto_server (pid $old) from an earlier run"
      kill "$old" 2>/dev/null || true
    fi
  fi
  port="$(_cf_free_port)"
  admin="$CAREFLOW_ROOT/.local/moto-admin-$port.json"
  rm -f "$admin"
  careflow_log "aws: starting moto_server on 127.0.0.1:$port with IAM enforced (log .local/moto.log)"
  # One request at a time (moto's DynamoDB transactions are not thread-safe), and every request
  # checked against the caller's IAM policies; the administrator's key is written to $admin.
  "$CAREFLOW_VENV/bin/python" "$CAREFLOW_ROOT/scripts/moto_server_serial.py" 127.0.0.1 "$port" \
    --admin-credentials "$admin" </dev/null >"$log" 2>&1 &
  _CF_MOTO_PID=$!
  printf '%s %s\n' "$_CF_MOTO_PID" "$$" >"$pidfile"
  for i in $(seq 1 150); do
    if curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/"; then break; fi
    if ! _cf_alive "$_CF_MOTO_PID" || [[ $i -eq 150 ]]; then
      tail -n 20 "$log" >&2 || true
      careflow_die "moto_server did not come up (log: $log)"
    fi
    sleep 0.2
  done
  export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
  [[ -s "$admin" ]] || careflow_die "moto_server wrote no administrator credentials (log: $log)"
  AWS_ACCESS_KEY_ID="$("$CAREFLOW_VENV/bin/python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["access_key_id"])' "$admin")"
  AWS_SECRET_ACCESS_KEY="$("$CAREFLOW_VENV/bin/python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["secret_access_key"])' "$admin")"
  export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
  unset AWS_SESSION_TOKEN
  export AWS_REGION="${AWS_REGION:-us-east-1}"
  export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-$AWS_REGION}"
}

# ---------------------------------------------------------------------------- SAM and function roles

# The SAM CLI in a venv of its own (its boto3 pins conflict with moto's), reinstalled when
# scripts/requirements-sam.txt changes. It brings aws-sam-translator, which turns template.yaml
# into the CloudFormation that `sam deploy` submits.
careflow_sam_venv() {
  local sam_venv="$CAREFLOW_ROOT/.local/sam-venv" req="$CAREFLOW_ROOT/scripts/requirements-sam.txt"
  local stamp="$CAREFLOW_ROOT/.local/sam-venv/.requirements.sha256" hash
  hash=$(sha256sum "$req" | cut -d' ' -f1)
  if [[ ! -x "$sam_venv/bin/sam" || "$(cat "$stamp" 2>/dev/null)" != "$hash" ]]; then
    careflow_log "installing the SAM CLI into .local/sam-venv"
    python3 -m venv "$sam_venv"
    "$sam_venv/bin/pip" install -q --disable-pip-version-check -r "$req" </dev/null \
      || careflow_die "pip install -r scripts/requirements-sam.txt failed"
    echo "$hash" >"$stamp"
  fi
  export CAREFLOW_SAM_PYTHON="$sam_venv/bin/python"
}

# careflow_function_roles STAGE NAME: every function's role of template.yaml for STAGE (IAM
# wildcards allowed: the tests use sixteen `?`), created in the emulator with the policies the
# SAM transform gives it, and assumed; the credentials go to .local/function-credentials-NAME.json
# (exported as CAREFLOW_FUNCTION_CREDENTIALS). The stage's secrets are created too, so the
# roles' Secrets Manager grants name real ARNs.
careflow_function_roles() {
  local stage="$1" name="$2" translated="$CAREFLOW_ROOT/.local/template.translated.json"
  local out="$CAREFLOW_ROOT/.local/function-credentials-$name.json" secret arn
  local -a params
  careflow_sam_venv
  AWS_DEFAULT_REGION="${AWS_REGION:-us-east-1}" "$CAREFLOW_SAM_PYTHON" "$CAREFLOW_ROOT/scripts/sam_translate.py" \
    "$CAREFLOW_ROOT/template.yaml" --out "$translated" </dev/null \
    || careflow_die "translating template.yaml with aws-sam-translator failed"
  params=(--parameter "Stage=$stage")
  for secret in SigningKeySecretArn DatabaseSecretArn KafkaCredentialsSecretArn; do
    arn="$("$CAREFLOW_VENV/bin/python" "$CAREFLOW_ROOT/scripts/function_roles.py" --ensure-secret "careflow-$name-$secret" </dev/null)" \
      || careflow_die "creating the secret careflow-$name-$secret in the emulator failed"
    params+=(--parameter "$secret=$arn")
  done
  "$CAREFLOW_VENV/bin/python" "$CAREFLOW_ROOT/scripts/function_roles.py" --translated "$translated" \
    --out "$out" --role-prefix "careflow-$name" "${params[@]}" \
    --parameter "DatabaseUrl=postgres://careflow@127.0.0.1:5432/careflow" \
    --parameter "JwtIssuer=https://careflow.local" --parameter 'JwtPublicJwks={"keys":[]}' \
    --parameter "SubnetIds=subnet-local" --parameter "SecurityGroupIds=sg-local" \
    --parameter "CorsAllowedOrigins=http://localhost:3000" \
    --parameter "KafkaBootstrapServers=127.0.0.1:9092" </dev/null \
    || careflow_die "creating the functions' roles in the emulator failed"
  export CAREFLOW_FUNCTION_CREDENTIALS="$out"
}

# ---------------------------------------------------------------------------- teardown

careflow_stop_all() {
  local rc=$? i
  if [[ -n "$_CF_MOTO_PID" ]]; then
    kill "$_CF_MOTO_PID" 2>/dev/null || true
    for i in $(seq 1 50); do _cf_alive "$_CF_MOTO_PID" || break; sleep 0.1; done
    if _cf_alive "$_CF_MOTO_PID"; then kill -9 "$_CF_MOTO_PID" 2>/dev/null || true; fi
    wait "$_CF_MOTO_PID" 2>/dev/null || true
    rm -f "$CAREFLOW_ROOT/.local/moto.pid"
    careflow_log "aws: moto_server stopped"
    _CF_MOTO_PID=""
  fi
  if [[ -n "$_CF_PG_STARTED" ]]; then
    if ! _cf_pg pg_ctl -D "$_CF_PG_BASE/data" stop -m fast -w -t 30 >/dev/null 2>&1; then
      _cf_pg pg_ctl -D "$_CF_PG_BASE/data" stop -m immediate -w -t 30 >/dev/null 2>&1 || true
    fi
    rm -f "$_CF_PG_BASE/owner"
    careflow_log "postgres: stopped"
    _CF_PG_STARTED=""
  fi
  return "$rc"
}

careflow_traps() {
  trap careflow_stop_all EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 129' HUP
}
