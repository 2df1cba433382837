variable "required_name" {
  type = string
}

variable "optional_size" {
  type    = number
  default = 1
}

output "name" {
  value = var.required_name
}
