output "bucket" {
  description = "Name of the artifact bucket (sam package --s3-bucket)."
  value       = aws_s3_bucket.this.id
}

output "bucket_arn" {
  description = "ARN of the artifact bucket."
  value       = aws_s3_bucket.this.arn
}
