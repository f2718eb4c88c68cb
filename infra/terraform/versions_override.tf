# Chalice's generated chalice.tf.json pins Terraform < 1.4 and the AWS
# provider < 5; an override file replaces those pins (Terraform merges
# *_override.tf files over the other files of the directory).
terraform {
  required_version = ">= 1.5.0"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0, < 7.0"
    }
    null = {
      source  = "hashicorp/null"
      version = ">= 3.0"
    }
  }
}
