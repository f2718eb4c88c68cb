# Backfills (`python -m imgpipe reprocess --batch`): the role S3 Batch Operations
# assumes to read a manifest, invoke backfill_image per object and write the
# completion report. Mirrors BatchOperationsRole in infra/resources.json.

resource "aws_iam_role" "batch_operations" {
  name        = "imgpipe-${var.stage}-batch-operations"
  description = "S3 Batch Operations: reads backfill manifests, invokes backfill_image, writes reports."
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "batchoperations.s3.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.chalice.account_id } }
    }]
  })
}

resource "aws_iam_role_policy" "batch_operations" {
  name = "backfill"
  role = aws_iam_role.batch_operations.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "InvokeBackfill"
        Effect   = "Allow"
        Action   = "lambda:InvokeFunction"
        Resource = aws_lambda_function.backfill_image.arn
      },
      {
        Sid      = "ReadManifests"
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:GetObjectVersion"]
        Resource = "${aws_s3_bucket.output.arn}/batch/manifests/*"
      },
      {
        Sid      = "WriteReports"
        Effect   = "Allow"
        Action   = "s3:PutObject"
        Resource = "${aws_s3_bucket.output.arn}/batch/reports/*"
      },
    ]
  })
}
