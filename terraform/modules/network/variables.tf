variable "name" {
  description = "Name prefix, e.g. careflow-prod."
  type        = string
}

variable "cidr_block" {
  description = "CIDR block of the VPC (a /16 leaves room for the /20 subnets)."
  type        = string
}

variable "az_count" {
  description = "Number of availability zones to spread subnets over (2 or 3)."
  type        = number
  default     = 2

  validation {
    condition     = var.az_count >= 2 && var.az_count <= 3
    error_message = "az_count must be 2 or 3 (RDS subnet groups and RDS Proxy need at least two zones)."
  }
}

variable "nat_gateway_per_az" {
  description = "One NAT gateway per zone (prod: zone-independent egress) instead of one shared gateway."
  type        = bool
  default     = false
}

variable "kms_key_arn" {
  description = "KMS key for the flow-log log group."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the VPC flow logs."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
