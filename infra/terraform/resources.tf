# What Chalice does not create: buckets, status table, dead-letter queue and
# the resize function's on-failure destination. Mirrors infra/resources.json.

locals {
  suffix  = "${data.aws_caller_identity.chalice.account_id}-${data.aws_region.chalice.name}"
  buckets = { input = aws_s3_bucket.input, output = aws_s3_bucket.output }
  cors    = { input = ["POST"], output = ["GET", "HEAD"] }
}

resource "aws_s3_bucket" "input" {
  bucket = "imgpipe-${var.stage}-input-${local.suffix}"
}

resource "aws_s3_bucket" "output" {
  bucket = "imgpipe-${var.stage}-output-${local.suffix}"
}

resource "aws_s3_bucket_server_side_encryption_configuration" "sse" {
  for_each = local.buckets
  bucket   = each.value.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "private" {
  for_each                = local.buckets
  bucket                  = each.value.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "owner" {
  for_each = local.buckets
  bucket   = each.value.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_policy" "tls_only" {
  for_each = local.buckets
  bucket   = each.value.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat([{
      Sid       = "DenyInsecureTransport"
      Effect    = "Deny"
      Principal = "*"
      Action    = "s3:*"
      Resource  = [each.value.arn, "${each.value.arn}/*"]
      Condition = { Bool = { "aws:SecureTransport" = "false" } }
      }], [
      for inventory in(each.key == "output" ? [aws_s3_bucket.input] : []) : {
        # S3 Inventory of the input bucket, the manifest of `reprocess --batch --inventory`.
        Sid       = "InventoryOfInputForBackfills"
        Effect    = "Allow"
        Principal = { Service = "s3.amazonaws.com" }
        Action    = "s3:PutObject"
        Resource  = "${each.value.arn}/batch/manifests/inventory/*"
        Condition = {
          StringEquals = {
            "aws:SourceAccount" = data.aws_caller_identity.chalice.account_id
            "s3:x-amz-acl"      = "bucket-owner-full-control"
          }
          ArnLike = { "aws:SourceArn" = inventory.arn }
        }
      }
      ], [
      # delivery.tf: the distribution (and only it) reads renditions, never manifests or reports.
      for distribution in(each.key == "output" ? aws_cloudfront_distribution.cdn : []) : {
        Sid       = "CloudFrontReadsRenditions"
        Effect    = "Allow"
        Principal = { Service = "cloudfront.amazonaws.com" }
        Action    = "s3:GetObject"
        Resource  = ["${each.value.arn}/renditions/*", "${each.value.arn}/processed-*", "${each.value.arn}/variants/*"]
        Condition = { StringEquals = { "AWS:SourceArn" = distribution.arn } }
      }
    ])
  })
  depends_on = [aws_s3_bucket_public_access_block.private]
}

resource "aws_s3_bucket_cors_configuration" "cors" {
  for_each = local.buckets
  bucket   = each.value.id
  cors_rule {
    allowed_origins = var.allowed_origins
    allowed_methods = local.cors[each.key]
    allowed_headers = ["*"]
    max_age_seconds = 600
  }
}

