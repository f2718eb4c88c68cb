# `terraform test` plans the packaged configuration against a mocked AWS
# provider: no account, no credentials. Run by tests/test_deploy.py.

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "000000000000" }
  }
  mock_data "aws_region" {
    defaults = { name = "us-east-1" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
}

run "default_deploy_is_guarded_logged_and_alarmed" {
  command = plan

  assert {
    condition     = aws_api_gateway_usage_plan.default.throttle_settings[0].rate_limit == var.throttle_rate
    error_message = "the usage plan must throttle"
  }
  assert {
    condition     = aws_api_gateway_method_settings.all.settings[0].throttling_burst_limit == var.throttle_burst
    error_message = "the stage must throttle"
  }
  assert {
    condition     = aws_api_gateway_stage.rest_api.stage_name == "api"
    error_message = "the stage is Chalice's `api`"
  }
  assert {
    condition = alltrue([for g in [aws_cloudwatch_log_group.api_handler, aws_cloudwatch_log_group.resize_image,
    aws_cloudwatch_log_group.sweep_stuck_images, aws_cloudwatch_log_group.api_access] : g.retention_in_days == 30])
    error_message = "log groups keep 30 days by default"
  }
  assert {
    condition     = length(aws_s3_bucket_logging.buckets) == 2
    error_message = "access logs cover both buckets by default"
  }
  assert {
    condition     = length(aws_sns_topic.alarms) == 1
    error_message = "alarms need a topic when none is given"
  }
  assert {
    condition     = length(aws_lambda_function.sweep_stuck_images.dead_letter_config) == 1
    error_message = "the sweeper needs a failure destination"
  }
  assert {
    condition = anytrue([for r in aws_s3_bucket_lifecycle_configuration.lifecycle["input"].rule :
      try(r.id == "expire-failed-sources" && r.status == "Enabled" && r.expiration[0].days == 30 &&
    r.filter[0].tag[0].key == "imgpipe-status" && r.filter[0].tag[0].value == "failed", false)])
    error_message = "the sources of FAILED uploads expire after 30 days by default"
  }
  assert {
    condition = (length(aws_lambda_function.resize_image.vpc_config[0].subnet_ids) == 0 &&
    length(aws_iam_role_policy.vpc_access) == 0 && length(aws_vpc_endpoint.gateway) == 0 && length(aws_iam_role_policy.xray) == 0)
    error_message = "no VPC and no X-Ray grant by default"
  }
}

run "a_given_topic_replaces_the_stack_topic" {
  command = plan
  variables {
    alarm_topic_arn    = "arn:aws:sns:us-east-1:000000000000:ops"
    enable_access_logs = false
  }
  assert {
    condition     = length(aws_sns_topic.alarms) == 0 && aws_cloudwatch_metric_alarm.api_errors.alarm_actions == toset(["arn:aws:sns:us-east-1:000000000000:ops"])
    error_message = "a given topic is used instead of a new one"
  }
  assert {
    condition     = length(aws_s3_bucket_logging.buckets) == 0 && length(aws_s3_bucket.access_logs) == 0
    error_message = "access logs can be turned off"
  }
}

run "failed_sources_can_be_kept" {
  command = plan
  variables {
    failed_source_retention_days = 0
  }
  assert {
    condition     = !anytrue([for r in aws_s3_bucket_lifecycle_configuration.lifecycle["input"].rule : r.id == "expire-failed-sources"])
    error_message = "0 keeps the sources of FAILED uploads"
  }
}

run "functions_can_be_placed_in_a_vpc" {
  command = plan
  variables {
    subnet_ids         = ["subnet-0a", "subnet-0b"]
    security_group_ids = ["sg-0c"]
    vpc_id             = "vpc-0d"
    route_table_ids    = ["rtb-0e"]
  }
  assert {
    condition = alltrue([for f in [aws_lambda_function.api_handler, aws_lambda_function.resize_image,
      aws_lambda_function.sweep_stuck_images, aws_lambda_function.backfill_image] : length(f.vpc_config) == 1 &&
    f.vpc_config[0].subnet_ids == toset(["subnet-0a", "subnet-0b"]) && f.vpc_config[0].security_group_ids == toset(["sg-0c"])])
    error_message = "every function goes into the given subnets"
  }
  assert {
    condition     = length(aws_iam_role_policy.vpc_access) == 5
    error_message = "every role may manage the functions' network interfaces"
  }
  assert {
    condition = (aws_vpc_endpoint.gateway["s3"].service_name == "com.amazonaws.us-east-1.s3" &&
      aws_vpc_endpoint.gateway["dynamodb"].vpc_endpoint_type == "Gateway" &&
    aws_vpc_endpoint.gateway["s3"].route_table_ids == toset(["rtb-0e"]))
    error_message = "S3 and DynamoDB gateway endpoints route the subnets"
  }
}

run "tracing_turns_on_xray_and_its_grant" {
  command = plan
  variables {
    tracing = true
  }
  assert {
    condition     = aws_lambda_function.resize_image.tracing_config[0].mode == "Active" && length(aws_iam_role_policy.xray) == 5
    error_message = "tracing sets active tracing and lets every role send segments"
  }
  assert {
    condition     = aws_lambda_function.resize_image.environment[0].variables["TRACING"] == "true"
    error_message = "the code's Tracer follows the stage's switch"
  }
}

run "renditions_are_served_by_cloudfront_and_images_announce_themselves" {
  command = plan
  assert {
    condition = (aws_cloudfront_distribution.cdn[0].http_version == "http2and3" &&
      aws_cloudfront_distribution.cdn[0].default_cache_behavior[0].viewer_protocol_policy == "redirect-to-https" &&
    aws_cloudfront_distribution.cdn[0].logging_config[0].prefix == "cdn/")
    error_message = "the CDN is HTTPS only, speaks HTTP/2 and 3, and logs to the logs bucket"
  }
  assert {
    condition = (aws_cloudfront_origin_access_control.output[0].signing_behavior == "always" &&
    aws_s3_bucket_ownership_controls.access_logs[0].rule[0].object_ownership == "BucketOwnerPreferred")
    error_message = "CloudFront signs every request (OAC); its standard logging needs the logs bucket's ACLs"
  }
  assert {
    condition = (aws_cloudfront_cache_policy.immutable[0].parameters_in_cache_key_and_forwarded_to_origin[0].query_strings_config[0].query_strings[0].items == toset(["v"]) &&
    aws_cloudfront_cache_policy.immutable[0].min_ttl >= 86400)
    error_message = "only ?v= is in the cache key, and renditions are cached long"
  }
  assert {
    condition     = aws_cloudfront_response_headers_policy.security[0].security_headers_config[0].content_type_options[0].override
    error_message = "the CDN answers with nosniff"
  }
  assert {
    condition = alltrue([for f in [aws_lambda_function.resize_image, aws_lambda_function.sweep_stuck_images,
      aws_lambda_function.backfill_image] : f.environment[0].variables["EVENT_BUS_NAME"] == "imgpipe-tf" &&
    contains(keys(f.environment[0].variables), "WEBHOOK_SECRET_ARN")])
    error_message = "every function that finishes images publishes to the stage's bus and signs webhooks"
  }
  assert {
    condition     = aws_lambda_function.api_handler.environment[0].variables["RESIZE_FUNCTION"] == "imgpipe-tf-resize_image"
    error_message = "PATCH /images/{id} invokes the resize function"
  }
  assert {
    condition = anytrue([for i in aws_dynamodb_table.status.global_secondary_index : i.name == "by-webhook" &&
    i.hash_key == "webhook_due" && i.range_key == "webhook_next_at"])
    error_message = "the sweeper finds due webhooks through the sparse by-webhook index"
  }
  assert {
    condition     = strcontains(aws_iam_role.batch_operations.assume_role_policy, "batchoperations.s3.amazonaws.com")
    error_message = "S3 Batch Operations assumes the backfill role"
  }
  assert {
    condition = (strcontains(aws_cloudformation_stack.webhook_secret.template_body, "GenerateSecretString") &&
    !strcontains(aws_cloudformation_stack.webhook_secret.template_body, "\"SecretString\""))
    error_message = "Secrets Manager generates the webhook secret; no value is written by Terraform"
  }
}

run "without_the_cdn_renditions_are_presigned" {
  command = plan
  variables {
    cdn = false
  }
  assert {
    condition = (length(aws_cloudfront_distribution.cdn) == 0 &&
      aws_lambda_function.api_handler.environment[0].variables["CDN_DOMAIN"] == "" &&
    aws_s3_bucket_ownership_controls.access_logs[0].rule[0].object_ownership == "BucketOwnerEnforced")
    error_message = "no distribution, an empty CDN_DOMAIN, and the logs bucket keeps ACLs off without var.cdn"
  }
}
