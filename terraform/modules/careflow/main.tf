# One CareFlow environment: AWS network, KMS, RDS PostgreSQL behind RDS Proxy, secrets, the SAM
# artifact bucket and the SAM application stack; Confluent Cloud topics and clients; gcp-analytics
# on Cloud Run. The roots under envs/ only choose the sizes and hold the backend configuration.

data "aws_region" "current" {}

locals {
  name = "careflow-${var.stage}"
  tags = merge({ project = "careflow", stage = var.stage, managed-by = "terraform" }, var.tags)

  # The function list, routes and event sources live only in template.yaml. Terraform offers
  # every parameter it can wire and passes those the template declares, so a parameter added
  # with a later function (e.g. the Kafka ones) is filled in as soon as the template has it.
  template_path   = coalesce(var.sam_template_path, "${path.module}/../../../template.yaml")
  template_params = regex("(?ms)^Parameters:[ \\t]*\\n(.*?)\\n[^ \\t\\n#]", file(local.template_path))[0]
  template_names  = toset(flatten(regexall("(?m)^  ([A-Za-z][A-Za-z0-9]*):", local.template_params)))

  offered_parameters = merge({
    Stage                      = var.stage
    JwtIssuer                  = var.jwt_issuer
    JwtAudience                = var.jwt_audience
    JwtPublicJwks              = var.jwt_public_jwks
    SigningKeySecretArn        = module.secrets.signing_key_secret_arn
    DatabaseUrl                = module.database.database_url
    DatabaseSecretArn          = module.database.secret_arn
    SubnetIds                  = join(",", module.network.private_subnet_ids)
    SecurityGroupIds           = module.network.lambda_security_group_id
    CorsAllowedOrigins         = join(",", var.cors_allowed_origins)
    KafkaBootstrapServers      = module.kafka.bootstrap_servers
    KafkaCredentialsSecretArn  = module.secrets.kafka_secret_arns["lambda"]
    LogsKmsKeyArn              = module.kms.key_arn
    SecretsKmsKeyArn           = module.kms.key_arn # encrypts the three secrets: their readers get kms:Decrypt
    EmailFromAddress           = local.email_from
    PortalUrl                  = module.web.url
    CareRelationshipWindowDays = tostring(var.care_relationship_window_days)
    EmergencyAccessMinutes     = tostring(var.emergency_access_minutes)
    # The edge (CloudFront + WAF) whenever its certificate is given; "" leaves it out.
    EdgeOriginSecretArn = local.edge ? module.edge[0].origin_secret_arn : ""
    EdgeOriginSecretSha256 = local.edge ? join(",", compact([
      module.edge[0].origin_secret_sha256, var.edge_previous_origin_secret_sha256
    ])) : ""
    EdgeOriginSecretVersionId   = local.edge ? module.edge[0].origin_secret_version_id : ""
    EdgeWebAclArn               = local.edge ? module.edge[0].web_acl_arn : ""
    EdgeAuthRequestsPer5Minutes = tostring(var.edge_auth_requests_per_5_minutes)
    EdgeDomainName              = local.edge ? local.api_domain : ""
    EdgeCertificateArn          = local.edge ? var.api_edge_certificate_arn : ""
  }, var.sam_extra_parameters)

  sam_parameters = { for k, v in local.offered_parameters : k => v if contains(local.template_names, k) }
  api_domain     = regex("^https://([^/]+)", var.jwt_issuer)[0]
  email_from     = coalesce(var.email_from_address, "no-reply@${local.api_domain}")
  email_domain   = split("@", local.email_from)[1]
  edge           = var.api_edge_certificate_arn != null
}

module "kms" {
  source                  = "../kms"
  name                    = local.name
  deletion_window_in_days = var.db_deletion_protection ? 30 : 7
  tags                    = local.tags
}

module "network" {
  source             = "../network"
  name               = local.name
  cidr_block         = var.vpc_cidr
  az_count           = var.az_count
  nat_gateway_per_az = var.nat_gateway_per_az
  kms_key_arn        = module.kms.key_arn
  log_retention_days = var.log_retention_days
  tags               = local.tags
}

