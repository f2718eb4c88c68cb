# Errors, throttles and duration near the timeout of the resize function, and
# a non-empty dead-letter queue. Mirrors the alarms in infra/resources.json.

locals {
  alarm_actions = var.alarm_topic_arn == "" ? [] : [var.alarm_topic_arn]
  resize_alarms = {
    errors    = { metric = "Errors", statistic = "Sum", threshold = 0 }
    throttles = { metric = "Throttles", statistic = "Sum", threshold = 0 }
    duration  = { metric = "Duration", statistic = "Maximum", threshold = aws_lambda_function.resize_image.timeout * 800 }
  }
}

resource "aws_cloudwatch_metric_alarm" "resize" {
  for_each            = local.resize_alarms
  alarm_name          = "imgpipe-${var.stage}-resize-${each.key}"
  namespace           = "AWS/Lambda"
  metric_name         = each.value.metric
  dimensions          = { FunctionName = aws_lambda_function.resize_image.function_name }
  statistic           = each.value.statistic
  period              = 300
  evaluation_periods  = 1
  threshold           = each.value.threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "dead_letter" {
  alarm_name          = "imgpipe-${var.stage}-resize-dead-letters"
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dead_letter.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}
