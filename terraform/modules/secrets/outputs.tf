output "signing_key_secret_arn" {
  description = "ARN of the signing key secret (put its value with aws secretsmanager put-secret-value)."
  value       = aws_secretsmanager_secret.signing_key.arn
}

output "kafka_secret_arns" {
  description = "ARNs of the Kafka credentials secrets by client (lambda: the template's KafkaCredentialsSecretArn)."
  value       = { for k, s in aws_secretsmanager_secret.kafka : k => s.arn }
}
