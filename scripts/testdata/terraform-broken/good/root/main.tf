terraform {
  backend "s3" {
    bucket       = "state"
    key          = "good.tfstate"
    region       = "eu-central-1"
    use_lockfile = true
  }
}

locals {
  length = 4
}

module "child" {
  source = "../child"
  length = local.length
}

output "hex" {
  value = module.child.hex
}
