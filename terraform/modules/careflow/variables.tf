variable "stage" {
  description = "Environment: dev, staging or prod (the SAM template's Stage)."
  type        = string

  validation {
    condition     = contains(["dev", "staging", "prod"], var.stage)
    error_message = "stage must be dev, staging or prod."
  }
}

variable "tags" {
  description = "Extra tags for every AWS resource."
  type        = map(string)
  default     = {}
}

variable "log_retention_days" {
  description = "Retention of the CloudWatch log groups Terraform creates (flow logs, RDS)."
  type        = number
}

# ---------------------------------------------------------------------------- network

variable "vpc_cidr" {
  description = "CIDR block of the environment's VPC."
  type        = string
}

variable "az_count" {
  description = "Availability zones to use (2 or 3)."
  type        = number
  default     = 2
}

variable "nat_gateway_per_az" {
  description = "One NAT gateway per zone instead of one shared gateway."
  type        = bool
  default     = false
}

# ---------------------------------------------------------------------------- database

variable "db_instance_class" {
  description = "RDS instance class."
  type        = string
}

variable "db_allocated_storage" {
  description = "Initial RDS storage in GiB."
  type        = number
  default     = 20
}

variable "db_max_allocated_storage" {
  description = "RDS storage autoscaling ceiling in GiB."
  type        = number
  default     = 100
}

variable "db_multi_az" {
  description = "Multi-AZ standby (prod)."
  type        = bool
}

variable "db_deletion_protection" {
  description = "Deletion protection and a final snapshot (prod); also keeps KMS keys and secrets recoverable for 30 days."
  type        = bool
}

variable "db_backup_retention_days" {
  description = "RDS automated backup retention in days."
  type        = number
  default     = 7
}

# ---------------------------------------------------------------------------- the SAM application

variable "sam_template_url" {
  description = "https:// S3 URL of the packaged template (null until the first `sam package`)."
  type        = string
  default     = null
}

variable "sam_template_path" {
  description = "Path of template.yaml, read only for the names of its Parameters (defaults to the repository's)."
  type        = string
  default     = null
}

variable "jwt_issuer" {
  description = "Access-token issuer: the https base URL of the API's custom domain, no trailing slash."
  type        = string
}

variable "jwt_audience" {
  description = "Access-token audience."
  type        = string
  default     = "careflow-api"
}

variable "jwt_public_jwks" {
  description = "Public JWKS JSON {\"keys\":[...]} (current and, while rotating, previous key)."
  type        = string
}

variable "cors_allowed_origins" {
  description = "Origins allowed by the HTTP API's CORS configuration."
  type        = list(string)
}

variable "email_from_address" {
  description = "Sender of registration e-mails. Null: no-reply@ the API's domain. Its domain becomes an SES identity here; publish the DKIM records output as email_dkim_records."
  type        = string
  default     = null
  validation {
    condition     = var.email_from_address == null || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.email_from_address))
    error_message = "email_from_address must be an e-mail address."
  }
}

variable "care_relationship_window_days" {
  description = "Days after an appointment's start during which its doctor keeps access to the patient's records (template CareRelationshipWindowDays)."
  type        = number
  default     = 365
  validation {
    condition     = var.care_relationship_window_days >= 1 && var.care_relationship_window_days <= 3650
    error_message = "care_relationship_window_days must be between 1 and 3650."
  }
}

variable "emergency_access_minutes" {
  description = "How long a break-the-glass grant lasts (template EmergencyAccessMinutes)."
  type        = number
  default     = 60
  validation {
    condition     = var.emergency_access_minutes >= 1 && var.emergency_access_minutes <= 1440
    error_message = "emergency_access_minutes must be between 1 and 1440."
  }
}

variable "api_certificate_arn" {
  description = "ACM certificate (same region) for the issuer's host name; null leaves the custom domain to the operator."
  type        = string
  default     = null
}

variable "api_edge_certificate_arn" {
  description = "ACM certificate in us-east-1 for the issuer's host name. Given: the API is served through CloudFront with the WAF web ACL (module api_edge) and the functions refuse requests that go around it. Null: no edge."
  type        = string
  default     = null

  validation {
    condition     = var.api_edge_certificate_arn == null || can(regex("^arn:aws[a-z-]*:acm:us-east-1:[0-9]{12}:certificate/", var.api_edge_certificate_arn))
    error_message = "CloudFront takes certificates from us-east-1 only."
  }
}

variable "edge_previous_origin_secret_sha256" {
  description = "During a rotation of the edge's origin secret: the SHA-256 of the value being replaced (terraform output -json sam_parameters before the rotation), still accepted by the functions until CloudFront sends the new one. Null otherwise."
  type        = string
  default     = null

  validation {
    condition     = var.edge_previous_origin_secret_sha256 == null || can(regex("^[0-9a-f]{64}$", var.edge_previous_origin_secret_sha256))
    error_message = "64 lowercase hex digits."
  }
}

variable "edge_auth_requests_per_5_minutes" {
  description = "The edge web ACL's rate-based rule: requests to /auth/* per client address per 5 minutes before WAF answers 429."
  type        = number
  default     = 300
}

variable "sam_extra_parameters" {
  description = "Further template parameters, merged over the ones wired from the modules."
  type        = map(string)
  default     = {}
}

# ---------------------------------------------------------------------------- Kafka and GCP

variable "kafka_cluster_type" {
  description = "Confluent cluster type: basic or standard."
  type        = string
}

variable "kafka_availability" {
  description = "Confluent cluster availability: SINGLE_ZONE or MULTI_ZONE."
  type        = string
}

variable "gcp_project_id" {
  description = "GCP project for gcp-analytics."
  type        = string
}

variable "gcp_region" {
  description = "GCP region for gcp-analytics."
  type        = string
}

variable "analytics_image_tag" {
  description = "Tag of the gcp-analytics image pushed to the environment's Artifact Registry repository."
  type        = string
}

variable "analytics_min_instances" {
  description = "Always-on instances of gcp-analytics (at least 1)."
  type        = number
  default     = 1
}

variable "web_aliases" {
  description = "Custom host names of the web portal (need web_certificate_arn)."
  type        = list(string)
  default     = []
}

variable "web_certificate_arn" {
  description = "ACM certificate in us-east-1 for web_aliases; null serves the portal on its cloudfront.net name."
  type        = string
  default     = null
}
