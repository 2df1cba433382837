# dev: smallest sizes, single zone where it is cheaper, resources deletable.
module "careflow" {
  source = "../../modules/careflow"
  providers = {
    aws           = aws
    aws.us_east_1 = aws.us_east_1
  }

  stage              = "dev"
  log_retention_days = 14

  vpc_cidr           = "10.10.0.0/16"
  az_count           = 2
  nat_gateway_per_az = false

  db_instance_class        = "db.t4g.micro"
  db_allocated_storage     = 20
  db_max_allocated_storage = 50
  db_multi_az              = false
  db_deletion_protection   = false
  db_backup_retention_days = 1

  kafka_cluster_type = "basic"
  kafka_availability = "SINGLE_ZONE"

  sam_template_url     = var.sam_template_url
  jwt_issuer           = var.jwt_issuer
  jwt_public_jwks      = var.jwt_public_jwks
  cors_allowed_origins = var.cors_allowed_origins
  api_certificate_arn  = var.api_certificate_arn
  # The edge (CloudFront + WAF) in front of the API, whenever its us-east-1 certificate is given.
  api_edge_certificate_arn = var.api_edge_certificate_arn

  gcp_project_id          = var.gcp_project_id
  gcp_region              = var.gcp_region
  analytics_image_tag     = var.analytics_image_tag
  analytics_min_instances = 1
}
