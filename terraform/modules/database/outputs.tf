output "proxy_endpoint" {
  description = "Host name of RDS Proxy (what the functions connect to)."
  value       = aws_db_proxy.this.endpoint
}

output "instance_endpoint" {
  description = "Host:port of the instance itself (operators only; the functions use the proxy)."
  value       = aws_db_instance.this.endpoint
}

output "database_url" {
  description = "DATABASE_URL for the functions: the proxy, TLS required, no password."
  value       = "postgres://${var.master_username}@${aws_db_proxy.this.endpoint}:5432/${var.database_name}?sslmode=require"
}

output "secret_arn" {
  description = "ARN of the RDS-managed credentials secret {\"username\",\"password\"} (DATABASE_SECRET_ARN)."
  value       = aws_db_instance.this.master_user_secret[0].secret_arn
}

output "instance_identifier" {
  description = "Identifier of the RDS instance."
  value       = aws_db_instance.this.identifier
}
