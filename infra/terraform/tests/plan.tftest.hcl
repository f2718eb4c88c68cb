# `terraform test` plans the packaged configuration against a mocked AWS
# provider: no account, no credentials. Run by tests/test_terraform.py.

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
