# prod: Multi-AZ database with deletion protection and a final snapshot, three zones with one
# NAT gateway each, a multi-zone Kafka cluster, two always-on analytics instances.
module "careflow" {
  source = "../../modules/careflow"
  providers = {
    aws           = aws
    aws.us_east_1 = aws.us_east_1
  }

  stage              = "prod"
  log_retention_days = 365

  vpc_cidr           = "10.30.0.0/16"
  az_count           = 3
  nat_gateway_per_az = true

  db_instance_class        = "db.r7g.large"
  db_allocated_storage     = 100
  db_max_allocated_storage = 1000
  db_multi_az              = true
  db_deletion_protection   = true
  db_backup_retention_days = 35

  kafka_cluster_type = "standard"
  kafka_availability = "MULTI_ZONE"

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
  analytics_min_instances = 2
}
