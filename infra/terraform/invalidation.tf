# A DELETE invalidates the image's renditions on the stage's distribution (chalicelib/cdn.py,
# CDN_DISTRIBUTION_ID on the API function): the API role may invalidate that one distribution
# and no other; without var.cdn, no role may.
resource "aws_iam_role_policy" "api_handler_invalidation" {
  count = var.cdn ? 1 : 0
  name  = "InvalidateDeletedImages"
  role  = aws_iam_role.api_handler_role.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "InvalidateDeletedImages"
      Effect   = "Allow"
      Action   = "cloudfront:CreateInvalidation"
      Resource = aws_cloudfront_distribution.cdn[0].arn
    }]
  })
}