resource "aws_s3_bucket_versioning" "versioning" {
  for_each = local.buckets
  bucket   = each.value.id
  versioning_configuration {
    status = var.enable_versioning ? "Enabled" : "Suspended"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "lifecycle" {
  for_each = local.buckets
  bucket   = each.value.id
  dynamic "rule" {
    for_each = each.key == "input" && var.source_retention_days > 0 ? [1] : []
    content {
      id     = "expire-sources"
      status = "Enabled"
      filter {}
      expiration {
        days = var.source_retention_days
      }
    }
  }
  dynamic "rule" {
    # chalicelib/storage.py FAILED_SOURCE_TAG: the pipeline tags what it gives up on.
    for_each = each.key == "input" && var.failed_source_retention_days > 0 ? [1] : []
    content {
      id     = "expire-failed-sources"
      status = "Enabled"
      filter {
        tag {
          key   = "imgpipe-status"
          value = "failed"
        }
      }
      expiration {
        days = var.failed_source_retention_days
      }
    }
  }
  dynamic "rule" {
    for_each = each.key == "output" ? [1] : []
    content {
      id     = "intelligent-tiering"
      status = "Enabled"
      filter {}
      transition {
        days          = 0
        storage_class = "INTELLIGENT_TIERING"
      }
    }
  }
  rule {
    id     = "abort-incomplete-multipart"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
  rule {
    id     = "expire-old-versions"
    status = var.enable_versioning ? "Enabled" : "Disabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
  }
}

resource "aws_dynamodb_table" "status" {
  name         = "imgpipe-${var.stage}-status"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "image_id"

  dynamic "attribute" {
    for_each = concat(["created_at", "due_shard", "image_id", "kind_shard", "owner_shard", "status_shard",
    "webhook_next_at"], var.legacy_indexes ? ["kind", "webhook_due"] : [])
    content {
      name = attribute.value
      type = "S"
    }
  }
  # Partition values carry a shard suffix ("COMPLETE#07", chalicelib/status/schema.py):
  # no value takes every record's writes. Keys only, but what the sweeper reads.
  global_secondary_index {
    name            = "by-created-sharded"
    hash_key        = "kind_shard"
    range_key       = "created_at"
    projection_type = "KEYS_ONLY"
  }
  global_secondary_index {
    name               = "by-status-sharded"
    hash_key           = "status_shard"
    range_key          = "created_at"
    projection_type    = "INCLUDE"
    non_key_attributes = ["source", "lease_until"]
  }
  global_secondary_index {
    name            = "by-owner"
    hash_key        = "owner_shard"
    range_key       = "created_at"
    projection_type = "KEYS_ONLY"
  }
  # Sparse: only records with a notification still to send carry due_shard ("due#07").
  global_secondary_index {
    name            = "by-webhook-sharded"
    hash_key        = "due_shard"
    range_key       = "webhook_next_at"
    projection_type = "KEYS_ONLY"
  }
  # Unsharded, read only while a table migrates (STATUS_READS=legacy): their keys are
  # written only then, so they take no writes afterwards. var.legacy_indexes = false drops
  # them, the migration's last step (docs/DATA-MODEL.md); the provider deletes one at a time.
  dynamic "global_secondary_index" {
    for_each = var.legacy_indexes ? { "by-created" = "kind", "by-webhook" = "webhook_due" } : {}
    content {
      name            = global_secondary_index.key
      hash_key        = global_secondary_index.value
      range_key       = global_secondary_index.key == "by-created" ? "created_at" : "webhook_next_at"
      projection_type = "ALL"
    }
  }
  point_in_time_recovery {
    enabled = true
  }
  server_side_encryption {
    enabled = true
  }
  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }
}

resource "aws_sqs_queue" "dead_letter" {
  name                      = "imgpipe-${var.stage}-resize-failures"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
}

resource "aws_lambda_function_event_invoke_config" "resize_image" {
  function_name          = aws_lambda_function.resize_image.function_name
  maximum_retry_attempts = 2
  destination_config {
    on_failure {
      destination = aws_sqs_queue.dead_letter.arn
    }
  }
  # Lambda checks that the function's role may send to the destination.
  depends_on = [aws_iam_role_policy.resize_image_role]
}

# Server access logs of both buckets (optional; on in prod).
resource "aws_s3_bucket" "access_logs" {
  count  = var.enable_access_logs ? 1 : 0
  bucket = "imgpipe-${var.stage}-logs-${local.suffix}"
}

# CloudFront's standard logging writes with an ACL grant to its log-delivery account, which a
# bucket with ACLs disabled (BucketOwnerEnforced) refuses; S3 server access logs need no ACL.
resource "aws_s3_bucket_ownership_controls" "access_logs" {
  count  = var.enable_access_logs ? 1 : 0
  bucket = aws_s3_bucket.access_logs[0].id
  rule {
    object_ownership = var.cdn ? "BucketOwnerPreferred" : "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "access_logs" {
  count  = var.enable_access_logs ? 1 : 0
  bucket = aws_s3_bucket.access_logs[0].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_public_access_block" "access_logs" {
  count                   = var.enable_access_logs ? 1 : 0
  bucket                  = aws_s3_bucket.access_logs[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_lifecycle_configuration" "access_logs" {
  count  = var.enable_access_logs ? 1 : 0
  bucket = aws_s3_bucket.access_logs[0].id
  rule {
    id     = "expire-logs"
    status = "Enabled"
    filter {}
    expiration {
      days = 365
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

resource "aws_s3_bucket_policy" "access_logs" {
  count  = var.enable_access_logs ? 1 : 0
  bucket = aws_s3_bucket.access_logs[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "S3ServerAccessLogs"
      Effect    = "Allow"
      Principal = { Service = "logging.s3.amazonaws.com" }
      Action    = "s3:PutObject"
      Resource  = "${aws_s3_bucket.access_logs[0].arn}/*"
      Condition = { StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.chalice.account_id } }
    }]
  })
  depends_on = [aws_s3_bucket_public_access_block.access_logs]
}

resource "aws_s3_bucket_logging" "buckets" {
  for_each      = var.enable_access_logs ? local.buckets : {}
  bucket        = each.value.id
  target_bucket = aws_s3_bucket.access_logs[0].id
  target_prefix = "${each.key}/"
  # S3 checks that the logging service may write to the target when logging is set.
  depends_on = [aws_s3_bucket_policy.access_logs]
}
