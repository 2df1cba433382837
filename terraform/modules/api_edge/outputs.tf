output "origin_secret_arn" {
  description = "The secret CloudFront sends as x-careflow-origin-verify (template.yaml's EdgeOriginSecretArn)."
  value       = aws_secretsmanager_secret_version.origin.arn
}

output "origin_secret_version_id" {
  description = "The origin secret's version (EdgeOriginSecretVersionId): a new value is a new version, so the stack re-reads it."
  value       = aws_secretsmanager_secret_version.origin.version_id
}

output "origin_secret_sha256" {
  description = "SHA-256 (hex) of the origin secret, all the functions are told (EdgeOriginSecretSha256)."
  value       = sha256(random_password.origin.result)
}

output "web_acl_arn" {
  description = "The CLOUDFRONT-scope web ACL (EdgeWebAclArn)."
  value       = aws_wafv2_web_acl.api.arn
}
