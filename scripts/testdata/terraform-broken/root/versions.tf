terraform {
  required_providers {
    random = {
      source = "hashicorp/random"
    }
  }

  backend "s3" {
    bucket = "state"
    key    = "broken.tfstate"
    region = "eu-central-1"
  }
}
