variable "stack_name" {
  description = "CloudFormation stack name, e.g. careflow-prod."
  type        = string
}

variable "template_url" {
  description = <<-EOT
    S3 HTTPS URL of the template written by `sam package` (functions, routes and event sources
    live only in template.yaml). Null on the very first apply, before anything is packaged:
    the stack is then not created yet.
  EOT
  type        = string
  default     = null

  validation {
    condition     = var.template_url == null || can(regex("^https://", var.template_url))
    error_message = "template_url must be the https:// URL of the packaged template in S3."
  }
}

variable "parameters" {
  description = "Values of template.yaml's Parameters (list parameters comma-joined)."
  type        = map(string)
}

variable "notification_arns" {
  description = "SNS topics that receive the stack's events."
  type        = list(string)
  default     = []
}

variable "timeout_minutes" {
  description = "Create/update timeout of the stack (the VPC functions' ENIs take a while)."
  type        = number
  default     = 60
}

variable "tags" {
  description = "Tags for the stack (CloudFormation propagates them to its resources)."
  type        = map(string)
  default     = {}
}
