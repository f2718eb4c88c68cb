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
