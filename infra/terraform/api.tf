# What Chalice's API lacks: throttling, a usage plan with one key, the JSON
# access log. Mirrors deploy/apigw.py (CloudFormation paths). The stage itself
# and the gateway responses are in chalice.tf.json (deploy/terraform.py).

resource "aws_cloudwatch_log_group" "api_access" {
  name              = "/aws/apigateway/imgpipe-${var.stage}-access"
  retention_in_days = var.log_retention_days
}

resource "aws_api_gateway_method_settings" "all" {
  rest_api_id = aws_api_gateway_rest_api.rest_api.id
  stage_name  = aws_api_gateway_stage.rest_api.stage_name
  method_path = "*/*"
  settings {
    throttling_rate_limit  = var.throttle_rate
    throttling_burst_limit = var.throttle_burst
  }
}

resource "aws_api_gateway_api_key" "default" {
  name = "imgpipe-${var.stage}-default"
}

resource "aws_api_gateway_usage_plan" "default" {
  name = "imgpipe-${var.stage}"
  api_stages {
    api_id = aws_api_gateway_rest_api.rest_api.id
    stage  = aws_api_gateway_stage.rest_api.stage_name
  }
  throttle_settings {
    rate_limit  = var.throttle_rate
    burst_limit = var.throttle_burst
  }
  quota_settings {
    limit  = var.requests_per_day
    period = "DAY"
  }
}

resource "aws_api_gateway_usage_plan_key" "default" {
  key_id        = aws_api_gateway_api_key.default.id
  key_type      = "API_KEY"
  usage_plan_id = aws_api_gateway_usage_plan.default.id
}

# API Gateway writes access logs with a role set once per account and region.
resource "aws_iam_role" "api_gateway_logs" {
  count = var.set_api_gateway_log_role ? 1 : 0
  name  = "imgpipe-${var.stage}-apigateway-logs"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "apigateway.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_role_policy_attachment" "api_gateway_logs" {
  count      = var.set_api_gateway_log_role ? 1 : 0
  role       = aws_iam_role.api_gateway_logs[0].name
  policy_arn = "arn:${data.aws_partition.chalice.partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
}

resource "aws_api_gateway_account" "logs" {
  count               = var.set_api_gateway_log_role ? 1 : 0
  cloudwatch_role_arn = aws_iam_role.api_gateway_logs[0].arn
}
