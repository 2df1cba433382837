variable "name" {
  description = "Name prefix, e.g. careflow-prod."
  type        = string
}

variable "api_url" {
  description = "Public base URL of the HTTP API (the issuer's custom domain), written into config.js and allowed by the CSP."
  type        = string

  validation {
    condition     = can(regex("^https://[^/]+$", var.api_url))
    error_message = "api_url must be an https:// origin without a path or trailing slash."
  }
}

variable "upload_origins" {
  description = "Extra origins the portal may connect to (the lab-report bucket's presigned POST endpoint)."
  type        = list(string)
  default     = []
}

variable "aliases" {
  description = "Custom host names of the portal (need certificate_arn)."
  type        = list(string)
  default     = []
}

variable "certificate_arn" {
  description = "ACM certificate in us-east-1 for the aliases; null serves the portal on its cloudfront.net name."
  type        = string
  default     = null
}

variable "price_class" {
  description = "CloudFront price class."
  type        = string
  default     = "PriceClass_100"
}

variable "config_max_age_seconds" {
  description = "How long browsers and CloudFront may cache config.js."
  type        = number
  default     = 60
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
