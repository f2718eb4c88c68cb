variable "stage" {
  description = "Part of every resource name; the Chalice stage is `tf`."
  type        = string
  default     = "tf"
}

variable "allowed_origins" {
  description = "Origins allowed to POST uploads and GET renditions from a browser."
  type        = list(string)
  default     = ["https://www.example.com"]
}

variable "enable_versioning" {
  type    = bool
  default = false
}

variable "alarm_topic_arn" {
  description = "SNS topic notified by the alarms; empty: this configuration creates one."
  type        = string
  default     = ""
}

variable "alarm_email" {
  description = "Subscribed to the alarm topic this configuration creates; empty for none."
  type        = string
  default     = ""
}

variable "legacy_indexes" {
  description = "Keep the status table's unsharded indexes (by-created, by-webhook): true until the stage reads the sharded ones (STATUS_READS=sharded), then false drops them."
  type        = bool
  default     = true
}

variable "log_retention_days" {
  description = "Days CloudWatch keeps the functions' logs and the API access log."
  type        = number
  default     = 30
}

variable "throttle_rate" {
  description = "API requests per second, steady (stage and usage plan)."
  type        = number
  default     = 20
}

variable "requests_per_day" {
  description = "Usage plan quota: requests per API key and UTC day (infra/stages.json requests_per_day)."
  type        = number
  default     = 20000
}

variable "throttle_burst" {
  description = "API requests at once (stage and usage plan)."
  type        = number
  default     = 40
}

variable "tracing" {
  description = "X-Ray tracing for the functions and the API stage."
  type        = bool
  default     = false
}

variable "enable_access_logs" {
  description = "S3 server access logs of both buckets into a logs bucket."
  type        = bool
  default     = true
}

variable "source_retention_days" {
  description = "Delete uploaded sources after this many days; 0 keeps them."
  type        = number
  default     = 0
}

variable "failed_source_retention_days" {
  description = "Delete sources of FAILED uploads (tag imgpipe-status=failed) after this many days; 0 keeps them."
  type        = number
  default     = 30
}

variable "set_api_gateway_log_role" {
  description = "Set the region's API Gateway CloudWatch role (needed once per account and region)."
  type        = bool
  default     = false
}

variable "api_latency_alarm_ms" {
  description = "p99 API latency that raises the alarm."
  type        = number
  default     = 3000
}

variable "subnet_ids" {
  description = "Subnets to place the functions in (with security_group_ids); empty: no VPC."
  type        = list(string)
  default     = []
}

variable "security_group_ids" {
  description = "Security groups of the functions in the VPC (outbound HTTPS to S3 and DynamoDB)."
  type        = list(string)
  default     = []
}

variable "vpc_id" {
  description = "The subnets' VPC: S3 and DynamoDB gateway endpoints are created in it; empty: use your own."
  type        = string
  default     = ""
}

variable "route_table_ids" {
  description = "Route tables of the subnets, for the gateway endpoints' routes."
  type        = list(string)
  default     = []
}

variable "cdn" {
  description = "A CloudFront distribution in front of the output bucket (renditions only); sets CDN_DOMAIN."
  type        = bool
  default     = true
}

variable "resize_invocations_per_hour" {
  description = "Alarm when the resize function runs more often than this in an hour."
  type        = number
  default     = 2000
}

variable "monthly_budget_usd" {
  description = "An AWS Budgets cost budget mailed to alarm_email at 80% (forecast) and 100%; 0: none."
  type        = number
  default     = 0
}
