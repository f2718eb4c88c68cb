# Optional VPC placement (var.subnet_ids): the functions' ENI grant and the S3 and
# DynamoDB gateway endpoints, so that the functions reach both without a NAT. Also the
# X-Ray grant, with var.tracing.
locals {
  in_vpc = length(var.subnet_ids) > 0
  function_roles = {
    api_handler        = aws_iam_role.api_handler_role.id
    resize_image       = aws_iam_role.resize_image_role.id
    sweep_stuck_images = aws_iam_role.sweep_stuck_images_role.id
    backfill_image     = aws_iam_role.backfill_image_role.id
    render_variant     = aws_iam_role.render_variant_role.id
  }
}

# deploy/policies.py VPC_ACCESS, verbatim (tests/test_aws_rules.py compares the two): what
# AWSLambdaVPCAccessExecutionRole grants for network interfaces, without its logs:*.
resource "aws_iam_role_policy" "vpc_access" {
  for_each = local.in_vpc ? local.function_roles : {}
  name     = "vpc-access"
  role     = each.value
  policy   = <<-EOT
    {
      "Version": "2012-10-17",
      "Statement": [
        {
          "Sid": "NetworkInterfacesInVpc",
          "Effect": "Allow",
          "Action": [
            "ec2:CreateNetworkInterface",
            "ec2:DescribeNetworkInterfaces",
            "ec2:DescribeSubnets",
            "ec2:DeleteNetworkInterface",
            "ec2:AssignPrivateIpAddresses",
            "ec2:UnassignPrivateIpAddresses"
          ],
          "Resource": "*"
        }
      ]
    }
  EOT
}

resource "aws_vpc_endpoint" "gateway" {
  for_each          = local.in_vpc && var.vpc_id != "" ? toset(["s3", "dynamodb"]) : toset([])
  vpc_id            = var.vpc_id
  service_name      = "com.amazonaws.${data.aws_region.chalice.name}.${each.key}"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = var.route_table_ids
}

# deploy/policies.py XRAY_WRITE, verbatim (compared as VPC_ACCESS is): active tracing sends
# segments with the function's role.
resource "aws_iam_role_policy" "xray" {
  for_each = var.tracing ? local.function_roles : {}
  name     = "xray"
  role     = each.value
  policy   = <<-EOT
    {
      "Version": "2012-10-17",
      "Statement": [
        {
          "Sid": "XRayTraces",
          "Effect": "Allow",
          "Action": [
            "xray:PutTraceSegments",
            "xray:PutTelemetryRecords"
          ],
          "Resource": "*"
        }
      ]
    }
  EOT
}
