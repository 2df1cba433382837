# The API's edge, the parts a regional stack cannot make: AWS WAF cannot be attached to an HTTP
# API, so template.yaml puts a CloudFront distribution in front of it, and CloudFront-scope web
# ACLs exist only in us-east-1 (the aws.us_east_1 provider). This module creates
#   - the origin secret CloudFront sends as x-careflow-origin-verify; the functions are given
#     only its SHA-256 and refuse requests without it, so nobody skips the ACL by calling the
#     execute-api address (shared/src/edge.rs);
#   - the web ACL, with the same rules as the template's own EdgeWebAcl (which SAM-only
#     deployments in us-east-1 use); scripts/check_edge_rules.py keeps the two in step;
#   - WAF's log of blocked and counted requests, Authorization redacted.

resource "random_password" "origin" {
  length  = 48
  special = false
}

resource "aws_secretsmanager_secret" "origin" {
  # checkov:skip=CKV2_AWS_57: rotated by replacing random_password.origin (terraform apply -replace): the stack then sends the new value and the functions get its digest in the same update.
  name_prefix             = "${var.name}/edge-origin-"
  description             = "Header value CloudFront sends to the CareFlow API (x-careflow-origin-verify)"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.recovery_window_in_days
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "origin" {
  secret_id     = aws_secretsmanager_secret.origin.id
  secret_string = random_password.origin.result
}

locals {
  too_many_requests = {
    response_code            = 429
    custom_response_body_key = "too-many-requests"
    retry_after              = "300"
  }
  # Priority 2 onwards: AWS managed rule groups, with the rules that only count.
  managed_rule_groups = [
    { name = "aws-ip-reputation", group = "AWSManagedRulesAmazonIpReputationList", count_only = [] },
    # Includes the Log4j (CVE-2021-44228) patterns.
    { name = "aws-known-bad-inputs", group = "AWSManagedRulesKnownBadInputsRuleSet", count_only = [] },
    # The rule set blocks bodies over 8 KB; the functions accept up to 16 KB and answer 413 beyond.
    { name = "aws-common", group = "AWSManagedRulesCommonRuleSet", count_only = ["SizeRestrictions_BODY"] },
  ]
}

resource "aws_wafv2_web_acl" "api" {
  provider    = aws.us_east_1
  name        = "${var.name}-api-edge"
  description = "CareFlow API edge - rate limits and AWS managed rules"
  scope       = "CLOUDFRONT"
  tags        = var.tags

  default_action {
    allow {}
  }

  # The same problem+json the functions answer with.
  custom_response_body {
    key          = "too-many-requests"
    content_type = "APPLICATION_JSON"
    content      = "{\"type\":\"/problems/too-many-requests\",\"title\":\"Too many attempts\",\"status\":429,\"detail\":\"try again in 300 s\"}"
  }

  # Credential guessing and registration floods, per client address.
  rule {
    name     = "auth-requests-per-address"
    priority = 0

    action {
      block {
        custom_response {
          response_code            = local.too_many_requests.response_code
          custom_response_body_key = local.too_many_requests.custom_response_body_key
          response_header {
            name  = "retry-after"
            value = local.too_many_requests.retry_after
          }
        }
      }
    }

    statement {
      rate_based_statement {
        limit                 = var.auth_requests_per_5_minutes
        evaluation_window_sec = 300
        aggregate_key_type    = "IP"

        scope_down_statement {
          byte_match_statement {
            search_string         = "/auth/"
            positional_constraint = "STARTS_WITH"
            field_to_match {
              uri_path {}
            }
            # Decoded first: /%61uth/login must count as /auth/login.
            text_transformation {
              priority = 0
              type     = "URL_DECODE"
            }
            text_transformation {
              priority = 1
              type     = "LOWERCASE"
            }
          }
        }
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-auth-rate"
      sampled_requests_enabled   = true
    }
  }

  # A coarse flood brake on everything else (the API's route throttles are per API).
  rule {
    name     = "api-requests-per-address"
    priority = 1

    action {
      block {
        custom_response {
          response_code            = local.too_many_requests.response_code
          custom_response_body_key = local.too_many_requests.custom_response_body_key
          response_header {
            name  = "retry-after"
            value = local.too_many_requests.retry_after
          }
        }
      }
    }

    statement {
      rate_based_statement {
        limit                 = 6000
        evaluation_window_sec = 300
        aggregate_key_type    = "IP"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-api-rate"
      sampled_requests_enabled   = true
    }
  }

  dynamic "rule" {
    for_each = local.managed_rule_groups
    content {
      name     = rule.value.name
      priority = 2 + rule.key

      override_action {
        none {}
      }

      statement {
        managed_rule_group_statement {
          vendor_name = "AWS"
          name        = rule.value.group

          dynamic "rule_action_override" {
            for_each = rule.value.count_only
            content {
              name = rule_action_override.value
              action_to_use {
                count {}
              }
            }
          }
        }
      }

      visibility_config {
        cloudwatch_metrics_enabled = true
        metric_name                = "${var.name}-${rule.value.name}"
        sampled_requests_enabled   = true
      }
    }
  }

  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = "${var.name}-api-edge"
    sampled_requests_enabled   = true
  }
}

resource "aws_cloudwatch_log_group" "waf" {
  # checkov:skip=CKV_AWS_158: WAF logs must be in us-east-1 with the web ACL, where the environment's KMS key (regional) cannot be used; they hold blocked requests' metadata with Authorization redacted, encrypted by CloudWatch's own key.
  # checkov:skip=CKV_AWS_338: retention is chosen per environment (log_retention_days: 365 in prod, 14/30 days in dev/staging to limit cost).
  provider          = aws.us_east_1
  name              = "aws-waf-logs-${var.name}-api-edge"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

resource "aws_wafv2_web_acl_logging_configuration" "api" {
  provider                = aws.us_east_1
  resource_arn            = aws_wafv2_web_acl.api.arn
  log_destination_configs = [aws_cloudwatch_log_group.waf.arn]

  redacted_fields {
    single_header {
      name = "authorization"
    }
  }

  logging_filter {
    default_behavior = "DROP"
    filter {
      behavior    = "KEEP"
      requirement = "MEETS_ANY"
      condition {
        action_condition {
          action = "BLOCK"
        }
      }
      condition {
        action_condition {
          action = "COUNT"
        }
      }
    }
  }
}
