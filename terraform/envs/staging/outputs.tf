output "api_url" {
  description = "Invoke URL of the HTTP API stage."
  value       = module.careflow.api_url
}

output "api_domain_target" {
  description = "DNS target for the issuer's host name."
  value       = module.careflow.api_domain_target
}

output "artifact_bucket" {
  description = "Bucket for sam package --s3-bucket."
  value       = module.careflow.artifact_bucket
}

output "migrate_function_name" {
  description = "Invoke after each deploy with {\"action\":\"migrate\"}."
  value       = module.careflow.migrate_function_name
}

output "signing_key_secret_arn" {
  description = "Where the signing key goes (aws secretsmanager put-secret-value)."
  value       = module.careflow.signing_key_secret_arn
}

output "database_secret_arn" {
  description = "RDS-managed database credentials secret."
  value       = module.careflow.database_secret_arn
}

output "database_proxy_endpoint" {
  description = "RDS Proxy host name."
  value       = module.careflow.database_proxy_endpoint
}

output "sam_parameters" {
  description = "Template parameters passed to the stack."
  value       = module.careflow.sam_parameters
}

output "analytics_repository_url" {
  description = "Where to push the gcp-analytics image."
  value       = module.careflow.analytics_repository_url
}

output "kafka_bootstrap_servers" {
  description = "Confluent Cloud bootstrap servers."
  value       = module.careflow.kafka_bootstrap_servers
}

output "web_url" {
  description = "HTTPS URL of the web portal (allow it in cors_allowed_origins)."
  value       = module.careflow.web_url
}

output "web_bucket" {
  description = "aws s3 sync web/dist s3://BUCKET --exclude config.js"
  value       = module.careflow.web_bucket
}

output "web_distribution_id" {
  description = "aws cloudfront create-invalidation --distribution-id ID --paths '/*' after a release."
  value       = module.careflow.web_distribution_id
}

output "email_dkim_records" {
  description = "Publish these CNAMEs so SES accepts the registration mails' sender."
  value       = module.careflow.email_dkim_records
}
