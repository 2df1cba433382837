variable "name" {
  description = "Name prefix, e.g. careflow-prod."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets (at least two zones) for the instance and the proxy."
  type        = list(string)
}

variable "database_security_group_id" {
  description = "Security group of the instance (reachable from the proxy only)."
  type        = string
}

variable "proxy_security_group_id" {
  description = "Security group of RDS Proxy."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key for storage, Performance Insights, the credentials secret and logs."
  type        = string
}

variable "engine_version" {
  description = "PostgreSQL major (or major.minor) version."
  type        = string
  default     = "16"
}

variable "instance_class" {
  description = "Instance class, e.g. db.t4g.micro (dev) or db.r7g.large (prod)."
  type        = string
}

variable "allocated_storage" {
  description = "Initial storage in GiB."
  type        = number
  default     = 20
}

variable "max_allocated_storage" {
  description = "Storage autoscaling ceiling in GiB."
  type        = number
  default     = 100
}

variable "multi_az" {
  description = "Synchronous standby in a second zone (prod)."
  type        = bool
}

variable "deletion_protection" {
  description = "Refuse to delete the instance; also takes a final snapshot on destroy."
  type        = bool
}

variable "backup_retention_days" {
  description = "Automated backup retention (point-in-time recovery window)."
  type        = number
  default     = 7
}

variable "database_name" {
  description = "Name of the application database."
  type        = string
  default     = "careflow"
}

variable "master_username" {
  description = "Master user name; its password is generated and kept by RDS in Secrets Manager."
  type        = string
  default     = "careflow"
}

variable "proxy_max_connections_percent" {
  description = "Share of the instance's max_connections the proxy may open."
  type        = number
  default     = 90
}

variable "log_retention_days" {
  description = "Retention of the exported PostgreSQL logs."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
