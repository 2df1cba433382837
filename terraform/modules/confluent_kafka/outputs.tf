output "bootstrap_servers" {
  description = "Bootstrap servers (host:port) of the cluster."
  value       = replace(confluent_kafka_cluster.this.bootstrap_endpoint, "SASL_SSL://", "")
}

output "environment_id" {
  description = "Confluent environment id."
  value       = confluent_environment.this.id
}

output "cluster_id" {
  description = "Confluent Kafka cluster id."
  value       = confluent_kafka_cluster.this.id
}

output "topics" {
  description = "Names of the topics."
  value       = [for t in confluent_kafka_topic.this : t.topic_name]
}

output "client_credentials" {
  description = "SASL PLAIN credentials per application client (lambda, analytics)."
  sensitive   = true
  value = {
    for client in ["lambda", "analytics"] : client => {
      username = confluent_api_key.client[client].id
      password = confluent_api_key.client[client].secret
    }
  }
}
