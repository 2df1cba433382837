terraform {
  required_version = ">= 1.6"
  required_providers {
    aws = {
      source                = "hashicorp/aws"
      version               = "~> 5.80"
      configuration_aliases = [aws.us_east_1]
    }
    google = {
      source  = "hashicorp/google"
      version = "~> 6.14"
    }
    confluent = {
      source  = "confluentinc/confluent"
      version = "~> 2.12"
    }
  }
}
