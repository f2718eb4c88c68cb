output "api_url" {
  value = aws_api_gateway_stage.rest_api.invoke_url
}

output "api_key_id" {
  description = "aws apigateway get-api-key --include-value --api-key ID --query value"
  value       = aws_api_gateway_api_key.default.id
}

output "input_bucket" {
  value = aws_s3_bucket.input.bucket
}

output "output_bucket" {
  value = aws_s3_bucket.output.bucket
}

output "status_table" {
  value = aws_dynamodb_table.status.name
}

output "dead_letter_queue" {
  value = aws_sqs_queue.dead_letter.name
}

output "alarm_topic_arn" {
  value = local.alarm_topic
}

output "cdn_domain" {
  description = "CloudFront domain of the renditions (CDN_DOMAIN); empty without var.cdn."
  value       = join("", aws_cloudfront_distribution.cdn[*].domain_name)
}

output "event_bus_name" {
  value = aws_cloudwatch_event_bus.images.name
}

output "webhook_secret_arn" {
  description = "aws secretsmanager get-secret-value --secret-id ARN --query SecretString --output text"
  value       = local.webhook_secret_arn
}

output "variant_secret_arn" {
  description = "The key that signs on-demand variant URLs (docs/VARIANTS.md)"
  value       = local.variant_secret_arn
}

output "batch_operations_role_arn" {
  value = aws_iam_role.batch_operations.arn
}

output "backfill_function_arn" {
  value = aws_lambda_function.backfill_image.arn
}
