terraform {
  required_providers {
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }
}

variable "length" {
  type = number
}

resource "random_id" "this" {
  byte_length = var.length
}

output "hex" {
  value = random_id.this.hex
}
