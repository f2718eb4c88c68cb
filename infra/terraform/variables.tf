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
  description = "SNS topic notified by the alarms; empty for none."
  type        = string
  default     = ""
}
