# Confluent Cloud: one environment and cluster per CareFlow environment, the two topics, and one
# service account per client with only the ACLs it needs:
#   lambda    (appointments-*/outbox-relay publish; billing-consumer's, care-relationships' and scheduling-events' event source mappings
#              consumes; they share the template's one KafkaCredentialsSecretArn)
#              WRITE + READ appointments, READ its consumer groups
#   analytics (gcp-analytics Cloud Run) READ appointments, WRITE analytics-results, READ its groups
# A separate manager account (CloudClusterAdmin on this cluster only) is what Terraform uses to
# create topics and ACLs. The provider itself authenticates with a Cloud API key from
# CONFLUENT_CLOUD_API_KEY / CONFLUENT_CLOUD_API_SECRET.

resource "confluent_environment" "this" {
  display_name = var.name

  stream_governance {
    package = "ESSENTIALS"
  }
}

resource "confluent_kafka_cluster" "this" {
  display_name = var.name
  availability = var.availability
  cloud        = var.cloud
  region       = var.region

  dynamic "basic" {
    for_each = var.cluster_type == "basic" ? [1] : []
    content {}
  }

  dynamic "standard" {
    for_each = var.cluster_type == "standard" ? [1] : []
    content {}
  }

  environment {
    id = confluent_environment.this.id
  }

  lifecycle {
    prevent_destroy = true
  }
}

# ------------------------------------------------------------------------------ service accounts

locals {
  clients = {
    manager   = "Terraform: manages topics and ACLs of ${var.name}"
    lambda    = "CareFlow Lambda functions (publish and consume appointments)"
    analytics = "CareFlow gcp-analytics (appointments -> analytics-results)"
  }

  acls = {
    lambda_write_appointments = {
      client = "lambda", type = "TOPIC", name = "appointments", pattern = "LITERAL", operation = "WRITE"
    }
    lambda_describe_appointments = {
      client = "lambda", type = "TOPIC", name = "appointments", pattern = "LITERAL", operation = "DESCRIBE"
    }
    lambda_read_appointments = {
      client = "lambda", type = "TOPIC", name = "appointments", pattern = "LITERAL", operation = "READ"
    }
    lambda_describe_configs_appointments = {
      client = "lambda", type = "TOPIC", name = "appointments", pattern = "LITERAL", operation = "DESCRIBE_CONFIGS"
    }
    lambda_read_group = {
      client = "lambda", type = "GROUP", name = var.billing_consumer_group_prefix, pattern = "PREFIXED", operation = "READ"
    }
    lambda_describe_group = {
      client = "lambda", type = "GROUP", name = var.billing_consumer_group_prefix, pattern = "PREFIXED", operation = "DESCRIBE"
    }
    lambda_read_care_group = {
      client = "lambda", type = "GROUP", name = var.care_relationships_consumer_group_prefix, pattern = "PREFIXED", operation = "READ"
    }
    lambda_describe_care_group = {
      client = "lambda", type = "GROUP", name = var.care_relationships_consumer_group_prefix, pattern = "PREFIXED", operation = "DESCRIBE"
    }
    lambda_read_scheduling_group = {
      client = "lambda", type = "GROUP", name = var.scheduling_events_consumer_group_prefix, pattern = "PREFIXED", operation = "READ"
    }
    lambda_describe_scheduling_group = {
      client = "lambda", type = "GROUP", name = var.scheduling_events_consumer_group_prefix, pattern = "PREFIXED", operation = "DESCRIBE"
    }
    lambda_read_results = {
      client = "lambda", type = "TOPIC", name = "analytics-results", pattern = "LITERAL", operation = "READ"
    }
    lambda_describe_results = {
      client = "lambda", type = "TOPIC", name = "analytics-results", pattern = "LITERAL", operation = "DESCRIBE"
    }
    lambda_read_sink_group = {
      client = "lambda", type = "GROUP", name = var.analytics_sink_consumer_group_prefix, pattern = "PREFIXED", operation = "READ"
    }
    lambda_describe_sink_group = {
      client = "lambda", type = "GROUP", name = var.analytics_sink_consumer_group_prefix, pattern = "PREFIXED", operation = "DESCRIBE"
    }
    analytics_read_appointments = {
      client = "analytics", type = "TOPIC", name = "appointments", pattern = "LITERAL", operation = "READ"
    }
    analytics_write_results = {
      client = "analytics", type = "TOPIC", name = "analytics-results", pattern = "LITERAL", operation = "WRITE"
    }
    analytics_describe_results = {
      client = "analytics", type = "TOPIC", name = "analytics-results", pattern = "LITERAL", operation = "DESCRIBE"
    }
    analytics_read_group = {
      client = "analytics", type = "GROUP", name = var.analytics_consumer_group_prefix, pattern = "PREFIXED", operation = "READ"
    }
  }
}

resource "confluent_service_account" "client" {
  for_each     = local.clients
  display_name = "${var.name}-${each.key}"
  description  = each.value
}

resource "confluent_role_binding" "manager" {
  principal   = "User:${confluent_service_account.client["manager"].id}"
  role_name   = "CloudClusterAdmin"
  crn_pattern = confluent_kafka_cluster.this.rbac_crn
}

resource "confluent_api_key" "client" {
  for_each     = local.clients
  display_name = "${var.name}-${each.key}"
  description  = "Kafka API key of ${var.name}-${each.key}"

  owner {
    id          = confluent_service_account.client[each.key].id
    api_version = confluent_service_account.client[each.key].api_version
    kind        = confluent_service_account.client[each.key].kind
  }

  managed_resource {
    id          = confluent_kafka_cluster.this.id
    api_version = confluent_kafka_cluster.this.api_version
    kind        = confluent_kafka_cluster.this.kind

    environment {
      id = confluent_environment.this.id
    }
  }

  depends_on = [confluent_role_binding.manager]
}

# ------------------------------------------------------------------------------ topics and ACLs

resource "confluent_kafka_topic" "this" {
  for_each = var.topics

  kafka_cluster {
    id = confluent_kafka_cluster.this.id
  }
  topic_name       = each.key
  partitions_count = each.value.partitions
  rest_endpoint    = confluent_kafka_cluster.this.rest_endpoint
  config = {
    "cleanup.policy"      = "delete"
    "retention.ms"        = tostring(each.value.retention_ms)
    "min.insync.replicas" = "2"
  }

  credentials {
    key    = confluent_api_key.client["manager"].id
    secret = confluent_api_key.client["manager"].secret
  }

  lifecycle {
    prevent_destroy = true
  }
}

resource "confluent_kafka_acl" "this" {
  for_each = local.acls

  kafka_cluster {
    id = confluent_kafka_cluster.this.id
  }
  resource_type = each.value.type
  resource_name = each.value.name
  pattern_type  = each.value.pattern
  principal     = "User:${confluent_service_account.client[each.value.client].id}"
  host          = "*"
  operation     = each.value.operation
  permission    = "ALLOW"
  rest_endpoint = confluent_kafka_cluster.this.rest_endpoint

  credentials {
    key    = confluent_api_key.client["manager"].id
    secret = confluent_api_key.client["manager"].secret
  }

  depends_on = [confluent_kafka_topic.this]
}