module "database" {
  source                     = "../database"
  name                       = local.name
  subnet_ids                 = module.network.private_subnet_ids
  database_security_group_id = module.network.database_security_group_id
  proxy_security_group_id    = module.network.proxy_security_group_id
  kms_key_arn                = module.kms.key_arn
  instance_class             = var.db_instance_class
  allocated_storage          = var.db_allocated_storage
  max_allocated_storage      = var.db_max_allocated_storage
  multi_az                   = var.db_multi_az
  deletion_protection        = var.db_deletion_protection
  backup_retention_days      = var.db_backup_retention_days
  log_retention_days         = var.log_retention_days
  tags                       = local.tags
}

module "kafka" {
  source       = "../confluent_kafka"
  name         = local.name
  region       = data.aws_region.current.name
  cluster_type = var.kafka_cluster_type
  availability = var.kafka_availability
}

module "secrets" {
  source                  = "../secrets"
  name                    = local.name
  kms_key_arn             = module.kms.key_arn
  recovery_window_in_days = var.db_deletion_protection ? 30 : 7
  kafka_credentials = {
    lambda = module.kafka.client_credentials["lambda"]
  }
  tags = local.tags
}

module "artifacts" {
  source      = "../artifacts"
  name        = local.name
  kms_key_arn = module.kms.key_arn
  tags        = local.tags
}

# The API's edge: CloudFront (made by the stack) with a WAF web ACL and an origin secret (made
# here, the ACL in us-east-1). With it the issuer's host name is the distribution's alias.
module "edge" {
  count  = local.edge ? 1 : 0
  source = "../api_edge"
  providers = {
    aws           = aws
    aws.us_east_1 = aws.us_east_1
  }
  name                        = local.name
  kms_key_arn                 = module.kms.key_arn
  recovery_window_in_days     = var.db_deletion_protection ? 30 : 7
  auth_requests_per_5_minutes = var.edge_auth_requests_per_5_minutes
  log_retention_days          = var.log_retention_days
  tags                        = local.tags
}

module "app" {
  source       = "../sam_app"
  stack_name   = local.name
  template_url = var.sam_template_url
  parameters   = local.sam_parameters
  tags         = local.tags
}

module "analytics" {
  source                  = "../cloud_run_analytics"
  name                    = local.name
  project_id              = var.gcp_project_id
  region                  = var.gcp_region
  image_tag               = var.analytics_image_tag
  kafka_bootstrap_servers = module.kafka.bootstrap_servers
  kafka_sasl_username     = module.kafka.client_credentials["analytics"].username
  kafka_sasl_password     = module.kafka.client_credentials["analytics"].password
  min_instances           = var.analytics_min_instances
  deletion_protection     = var.db_deletion_protection
  extra_env = {
    KAFKA_SECURITY_PROTOCOL = "SASL_SSL"
    KAFKA_SASL_MECHANISM    = "PLAIN"
    RUST_LOG                = "info"
  }
  labels = { project = "careflow", stage = var.stage }
}

module "web" {
  source          = "../web_portal"
  name            = local.name
  api_url         = "https://${local.api_domain}"
  upload_origins  = ["https://*.s3.${data.aws_region.current.name}.amazonaws.com"]
  aliases         = var.web_aliases
  certificate_arn = var.web_certificate_arn
  tags            = local.tags
}

# ------------------------------------------------------------------------------ custom domain
# API Gateway's JWT authorizer fetches {issuer}/.well-known/openid-configuration, so the issuer
# must be the API's own custom domain. With the edge, that name is the CloudFront distribution's
# alias (point its DNS at the output api_edge_domain_name). Without it, and with a regional
# certificate given, Terraform maps the name to the stage.

resource "aws_apigatewayv2_domain_name" "api" {
  count       = var.api_certificate_arn != null && !local.edge ? 1 : 0
  domain_name = local.api_domain
  tags        = local.tags

  domain_name_configuration {
    certificate_arn = var.api_certificate_arn
    endpoint_type   = "REGIONAL"
    security_policy = "TLS_1_2"
  }
}

resource "aws_apigatewayv2_api_mapping" "api" {
  count       = var.api_certificate_arn != null && !local.edge && var.sam_template_url != null ? 1 : 0
  api_id      = module.app.api_id
  domain_name = aws_apigatewayv2_domain_name.api[0].id
  stage       = var.stage
}

# ------------------------------------------------------------------------------ e-mail (SES)

# The registration mails' sender: its domain as an SES identity, verified by the DKIM records
# in the output email_dkim_records (three CNAMEs in the domain's DNS). auth-register may send
# only from it (template.yaml). New SES accounts are in the sandbox: request production access.
resource "aws_sesv2_email_identity" "sender" {
  email_identity = local.email_domain
  tags           = local.tags
}
