# gcp-analytics on Cloud Run: an Artifact Registry repository for its image, a dedicated service
# account whose only grant is reading the two Kafka secrets, the secrets themselves in Secret
# Manager, and the service: always at least one instance with CPU always allocated (it is a Kafka
# consumer with 1-minute tumbling windows, not a request handler), internal ingress only.

locals {
  services = ["run.googleapis.com", "artifactregistry.googleapis.com", "secretmanager.googleapis.com"]
  image    = "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.this.repository_id}/gcp-analytics:${var.image_tag}"
  secrets = {
    KAFKA_SASL_USERNAME = var.kafka_sasl_username
    KAFKA_SASL_PASSWORD = var.kafka_sasl_password
  }
}

resource "google_project_service" "this" {
  for_each           = toset(local.services)
  project            = var.project_id
  service            = each.key
  disable_on_destroy = false
}

resource "google_artifact_registry_repository" "this" {
  # checkov:skip=CKV_GCP_84: the repository holds a container image built from this public repository, no data; Google-managed encryption is enough and CMEK would add a KMS key ring per environment.
  project       = var.project_id
  location      = var.region
  repository_id = var.name
  description   = "CareFlow container images (${var.name})"
  format        = "DOCKER"
  labels        = var.labels

  docker_config {
    immutable_tags = true
  }

  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 20
    }
  }

  depends_on = [google_project_service.this]
}

resource "google_service_account" "analytics" {
  project      = var.project_id
  account_id   = "${var.name}-analytics"
  display_name = "CareFlow gcp-analytics (${var.name})"
  description  = "Runs the gcp-analytics Cloud Run service; may only read its Kafka secrets."
}

resource "google_secret_manager_secret" "kafka" {
  # checkov:skip=CKV_GCP_125: automatic replication is what Secret Manager recommends for a regional consumer; CMEK (user-managed replication) would add a KMS key ring per region for two Kafka credentials.
  for_each  = toset(["KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD"])
  project   = var.project_id
  secret_id = "${var.name}-${lower(replace(each.key, "_", "-"))}"
  labels    = var.labels

  replication {
    auto {}
  }

  depends_on = [google_project_service.this]
}

resource "google_secret_manager_secret_version" "kafka" {
  for_each    = google_secret_manager_secret.kafka
  secret      = each.value.id
  secret_data = local.secrets[each.key]
}

resource "google_secret_manager_secret_iam_member" "analytics" {
  for_each  = google_secret_manager_secret.kafka
  project   = var.project_id
  secret_id = each.value.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.analytics.email}"
}

resource "google_cloud_run_v2_service" "analytics" {
  project             = var.project_id
  name                = "${var.name}-analytics"
  location            = var.region
  ingress             = "INGRESS_TRAFFIC_INTERNAL_ONLY"
  deletion_protection = var.deletion_protection
  labels              = var.labels

  template {
    service_account                  = google_service_account.analytics.email
    max_instance_request_concurrency = 80
    labels                           = var.labels

    scaling {
      min_instance_count = var.min_instances
      max_instance_count = var.max_instances
    }

    containers {
      image = local.image

      ports {
        container_port = 8080
      }

      resources {
        limits = {
          cpu    = var.cpu
          memory = var.memory
        }
        cpu_idle          = false
        startup_cpu_boost = true
      }

      env {
        name  = "KAFKA_BOOTSTRAP_SERVERS"
        value = var.kafka_bootstrap_servers
      }

      # Must start with the Confluent ACL prefix of the analytics service account.
      env {
        name  = "ANALYTICS_GROUP_ID"
        value = var.consumer_group_id
      }

      dynamic "env" {
        for_each = google_secret_manager_secret.kafka
        content {
          name = env.key
          value_source {
            secret_key_ref {
              secret  = env.value.secret_id
              version = "latest"
            }
          }
        }
      }

      dynamic "env" {
        for_each = var.extra_env
        content {
          name  = env.key
          value = env.value
        }
      }

      startup_probe {
        tcp_socket {
          port = 8080
        }
        period_seconds    = 5
        failure_threshold = 12
      }
    }
  }

  depends_on = [
    google_project_service.this,
    google_secret_manager_secret_iam_member.analytics,
    google_secret_manager_secret_version.kafka,
  ]
}
