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
  comment = "nosniff: a rendition is only ever its own content type; HSTS: HTTPS only; CORS: the page's origins may fetch()."
  cors_config {
    access_control_allow_origins {
      items = var.allowed_origins
    }
    access_control_allow_methods {
      items = ["GET", "HEAD"]
    }
    access_control_allow_headers {
      items = ["*"]
    }
    access_control_allow_credentials = false
    access_control_max_age_sec       = 600
    origin_override                  = true
  }
  security_headers_config {
    content_type_options {
      override = true
    }
    strict_transport_security {
      access_control_max_age_sec = 31536000
      include_subdomains         = true
      preload                    = true
      override                   = true
    }
    referrer_policy {
      referrer_policy = "strict-origin-when-cross-origin"
      override        = true
    }
  }
}

# /v/* (on-demand variants, docs/VARIANTS.md) goes to the API: its redirects are cached as long as
# the API says (max-age), keyed on the path and the Accept class the function below writes.
resource "aws_cloudfront_cache_policy" "variants" {
  count       = var.cdn ? 1 : 0
  name        = "imgpipe-${var.stage}-variants"
  comment     = "/v/* redirects: cached as long as the API says (max-age), keyed on the path and the Accept class only."
  default_ttl = 0
  max_ttl     = 3600
  min_ttl     = 0
  parameters_in_cache_key_and_forwarded_to_origin {
    cookies_config {
      cookie_behavior = "none"
    }
    headers_config {
      header_behavior = "whitelist"
      headers {
        items = ["Accept"]
      }
    }
    query_strings_config {
      query_string_behavior = "none"
    }
    enable_accept_encoding_gzip   = false
    enable_accept_encoding_brotli = false
  }
}

resource "aws_cloudfront_function" "accept_class" {
  count   = var.cdn ? 1 : 0
  name    = "imgpipe-${var.stage}-accept-class"
  runtime = "cloudfront-js-2.0"
  comment = "Accept -> avif/webp/jpeg class for /v/* (accept-class.js)"
  publish = true
  code    = file("${path.module}/accept-class.js")
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

  # The API stage; no origin request policy: only the cache key's values reach it, and the Host
  # header is the origin's own, which API Gateway needs.
  origin {
    origin_id   = "api"
    domain_name = "${aws_api_gateway_rest_api.rest_api.id}.execute-api.${data.aws_region.chalice.name}.amazonaws.com"
    origin_path = "/${aws_api_gateway_stage.rest_api.stage_name}"
    custom_origin_config {
      http_port              = 80
      https_port             = 443
      origin_protocol_policy = "https-only"
      origin_ssl_protocols   = ["TLSv1.2"]
    }
  }

  ordered_cache_behavior {
    path_pattern               = "/v/*"
    target_origin_id           = "api"
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["GET", "HEAD"]
    cached_methods             = ["GET", "HEAD"]
    compress                   = false
    cache_policy_id            = aws_cloudfront_cache_policy.variants[0].id
    response_headers_policy_id = aws_cloudfront_response_headers_policy.security[0].id
    function_association {
      event_type   = "viewer-request"
      function_arn = aws_cloudfront_function.accept_class[0].arn
    }
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

# The webhook signing key, generated by Secrets Manager inside a small CloudFormation stack
# (GenerateSecretString, as path 2 does): the value never passes through Terraform, so
# neither the plan nor the state holds it; the state has the stack's template and outputs
# (the secret's ARN). Why not Terraform's own: an `ephemeral` random password with the
# write-only `secret_string_wo` keeps the value out of state too, but Terraform 1.11's
# `terraform test` cannot mock ephemeral resources (hashicorp/terraform#38608); a
# `data "aws_secretsmanager_random_password"` or `secret_string` would store it in state.
resource "aws_cloudformation_stack" "webhook_secret" {
  name = "imgpipe-${var.stage}-webhook-secret"
  template_body = jsonencode({
    AWSTemplateFormatVersion = "2010-09-09"
    Description              = "imgpipe's webhook signing secret, generated by Secrets Manager."
    Resources = {
      WebhookSecret = {
        Type = "AWS::SecretsManager::Secret"
        # Re-creating the stage must not change every receiver's key (recover it by name).
        DeletionPolicy      = "Retain"
        UpdateReplacePolicy = "Retain"
        Properties = {
          Name                 = "imgpipe/${var.stage}/webhook"
          Description          = "HMAC-SHA256 key that signs imgpipe's webhooks; give it to each receiver."
          GenerateSecretString = { PasswordLength = 64, ExcludePunctuation = true }
        }
      }
    }
    Outputs = { SecretArn = { Value = { Ref = "WebhookSecret" } } }
  })
}

locals {
  webhook_secret_arn = aws_cloudformation_stack.webhook_secret.outputs["SecretArn"]
}

# The key that signs on-demand variant URLs (docs/VARIANTS.md), made like the webhook secret above.
resource "aws_cloudformation_stack" "variant_secret" {
  name = "imgpipe-${var.stage}-variant-secret"
  template_body = jsonencode({
    AWSTemplateFormatVersion = "2010-09-09"
    Description              = "imgpipe's variant URL signing secret, generated by Secrets Manager."
    Resources = {
      VariantSecret = {
        Type = "AWS::SecretsManager::Secret"
        Properties = {
          Name                 = "imgpipe/${var.stage}/variants"
          Description          = "HMAC-SHA256 key that signs imgpipe's on-demand variant URLs (docs/VARIANTS.md)."
          GenerateSecretString = { PasswordLength = 64, ExcludePunctuation = true }
        }
      }
    }
    Outputs = { SecretArn = { Value = { Ref = "VariantSecret" } } }
  })
}

locals {
  variant_secret_arn = aws_cloudformation_stack.variant_secret.outputs["SecretArn"]
}
