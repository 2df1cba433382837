#!/usr/bin/env bash
# Lints the infrastructure definitions, offline:
#   1. terraform fmt -check -recursive terraform
#   2. scripts/check_terraform.py: every module and root parses as HCL2 and its variables, outputs,
#      locals and module references agree (terraform validate would need the providers), plus
#      its self-test against the deliberately broken fixture under scripts/testdata/
#   3. scripts/check_iam_grants.py: every secret (and customer-managed key) a function reads is
#      granted to its role, in template.yaml after the SAM transform, for SAM alone and for the
#      parameters Terraform passes; plus its self-test against broken copies of both
#   4. cfn-lint template.yaml and sam validate --lint; scripts/check_edge_rules.py: the edge web
#      ACL of template.yaml and of terraform/modules/api_edge have the same rules
#   5. every checkov skip carries its reason inline (# checkov:skip=CKV_X: reason)
#   6. checkov over terraform/ and template.yaml: any failed check fails the script; accepted
#      findings are skipped only inline, next to the resource, with the reason.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib/stack.sh
source scripts/lib/stack.sh

careflow_venv
py="$CAREFLOW_VENV/bin/python"
started=$SECONDS

# The SAM CLI's venv (.local/sam-venv, reinstalled when scripts/requirements-sam.txt changes;
# careflow_sam_venv in scripts/lib/stack.sh): sam validate, and scripts/sam_translate.py for
# check_iam_grants.py. It exports CAREFLOW_SAM_PYTHON.
if [[ -f template.yaml ]]; then
  careflow_sam_venv
  sam_bin="$(dirname "$CAREFLOW_SAM_PYTHON")/sam"
fi

if [[ -d terraform ]]; then
  if command -v terraform >/dev/null 2>&1; then
    careflow_log "\$ terraform fmt -check -recursive terraform"
    # A missing ~/.terraformrc named by TF_CLI_CONFIG_FILE only produces a warning; silence it.
    TF_CLI_CONFIG_FILE=/dev/null terraform fmt -check -recursive terraform \
      || careflow_die "terraform files are not formatted: run terraform fmt -recursive terraform"
  else
    careflow_log "warning: terraform not installed; skipping terraform fmt check (the HCL checks below still run)"
  fi
  careflow_log "\$ scripts/check_terraform.py --self-test"
  "$py" scripts/check_terraform.py --self-test
  careflow_log "\$ scripts/check_terraform.py terraform"
  "$py" scripts/check_terraform.py terraform
fi

if [[ -f template.yaml ]]; then
  if [[ -d terraform ]]; then
    careflow_log "\$ scripts/check_iam_grants.py --self-test"
    "$py" scripts/check_iam_grants.py --self-test
  fi
  careflow_log "\$ scripts/check_iam_grants.py"
  "$py" scripts/check_iam_grants.py
fi

if [[ -f template.yaml ]]; then
  careflow_log "\$ cfn-lint template.yaml"
  "$CAREFLOW_VENV/bin/cfn-lint" template.yaml
  careflow_log "\$ sam validate --lint"
  SAM_CLI_TELEMETRY=0 AWS_REGION="${AWS_REGION:-us-east-1}" AWS_DEFAULT_REGION="${AWS_REGION:-us-east-1}" \
    "$sam_bin" validate --lint -t template.yaml </dev/null
  if [[ -d terraform/modules/api_edge ]]; then
    careflow_log "\$ scripts/check_edge_rules.py"
    "$py" scripts/check_edge_rules.py
  fi
else
  careflow_log "no template.yaml; skipping cfn-lint"
fi

targets=()
[[ -d terraform ]] && targets+=(terraform)
[[ -f template.yaml ]] && targets+=(template.yaml)
if ((${#targets[@]})); then
  careflow_log "checking that every checkov skip carries its reason"
  bad="$(grep -rnE --include='*.tf' 'checkov:skip=' "${targets[@]}" \
    | grep -vE 'checkov:skip=CKV[0-9A-Z_]+: *[^ ].{9,}' || true)"
  if [[ -n "$bad" ]]; then
    printf '%s\n' "$bad" >&2
    careflow_die "checkov skips without an inline reason (write # checkov:skip=CKV_X: why)"
  fi
  if [[ -f template.yaml ]]; then
    bad="$(grep -nE 'checkov:skip=' template.yaml | grep -vE 'checkov:skip=CKV[0-9A-Z_]+: *[^ ].{9,}' || true)"
    if [[ -n "$bad" ]]; then
      printf '%s\n' "$bad" >&2
      careflow_die "checkov skips without an inline reason in template.yaml"
    fi
  fi

  # --skip-download: no network calls (no Prisma Cloud guidelines); the checks are all local.
  checkov_args=(--quiet --compact --skip-download --output cli)
  if [[ -d terraform ]]; then
    careflow_log "\$ checkov -d terraform --framework terraform ${checkov_args[*]}"
    "$CAREFLOW_VENV/bin/checkov" -d terraform --framework terraform "${checkov_args[@]}" \
      || careflow_die "checkov found failed checks in terraform/ (fix them, or skip inline with the reason)"
  fi
  if [[ -f template.yaml ]]; then
    careflow_log "\$ checkov -f template.yaml --framework cloudformation ${checkov_args[*]}"
    "$CAREFLOW_VENV/bin/checkov" -f template.yaml --framework cloudformation "${checkov_args[@]}" \
      || careflow_die "checkov found failed checks in template.yaml (fix them, or skip inline with the reason)"
  fi
fi
careflow_log "infra checks passed in $((SECONDS - started))s"
