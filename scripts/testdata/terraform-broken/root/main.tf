locals {
  prefix = "x-${var.name}"
}

module "child" {
  source        = "../child"
  optional_size = 2
  not_a_var     = "oops"
}

module "gone" {
  source = "../does-not-exist"
}

resource "random_id" "this" {
  byte_length = 4
}

resource "aws_s3_bucket" "this" {
  bucket = "${local.prefix}-${local.nowhere}-${var.undeclared}"
}

output "child_missing" {
  value = module.child.missing_output
}

output "ghost" {
  value = module.ghost.anything
}
