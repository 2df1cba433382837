output "api_url" {
  description = "Invoke URL of the HTTP API stage (null before the first package)."
  value       = module.app.api_url
}

output "api_domain_target" {
  description = "DNS target (CNAME/alias) for the issuer's host name: the edge's CloudFront distribution, or the regional custom domain Terraform manages."
  value = (local.edge
    ? try(module.app.outputs["EdgeDistributionDomainName"], null)
    : try(aws_apigatewayv2_domain_name.api[0].domain_name_configuration[0].target_domain_name, null)
  )
}

output "artifact_bucket" {
  description = "Bucket for `sam package --s3-bucket`."
  value       = module.artifacts.bucket
}

output "migrate_function_name" {
  description = "Invoke after each deploy with {\"action\":\"migrate\"}."
  value       = module.app.migrate_function_name
}

output "signing_key_secret_arn" {
  description = "Put the keygen secret_string here with aws secretsmanager put-secret-value."
  value       = module.secrets.signing_key_secret_arn
}

output "database_secret_arn" {
  description = "RDS-managed database credentials secret."
  value       = module.database.secret_arn
}

output "database_proxy_endpoint" {
  description = "RDS Proxy host name."
  value       = module.database.proxy_endpoint
}

output "sam_parameters" {
  description = "The template parameters passed to the stack (also usable with sam deploy --parameter-overrides)."
  value       = local.sam_parameters
}

output "analytics_repository_url" {
  description = "Where to push the gcp-analytics image."
  value       = module.analytics.repository_url
}

output "analytics_service_name" {
  description = "Cloud Run service running gcp-analytics."
  value       = module.analytics.service_name
}

output "kafka_bootstrap_servers" {
  description = "Confluent Cloud bootstrap servers."
  value       = module.kafka.bootstrap_servers
}

output "web_url" {
  description = "HTTPS URL of the web portal (allow it in cors_allowed_origins)."
  value       = module.web.url
}

output "web_bucket" {
  description = "Bucket of the web portal's files."
  value       = module.web.bucket
}

output "web_distribution_id" {
  description = "CloudFront distribution of the web portal."
  value       = module.web.distribution_id
}

output "email_dkim_records" {
  description = "CNAME records that verify the registration mails' sending domain in SES (name -> value)."
  value = {
    for token in aws_sesv2_email_identity.sender.dkim_signing_attributes[0].tokens :
    "${token}._domainkey.${local.email_domain}" => "${token}.dkim.amazonses.com"
  }
}
