variable "name" {
  description = "Name prefix, e.g. careflow-prod (lower case, at most 20 characters)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,19}$", var.name))
    error_message = "name must be lower case letters, digits and dashes, at most 20 characters."
  }
}

variable "consumer_group_id" {
  description = "Kafka consumer group of gcp-analytics; must match the analytics ACL prefix (careflow-analytics)."
  type        = string
  default     = "careflow-analytics"
}

variable "project_id" {
  description = "GCP project that hosts the analytics service."
  type        = string
}

variable "region" {
  description = "GCP region of the Artifact Registry repository and the Cloud Run service."
  type        = string
}

variable "image_tag" {
  description = "Tag of the gcp-analytics image in the repository (built from gcp-analytics/Dockerfile)."
  type        = string
}

variable "kafka_bootstrap_servers" {
  description = "Kafka bootstrap servers (Confluent Cloud)."
  type        = string
}

variable "kafka_sasl_username" {
  description = "Confluent API key of the analytics service account."
  type        = string
  sensitive   = true
}

variable "kafka_sasl_password" {
  description = "Confluent API secret of the analytics service account."
  type        = string
  sensitive   = true
}

variable "min_instances" {
  description = "Instances kept running (the consumer must always be polling: at least 1)."
  type        = number
  default     = 1

  validation {
    condition     = var.min_instances >= 1
    error_message = "min_instances must be at least 1: a Kafka consumer cannot scale from zero on requests."
  }
}

variable "max_instances" {
  description = "Upper bound on instances (at most the partition count of appointments is useful)."
  type        = number
  default     = 3
}

variable "cpu" {
  description = "CPU limit of the container."
  type        = string
  default     = "1"
}

variable "memory" {
  description = "Memory limit of the container."
  type        = string
  default     = "512Mi"
}

variable "extra_env" {
  description = "Further plain environment variables (e.g. RUST_LOG)."
  type        = map(string)
  default     = {}
}

variable "deletion_protection" {
  description = "Refuse to delete the Cloud Run service."
  type        = bool
  default     = true
}

variable "labels" {
  description = "Labels for every resource."
  type        = map(string)
  default     = {}
}
