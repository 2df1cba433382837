variable "aws_region" {
  description = "AWS region of the environment (also where the Confluent cluster is created)."
  type        = string
  default     = "eu-central-1"
}

variable "gcp_project_id" {
  description = "GCP project for gcp-analytics."
  type        = string
}

variable "gcp_region" {
  description = "GCP region for gcp-analytics."
  type        = string
  default     = "europe-west3"
}

variable "sam_template_url" {
  description = "https:// S3 URL of the template written by `sam package` (leave unset on the first apply)."
  type        = string
  default     = null
}

variable "jwt_issuer" {
  description = "https base URL of the API's custom domain (the tokens' iss)."
  type        = string
}

variable "jwt_public_jwks" {
  description = "Public JWKS JSON {\"keys\":[...]} from `careflow-local keygen` (current + previous key while rotating)."
  type        = string
}

variable "cors_allowed_origins" {
  description = "Origins allowed by CORS (the web portal)."
  type        = list(string)
}

variable "api_certificate_arn" {
  description = "ACM certificate for the issuer's host name (null: map the custom domain yourself)."
  type        = string
  default     = null
}

variable "api_edge_certificate_arn" {
  description = "ACM certificate in us-east-1 for the issuer's host name; given, the API is served through CloudFront with the WAF web ACL (null: no edge)."
  type        = string
  default     = null
}

variable "analytics_image_tag" {
  description = "Tag of the gcp-analytics image in this environment's Artifact Registry repository."
  type        = string
}
