# The token signing key secret is created empty: Terraform never sees the private key. The
# operator generates it (`cargo run -p careflow-local -- keygen`) and stores it with
#   aws secretsmanager put-secret-value --secret-id <signing_key_secret_arn> \
#     --secret-string '{"kid":"...","private_key_pem":"..."}'
# (see README, "Deploy with Terraform"). Rotation is the documented keygen + JWKS flow, not a
# Secrets Manager rotation Lambda, because the public half must be published in the JWKS first.
#
# The Kafka credentials secrets ({"username","password"}, the shape the Lambda Kafka event source
# expects for BASIC_AUTH / SASL PLAIN) hold the Confluent API keys that Terraform itself creates,
# so their values are in state already (encrypted remote state) and are written here directly.

resource "aws_secretsmanager_secret" "signing_key" {
  # checkov:skip=CKV2_AWS_57: rotated by the operator with the keygen + JWKS procedure (README); an automatic rotation Lambda cannot publish the new public key to the JWKS first.
  name                    = "${var.name}/jwt-signing-key"
  description             = "CareFlow access-token signing key {\"kid\",\"private_key_pem\"}; value put by the operator"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.recovery_window_in_days
  tags                    = var.tags
}

resource "aws_secretsmanager_secret" "kafka" {
  # checkov:skip=CKV2_AWS_57: Confluent API keys are rotated by replacing confluent_api_key in Terraform (new key, then this version), not by a Secrets Manager rotation Lambda.
  for_each                = nonsensitive(toset(keys(var.kafka_credentials)))
  name                    = "${var.name}/kafka-${each.key}"
  description             = "Confluent Cloud API key of the CareFlow ${each.key} client {\"username\",\"password\"}"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.recovery_window_in_days
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "kafka" {
  for_each      = aws_secretsmanager_secret.kafka
  secret_id     = each.value.id
  secret_string = jsonencode(var.kafka_credentials[each.key])
}
