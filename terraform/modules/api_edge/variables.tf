variable "name" {
  description = "Name prefix, e.g. careflow-prod."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key (the environment's region) that encrypts the origin secret."
  type        = string
}

variable "recovery_window_in_days" {
  description = "Days a deleted origin secret can still be restored."
  type        = number
  default     = 30
}

variable "auth_requests_per_5_minutes" {
  description = "Requests to /auth/* one client address may make in any 5 minutes before WAF answers 429."
  type        = number
  default     = 300

  validation {
    condition     = var.auth_requests_per_5_minutes >= 10 && var.auth_requests_per_5_minutes <= 100000
    error_message = "WAF rate-based rules take limits from 10 to 100000 (template.yaml's EdgeAuthRequestsPer5Minutes has the same bounds)."
  }
}

variable "log_retention_days" {
  description = "Retention of the WAF log (blocked and counted requests only)."
  type        = number
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
