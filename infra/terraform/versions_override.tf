# Chalice's generated chalice.tf.json pins Terraform < 1.4 and the AWS provider
# < 5; deploy/terraform.py drops those pins and this file sets its own.
# 5.x only: the lock file (.terraform.lock.hcl) records the version tested here,
# and `terraform test` with mock_provider needs Terraform 1.7.
terraform {
  required_version = ">= 1.7.0"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100.0, < 6.0.0"
    }
  }
}
