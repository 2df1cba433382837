#!/usr/bin/env bash
# Lints the infrastructure definitions: the SAM template with cfn-lint, and terraform/ formatting.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib/stack.sh
source scripts/lib/stack.sh

careflow_venv
if [[ -f template.yaml ]]; then
  careflow_log "\$ cfn-lint template.yaml"
  "$CAREFLOW_VENV/bin/cfn-lint" template.yaml
else
  careflow_log "no template.yaml; skipping cfn-lint"
fi
if [[ -d terraform ]]; then
  if command -v terraform >/dev/null 2>&1; then
    careflow_log "\$ terraform fmt -check -recursive terraform"
    terraform fmt -check -recursive terraform
  else
    careflow_log "terraform not installed; skipping terraform fmt check"
  fi
fi
careflow_log "infra checks passed"
