#!/usr/bin/env bash
# Fails on any RustSec advisory for a crate in Cargo.lock (cargo-deny, offline).
#
# The machines that test CareFlow cannot fetch the advisory database, so the snapshot in
# ../shared/rustsec-advisory-db stands in for it: it is copied to where cargo-deny keeps its copy
# of https://github.com/rustsec/advisory-db (a git checkout, committed with the snapshot's date so
# cargo-deny sees its true age), and cargo-deny runs with --offline. The crates of every target
# are fetched first: cargo-deny reads the whole graph with `cargo metadata`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/lib/stack.sh"
careflow_venv
snapshot="${CAREFLOW_ADVISORY_DB:-$root/../shared/rustsec-advisory-db}"
[[ -d "$snapshot/crates" ]] || careflow_die "no RustSec snapshot at $snapshot (set CAREFLOW_ADVISORY_DB)"
# cargo-deny's directory for that URL: its name plus a hash of the URL, fixed by cargo-deny.
db="$root/.local/advisory-dbs/advisory-db-3157b0e258782691"
date="$(grep -oE '[0-9]{4}-[0-9]{2}-[0-9]{2}' "$snapshot/README.md" | head -1)"
[[ -n "$date" ]] || careflow_die "the snapshot's README gives no date"
rm -rf "$db"
mkdir -p "$db"
cp -R "$snapshot/." "$db/"
(
  cd "$db"
  git init -q
  git add -A
  GIT_AUTHOR_DATE="${date}T00:00:00Z" GIT_COMMITTER_DATE="${date}T00:00:00Z" \
    git -c user.name=careflow -c user.email=careflow@localhost commit -qm "RustSec snapshot $date"
) </dev/null
cd "$root"
cargo fetch --locked </dev/null
"$CAREFLOW_VENV/bin/cargo-deny" --offline check advisories </dev/null
careflow_log "no advisory for any locked crate (RustSec snapshot of $date)"
