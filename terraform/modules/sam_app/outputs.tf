output "deployed" {
  description = "Whether the stack exists (false until template_url is given)."
  value       = length(aws_cloudformation_stack.app) > 0
}

output "outputs" {
  description = "All outputs of the stack (empty before the first package)."
  value       = try(aws_cloudformation_stack.app[0].outputs, {})
}

output "api_url" {
  description = "Invoke URL of the HTTP API stage."
  value       = try(aws_cloudformation_stack.app[0].outputs["ApiUrl"], null)
}

output "api_id" {
  description = "Id of the HTTP API (for the custom domain's API mapping)."
  value       = try(aws_cloudformation_stack.app[0].outputs["ApiId"], null)
}

output "migrate_function_name" {
  description = "Name of the migrate function (invoke it after each deploy)."
  value       = try(aws_cloudformation_stack.app[0].outputs["MigrateFunctionName"], null)
}
