# State lives outside build/terraform, which `make package-terraform` rebuilds:
# in terraform-state/ at the top of the repository (git-ignored). For a team,
# replace this file with backend-s3.tf.example (state in S3, with a lock).
terraform {
  backend "local" {
    path = "../../terraform-state/terraform.tfstate"
  }
}
