# Delivery: CloudFront in front of the output bucket (var.cdn), the stage's
# EventBridge bus, and the webhook signing secret. Mirrors infra/resources.json.

resource "aws_cloudfront_origin_access_control" "output" {
  count                             = var.cdn ? 1 : 0
  name                              = "imgpipe-${var.stage}-output"
  description                       = "CloudFront signs its requests to the private output bucket."
  origin_access_control_origin_type = "s3"
  signing_behavior                  = "always"
  signing_protocol                  = "sigv4"
}

# Renditions are immutable per ?v= (their content hash): cached a year, keyed on `v` only.
resource "aws_cloudfront_cache_policy" "immutable" {
  count       = var.cdn ? 1 : 0
  name        = "imgpipe-${var.stage}-immutable"
  comment     = "Renditions are immutable per ?v= (content hash): cache a year, key on v only."
  default_ttl = 31536000
  max_ttl     = 31536000
  min_ttl     = 86400
  parameters_in_cache_key_and_forwarded_to_origin {
    cookies_config {
      cookie_behavior = "none"
    }
    headers_config {
      header_behavior = "none"
    }
    query_strings_config {
      query_string_behavior = "whitelist"
      query_strings {
        items = ["v"]
      }
    }
    enable_accept_encoding_gzip   = true
    enable_accept_encoding_brotli = true
  }
}

resource "aws_cloudfront_response_headers_policy" "security" {
  count   = var.cdn ? 1 : 0
  name    = "imgpipe-${var.stage}-security"
  comment = "nosniff: a rendition is only ever its own content type; HSTS: HTTPS only."
  security_headers_config {
    content_type_options {
      override = true
    }
    strict_transport_security {
      access_control_max_age_sec = 31536000
      include_subdomains         = true
      override                   = true
    }
    referrer_policy {
      referrer_policy = "strict-origin-when-cross-origin"
      override        = true
    }
  }
}

resource "aws_cloudfront_distribution" "cdn" {
  count           = var.cdn ? 1 : 0
  enabled         = true
  comment         = "imgpipe-${var.stage} renditions"
  http_version    = "http2and3"
  is_ipv6_enabled = true
  price_class     = "PriceClass_100"

  origin {
    origin_id                = "renditions"
    domain_name              = aws_s3_bucket.output.bucket_regional_domain_name
    origin_access_control_id = aws_cloudfront_origin_access_control.output[0].id
  }

  default_cache_behavior {
    target_origin_id           = "renditions"
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["GET", "HEAD"]
    cached_methods             = ["GET", "HEAD"]
    compress                   = true
    cache_policy_id            = aws_cloudfront_cache_policy.immutable[0].id
    response_headers_policy_id = aws_cloudfront_response_headers_policy.security[0].id
  }

  # Standard logging writes with an ACL grant: see aws_s3_bucket_ownership_controls.access_logs.
  dynamic "logging_config" {
    for_each = var.enable_access_logs ? [1] : []
    content {
      bucket          = aws_s3_bucket.access_logs[0].bucket_regional_domain_name
      prefix          = "cdn/"
      include_cookies = false
    }
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  viewer_certificate {
    cloudfront_default_certificate = true
  }

  depends_on = [aws_s3_bucket_ownership_controls.access_logs]
}

# "Image Completed" / "Image Failed" events (source imgpipe) of this stage.
resource "aws_cloudwatch_event_bus" "images" {
  name = "imgpipe-${var.stage}"
}

# The webhook signing key. Generated at apply by Secrets Manager (an ephemeral value, never
# in the plan or the state) and written once through the write-only secret_string_wo: the
# state holds the secret's ARN and version id, not its value. Raise webhook_secret_version
# to write a new random value (then give it to every receiver). With
# generate_webhook_secret = false the secret is created empty and you put your own value.
ephemeral "aws_secretsmanager_random_password" "webhook" {
  count               = var.generate_webhook_secret ? 1 : 0
  password_length     = 64
  exclude_punctuation = true
}

resource "aws_secretsmanager_secret" "webhook" {
  name                    = "imgpipe/${var.stage}/webhook"
  description             = "HMAC-SHA256 key that signs imgpipe's webhooks; give it to each receiver."
  recovery_window_in_days = 7
}

resource "aws_secretsmanager_secret_version" "webhook" {
  count                    = var.generate_webhook_secret ? 1 : 0
  secret_id                = aws_secretsmanager_secret.webhook.id
  secret_string_wo         = ephemeral.aws_secretsmanager_random_password.webhook[0].random_password
  secret_string_wo_version = var.webhook_secret_version
}
