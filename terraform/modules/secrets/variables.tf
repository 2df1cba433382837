variable "name" {
  description = "Name prefix, e.g. careflow-prod."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key that encrypts the secrets."
  type        = string
}

variable "recovery_window_in_days" {
  description = "Days a deleted secret can still be restored (0 deletes at once; dev only)."
  type        = number
  default     = 30
}

variable "kafka_credentials" {
  description = "Confluent API keys of the Lambda Kafka clients, by client name (lambda: the KafkaCredentialsSecretArn of template.yaml)."
  type = map(object({
    username = string
    password = string
  }))
  sensitive = true
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
