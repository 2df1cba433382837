output "repository_url" {
  description = "Docker repository to push gcp-analytics to (docker push <repository_url>/gcp-analytics:<tag>)."
  value       = "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.this.repository_id}"
}

output "service_name" {
  description = "Name of the Cloud Run service."
  value       = google_cloud_run_v2_service.analytics.name
}

output "service_uri" {
  description = "Internal URI of the Cloud Run service."
  value       = google_cloud_run_v2_service.analytics.uri
}

output "service_account_email" {
  description = "Service account the analytics service runs as."
  value       = google_service_account.analytics.email
}
