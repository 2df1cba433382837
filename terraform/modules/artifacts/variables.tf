variable "name" {
  description = "Name prefix, e.g. careflow-prod."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key that encrypts the artifacts."
  type        = string
}

variable "noncurrent_version_expiration_days" {
  description = "How long superseded artifact versions are kept."
  type        = number
  default     = 90
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
