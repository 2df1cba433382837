terraform {
  required_version = ">= 1.6"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.80"
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

  # Remote state: one S3 bucket per AWS account (versioned, KMS-encrypted, created once by hand
  # or by a bootstrap stack) with S3-native locking. Override with -backend-config if yours
  # is named differently: terraform init -backend-config="bucket=..."
  backend "s3" {
    bucket       = "careflow-terraform-state-prod"
    key          = "careflow/prod/terraform.tfstate"
    region       = "eu-central-1"
    encrypt      = true
    use_lockfile = true
  }
}

provider "aws" {
  region = var.aws_region

  default_tags {
    tags = {
      project = "careflow"
      stage   = "prod"
    }
  }
}

# CloudFront's certificates and web ACLs live in us-east-1 whatever the environment's region.
provider "aws" {
  alias  = "us_east_1"
  region = "us-east-1"

  default_tags {
    tags = {
      project = "careflow"
      stage   = "prod"
    }
  }
}

provider "google" {
  project = var.gcp_project_id
  region  = var.gcp_region
}

# Credentials: CONFLUENT_CLOUD_API_KEY / CONFLUENT_CLOUD_API_SECRET (a Cloud API key of an
# OrganizationAdmin or EnvironmentAdmin service account) in the environment.
provider "confluent" {}
