output "bucket" {
  description = "Bucket of the portal's files (aws s3 sync web/dist s3://BUCKET --exclude config.js)."
  value       = aws_s3_bucket.this.id
}

output "distribution_id" {
  description = "CloudFront distribution id (for cache invalidations after a release)."
  value       = aws_cloudfront_distribution.this.id
}

output "url" {
  description = "HTTPS URL of the portal (add it to cors_allowed_origins)."
  value       = length(var.aliases) > 0 ? "https://${var.aliases[0]}" : "https://${aws_cloudfront_distribution.this.domain_name}"
}

output "content_security_policy" {
  description = "The CSP the portal is served with."
  value       = local.csp
}
