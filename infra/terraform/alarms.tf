# Errors, throttles and duration near the timeout of the resize function, a
# non-empty or old dead-letter queue, API 5xx and latency, sweeper and backfill errors; all
# to an SNS topic (this one unless alarm_topic_arn names another), and one
# dashboard. Mirrors the alarms in infra/resources.json.

# A key of our own, not alias/aws/sns: CloudWatch may not use that AWS managed key, and every
# alarm action would fail without a word.
resource "aws_kms_key" "alarms" {
  count                   = var.alarm_topic_arn == "" ? 1 : 0
  description             = "imgpipe ${var.stage}: encrypts the alarm topic."
  enable_key_rotation     = true
  deletion_window_in_days = 7
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministers"
        Effect    = "Allow"
        Principal = { AWS = "arn:${data.aws_partition.chalice.partition}:iam::${data.aws_caller_identity.chalice.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "CloudWatchPublishesAlarms"
        Effect    = "Allow"
        Principal = { Service = "cloudwatch.amazonaws.com" }
        Action    = ["kms:GenerateDataKey*", "kms:Decrypt"]
        Resource  = "*"
      },
    ]
  })
}

resource "aws_sns_topic" "alarms" {
  count             = var.alarm_topic_arn == "" ? 1 : 0
  name              = "imgpipe-${var.stage}-alarms"
  kms_master_key_id = aws_kms_key.alarms[0].arn
}

