output "vpc_id" {
  description = "Id of the VPC."
  value       = aws_vpc.this.id
}

output "private_subnet_ids" {
  description = "Private subnets (Lambda, RDS Proxy, RDS), one per zone."
  value       = aws_subnet.private[*].id
}

output "lambda_security_group_id" {
  description = "Security group of the functions that reach PostgreSQL."
  value       = aws_security_group.lambda.id
}

output "proxy_security_group_id" {
  description = "Security group of RDS Proxy."
  value       = aws_security_group.proxy.id
}

output "database_security_group_id" {
  description = "Security group of the RDS instance."
  value       = aws_security_group.database.id
}
