#!/usr/bin/env bash
# Creates the edge's origin secret for a SAM-only deployment (Terraform makes its own in
# terraform/modules/api_edge) and prints the two template parameters that use it:
#
#   scripts/create-edge-secret.sh STAGE [KMS_KEY_ARN]
#   sam deploy ... --parameter-overrides EdgeOriginSecretArn=... EdgeOriginSecretSha256=... \
#     EdgeDomainName=api.example.org EdgeCertificateArn=arn:aws:acm:us-east-1:...
#
# CloudFront sends the secret's value to the API as x-careflow-origin-verify; the functions get
# only its SHA-256. The value never appears on a command line or in the output. Rotating: see
# the README ("Deploy", the edge).
set -euo pipefail
stage=${1:?usage: scripts/create-edge-secret.sh STAGE [KMS_KEY_ARN]}
kms_key=${2:-}
command -v aws >/dev/null || { echo "create-edge-secret.sh: the AWS CLI is required" >&2; exit 2; }

umask 077
value_file=$(mktemp)
trap 'rm -f "$value_file"' EXIT
# 48 characters from [A-Za-z0-9_-]: 288 random bits, safe in an HTTP header.
head -c 36 /dev/urandom | base64 | tr '+/' '-_' | tr -d '\n=' >"$value_file"
digest=$(sha256sum "$value_file" | cut -d' ' -f1)

args=(--name "careflow-${stage}/edge-origin" --description "Header value CloudFront sends to the CareFlow API (x-careflow-origin-verify)"
  --secret-string "file://$value_file" --query '[ARN,VersionId]' --output text)
[[ -n "$kms_key" ]] && args+=(--kms-key-id "$kms_key")
read -r arn version < <(aws secretsmanager create-secret "${args[@]}")
echo "EdgeOriginSecretArn=$arn EdgeOriginSecretVersionId=$version EdgeOriginSecretSha256=$digest"