resource "aws_sns_topic_subscription" "alarm_email" {
  count     = var.alarm_topic_arn == "" && var.alarm_email != "" ? 1 : 0
  topic_arn = aws_sns_topic.alarms[0].arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

locals {
  alarm_topic   = var.alarm_topic_arn == "" ? aws_sns_topic.alarms[0].arn : var.alarm_topic_arn
  alarm_actions = [local.alarm_topic]
  api_dimensions = {
    ApiName = aws_api_gateway_rest_api.rest_api.name
    Stage   = aws_api_gateway_stage.rest_api.stage_name
  }
  resize_function   = { FunctionName = aws_lambda_function.resize_image.function_name }
  dead_letter_queue = { QueueName = aws_sqs_queue.dead_letter.name }
  # Alarms on one metric each, all to the same topic; the key is the name's end.
  metric_alarms = {
    resize-errors = {
      description = "The resize function raised (transient faults; Lambda retries them)."
      namespace   = "AWS/Lambda", metric = "Errors", statistic = "Sum"
      dimensions  = local.resize_function, threshold = 0
    }
    resize-throttles = {
      description = "The resize function was throttled (reserved concurrency too low?)."
      namespace   = "AWS/Lambda", metric = "Throttles", statistic = "Sum"
      dimensions  = local.resize_function, threshold = 0
    }
    resize-duration = {
      description = "The slowest resize came near the function's timeout."
      namespace   = "AWS/Lambda", metric = "Duration", statistic = "Maximum"
      dimensions  = local.resize_function, threshold = aws_lambda_function.resize_image.timeout * 800
    }
    resize-dead-letters = {
      description = "Events failed every retry and wait in the dead-letter queue."
      namespace   = "AWS/SQS", metric = "ApproximateNumberOfMessagesVisible", statistic = "Maximum"
      dimensions  = local.dead_letter_queue, threshold = 0
    }
    resize-dead-letter-age = {
      description = "A failed event has waited in the dead-letter queue for over a day."
      namespace   = "AWS/SQS", metric = "ApproximateAgeOfOldestMessage", statistic = "Maximum"
      dimensions  = local.dead_letter_queue, threshold = 86400
    }
    sweeper-errors = {
      description = "The sweeper failed: stuck uploads are not being resolved."
      namespace   = "AWS/Lambda", metric = "Errors", statistic = "Sum", threshold = 0
      dimensions  = { FunctionName = aws_lambda_function.sweep_stuck_images.function_name }
    }
    backfill-errors = {
      description = "The backfill function failed (not a task: an invocation)."
      namespace   = "AWS/Lambda", metric = "Errors", statistic = "Sum", threshold = 0
      dimensions  = { FunctionName = aws_lambda_function.backfill_image.function_name }
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "metric" {
  for_each            = local.metric_alarms
  alarm_name          = "imgpipe-${var.stage}-${each.key}"
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = each.value.statistic
  period              = 300
  evaluation_periods  = 1
  threshold           = each.value.threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "api_errors" {
  alarm_name          = "imgpipe-${var.stage}-api-5xx"
  alarm_description   = "The API answered with a 5xx."
  namespace           = "AWS/ApiGateway"
  metric_name         = "5XXError"
  dimensions          = local.api_dimensions
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "api_latency" {
  alarm_name          = "imgpipe-${var.stage}-api-latency"
  alarm_description   = "The API's p99 latency is high."
  namespace           = "AWS/ApiGateway"
  metric_name         = "Latency"
  dimensions          = local.api_dimensions
  extended_statistic  = "p99"
  period              = 300
  evaluation_periods  = 2
  threshold           = var.api_latency_alarm_ms
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# Built from the EMF metrics chalicelib/observability.py emits (namespace
# imgpipe, dimension service = POWERTOOLS_SERVICE_NAME) and AWS's own.
resource "aws_cloudwatch_dashboard" "stage" {
  dashboard_name = "imgpipe-${var.stage}"
  dashboard_body = jsonencode({
    widgets = [
      {
        type = "metric", x = 0, y = 0, width = 12, height = 6
        properties = {
          title   = "Images processed", region = data.aws_region.chalice.name, stat = "Sum", period = 300
          metrics = [["imgpipe", "ImagesProcessed", "service", "imgpipe-${var.stage}"]]
        }
      },
      {
        type = "metric", x = 12, y = 0, width = 12, height = 6
        properties = {
          title = "Images failed, by reason", region = data.aws_region.chalice.name, period = 300
          metrics = [[{
            id         = "failed"
            expression = "SEARCH('{imgpipe,reason,service} MetricName=\"ImagesFailed\" service=\"imgpipe-${var.stage}\"', 'Sum', 300)"
          }]]
        }
      },
      {
        type = "metric", x = 0, y = 6, width = 12, height = 6
        properties = {
          title = "Processing time (ms)", region = data.aws_region.chalice.name, period = 300
          metrics = [
            ["imgpipe", "ProcessingTime", "service", "imgpipe-${var.stage}", { stat = "p50", label = "p50" }],
            ["...", { stat = "p99", label = "p99" }],
          ]
        }
      },
      {
        type = "metric", x = 12, y = 6, width = 12, height = 6
        properties = {
          title = "Dead-letter queue", region = data.aws_region.chalice.name, stat = "Maximum", period = 300
          metrics = [
            ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", aws_sqs_queue.dead_letter.name],
            [".", "ApproximateAgeOfOldestMessage", ".", ".", { yAxis = "right" }],
          ]
        }
      },
      {
        type = "metric", x = 0, y = 12, width = 24, height = 6
        properties = {
          title = "API errors", region = data.aws_region.chalice.name, stat = "Sum", period = 300
          metrics = [
            ["AWS/ApiGateway", "4XXError", "ApiName", aws_api_gateway_rest_api.rest_api.name, "Stage", "api"],
            [".", "5XXError", ".", ".", ".", "."],
          ]
        }
      },
    ]
  })
}

# The alarms above were two resources until 30 Nov 2026: without these, a plan would
# create the new addresses and then delete the old ones, which deletes the alarms by name.
moved {
  from = aws_cloudwatch_metric_alarm.queue_and_sweeper
  to   = aws_cloudwatch_metric_alarm.metric
}

moved {
  from = aws_cloudwatch_metric_alarm.resize["errors"]
  to   = aws_cloudwatch_metric_alarm.metric["resize-errors"]
}

moved {
  from = aws_cloudwatch_metric_alarm.resize["throttles"]
  to   = aws_cloudwatch_metric_alarm.metric["resize-throttles"]
}

moved {
  from = aws_cloudwatch_metric_alarm.resize["duration"]
  to   = aws_cloudwatch_metric_alarm.metric["resize-duration"]
}
