# The status table's unsharded indexes: kept by default (tables mid-migration read them),
# dropped with their attributes by legacy_indexes = false, the migration's last step.
# Run by tests/test_deploy.py with plan.tftest.hcl.

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "000000000000" }
  }
  mock_data "aws_region" {
    defaults = { name = "us-east-1" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
}

run "legacy_indexes_kept_by_default" {
  command = plan

  assert {
    condition = toset([for i in aws_dynamodb_table.status.global_secondary_index : i.name]) == toset([
    "by-created-sharded", "by-status-sharded", "by-owner", "by-webhook-sharded", "by-created", "by-webhook"])
    error_message = "the sharded indexes and the two unsharded ones, by default"
  }
  assert {
    condition     = contains([for a in aws_dynamodb_table.status.attribute : a.name], "webhook_due")
    error_message = "the unsharded indexes' keys are attributes of the table"
  }
}

run "legacy_indexes_dropped_when_off" {
  command = plan
  variables {
    legacy_indexes = false
  }

  assert {
    condition = toset([for i in aws_dynamodb_table.status.global_secondary_index : i.name]) == toset([
    "by-created-sharded", "by-status-sharded", "by-owner", "by-webhook-sharded"])
    error_message = "only the sharded indexes once legacy_indexes is false"
  }
  assert {
    condition = length(setintersection(toset([for a in aws_dynamodb_table.status.attribute : a.name]),
    toset(["kind", "webhook_due"]))) == 0
    error_message = "no attribute definition without an index key using it"
  }
}
