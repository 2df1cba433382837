# Deploys the SAM application. template.yaml is the one source of truth for the function list,
# the routes and the event sources: `sam build && sam package` turns it into a template whose
# CodeUri values point at the zips in the artifact bucket, and CloudFormation expands the SAM
# transform here (CAPABILITY_AUTO_EXPAND). Terraform only supplies the parameters.

resource "aws_cloudformation_stack" "app" {
  # checkov:skip=CKV_AWS_124: stack events are optional SNS notifications (var.notification_arns); CloudTrail and EventBridge already record every stack operation.
  count = var.template_url == null ? 0 : 1

  name              = var.stack_name
  template_url      = var.template_url
  parameters        = var.parameters
  capabilities      = ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]
  notification_arns = var.notification_arns
  on_failure        = "ROLLBACK"
  tags              = var.tags

  timeouts {
    create = "${var.timeout_minutes}m"
    update = "${var.timeout_minutes}m"
    delete = "${var.timeout_minutes}m"
  }
}
