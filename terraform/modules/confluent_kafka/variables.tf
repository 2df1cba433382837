variable "name" {
  description = "Name prefix, e.g. careflow-prod."
  type        = string
}

variable "cloud" {
  description = "Cloud that hosts the Kafka cluster (AWS: next to the Lambda functions)."
  type        = string
  default     = "AWS"
}

variable "region" {
  description = "Region of the Kafka cluster (the AWS region of the functions)."
  type        = string
}

variable "cluster_type" {
  description = "basic (dev) or standard (staging, prod: multi-zone, SLA)."
  type        = string
  default     = "basic"

  validation {
    condition     = contains(["basic", "standard"], var.cluster_type)
    error_message = "cluster_type must be basic or standard."
  }
}

variable "availability" {
  description = "SINGLE_ZONE or MULTI_ZONE."
  type        = string
  default     = "SINGLE_ZONE"
}

variable "topics" {
  description = "Topics with partition count and retention."
  type = map(object({
    partitions   = number
    retention_ms = number
  }))
  default = {
    appointments = {
      partitions   = 6
      retention_ms = 604800000
    }
    analytics-results = {
      partitions   = 3
      retention_ms = 604800000
    }
  }
}

variable "billing_consumer_group_prefix" {
  description = "Consumer group prefix of billing-consumer's Lambda event source mapping."
  type        = string
  default     = "careflow-billing"
}

variable "care_relationships_consumer_group_prefix" {
  description = "Consumer group prefix of care-relationships' Lambda event source mapping (reads appointments)."
  type        = string
  default     = "careflow-care"
}

variable "scheduling_events_consumer_group_prefix" {
  description = "Consumer group prefix of scheduling-events' Lambda event source mapping (reads appointments: reminders, confirmations, waitlist offers)."
  type        = string
  default     = "careflow-scheduling"
}

variable "analytics_sink_consumer_group_prefix" {
  description = "Consumer group prefix of analytics-sink's Lambda event source mapping (reads analytics-results)."
  type        = string
  default     = "careflow-analytics-sink"
}

variable "analytics_consumer_group_prefix" {
  description = "Consumer group prefix of gcp-analytics."
  type        = string
  default     = "careflow-analytics"
}
