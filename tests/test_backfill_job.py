"""`python -m imgpipe reprocess --batch`: the deployed stage's outputs, the manifest, the job.

S3 is moto; CloudFormation's DescribeStacks and S3 Control's CreateJob (which moto lacks)
go through botocore's Stubber, which checks each request against the API model.
"""

import json
import os
import stat

import boto3
import pytest
from botocore.stub import ANY, Stubber
from click.testing import CliRunner

from imgpipe.__main__ import cli
from imgpipe.backfill import targets_from_terraform
from tests.conftest import TEST_ENV

INPUT, OUTPUT = TEST_ENV["INPUT_BUCKET"], TEST_ENV["OUTPUT_BUCKET"]
ACCOUNT = "111122223333"  # placeholder, not a real account
FUNCTION = f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:imgpipe-prod-backfill_image"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/imgpipe-prod-resources-BatchOperationsRole-X"
OUTPUTS = {"InputBucket": INPUT, "OutputBucket": OUTPUT, "BatchOperationsRoleArn": ROLE,
           "BackfillFunctionArn": FUNCTION, "StatusTable": "imgpipe-prod-status"}


@pytest.fixture
def stubbed(aws, monkeypatch):
    """boto3.client as the CLI sees it: real (moto) S3, stubbed CloudFormation and S3 Control."""
    real = boto3.client
    clients = {"cloudformation": real("cloudformation", region_name="eu-west-1"),
               "s3control": real("s3control", region_name="eu-west-1")}
    stubs = {name: Stubber(client) for name, client in clients.items()}
    monkeypatch.setattr(boto3, "client", lambda service, **kw: clients.get(service) or aws.s3)
    for stub in stubs.values():
        stub.activate()
    yield stubs
    for stub in stubs.values():
        stub.deactivate()


def stack_answers(stub: Stubber, stack: str, outputs: dict[str, str]) -> None:
    stub.add_response("describe_stacks", {"Stacks": [{
        "StackName": stack, "CreationTime": "2026-11-30T00:00:00Z", "StackStatus": "CREATE_COMPLETE",
        "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()]}]}, {"StackName": stack})


def test_batch_lists_the_bucket_creates_the_job_and_says_how_to_follow_it(aws, stubbed):
    for key in ("uploads/a/cat.jpg", "uploads/b/dog one.png", "elsewhere.jpg"):
        aws.put(key, b"x")
    stack_answers(stubbed["cloudformation"], "imgpipe-prod-resources", OUTPUTS)
    stubbed["s3control"].add_response("create_job", {"JobId": "job-42"}, {
        "AccountId": ACCOUNT, "ConfirmationRequired": False,
        "Operation": {"LambdaInvoke": {"FunctionArn": FUNCTION, "InvocationSchemaVersion": "2.0"}},
        "Manifest": ANY, "Report": {"Bucket": f"arn:aws:s3:::{OUTPUT}", "Format": "Report_CSV_20180820",
                                    "Enabled": True, "Prefix": "batch/reports", "ReportScope": "FailedTasksOnly"},
        "ClientRequestToken": ANY, "Priority": 10, "RoleArn": ROLE, "Description": ANY})

    result = CliRunner().invoke(cli, ["reprocess", "--stage", "prod", "--batch", "--prefix", "uploads/"])

    assert result.exit_code == 0, result.output
    for stub in stubbed.values():
        stub.assert_no_pending_responses()
    [manifest_key] = [k for k in aws.output_keys() if k.startswith("batch/manifests/")]
    body, _ = aws.output(manifest_key)
    assert body.decode().splitlines() == [f"{INPUT},uploads/a/cat.jpg", f"{INPUT},uploads/b/dog+one.png"]
    assert f"Manifest: s3://{OUTPUT}/{manifest_key} (2 objects)" in result.output
    assert "job job-42 created: it invokes imgpipe-prod-backfill_image" in result.output
    assert (f"aws s3control describe-job --region eu-west-1 --account-id {ACCOUNT} --job-id job-42"
            in result.output)
    assert f"s3://{OUTPUT}/batch/reports/job-job-42/" in result.output


def test_an_inventory_the_role_cannot_read_is_refused_before_any_job(aws, stubbed):
    aws.put("inventory/input/manifest.json", b"{}", bucket=OUTPUT)
    stack_answers(stubbed["cloudformation"], "imgpipe", OUTPUTS)  # path 2: the packaged stack's name
    result = CliRunner().invoke(cli, ["reprocess", "--stage", "cfn", "--batch", "--stack", "imgpipe",
                                      "--inventory", f"s3://{OUTPUT}/inventory/input/manifest.json"])
    assert result.exit_code == 1
    assert "No backfill job was created" in result.output
    assert "prefix batch/manifests/inventory" in result.output and "Traceback" not in result.output
    stubbed["cloudformation"].assert_no_pending_responses()  # and no CreateJob: none was stubbed


def test_a_stack_without_the_backfill_outputs_says_to_deploy_first(aws, stubbed):
    old = {k: v for k, v in OUTPUTS.items() if k not in ("BatchOperationsRoleArn", "BackfillFunctionArn")}
    stack_answers(stubbed["cloudformation"], "imgpipe-dev-resources", old)
    result = CliRunner().invoke(cli, ["reprocess", "--stage", "dev", "--batch"])
    assert result.exit_code == 1
    assert "BatchOperationsRoleArn, BackfillFunctionArn: deploy this version of imgpipe first" in result.output


def test_batch_is_for_aws_only_and_takes_no_status_filter():
    runner = CliRunner()
    assert runner.invoke(cli, ["reprocess", "--batch"]).exit_code == 2  # --stage local
    assert runner.invoke(cli, ["reprocess", "--stage", "prod", "--batch", "--status", "FAILED"]).exit_code == 2
    assert runner.invoke(cli, ["reprocess", "--stage", "prod", "--inventory", "s3://b/manifest.json"]).exit_code == 2


def test_terraform_outputs_name_the_same_targets(tmp_path, monkeypatch):
    """Path 3: `terraform output -json` (a stand-in terraform on PATH prints what 1.11 prints)."""
    outputs = {"input_bucket": INPUT, "output_bucket": OUTPUT, "batch_operations_role_arn": ROLE,
               "backfill_function_arn": FUNCTION, "api_url": "https://x"}
    printed = json.dumps({k: {"sensitive": False, "type": "string", "value": v} for k, v in outputs.items()})
    fake = tmp_path / "bin" / "terraform"
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/sh\n[ \"$2\" = output ] && [ \"$3\" = -json ] || exit 3\ncat <<'EOF'\n{printed}\nEOF\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    targets = targets_from_terraform(str(tmp_path))
    assert (targets.input_bucket, targets.output_bucket, targets.role_arn, targets.function_arn) == (
        INPUT, OUTPUT, ROLE, FUNCTION)
    assert (targets.account_id, targets.region) == (ACCOUNT, "eu-west-1")


def test_without_terraform_the_reason_is_a_sentence(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no terraform there
    with pytest.raises(ValueError, match="terraform is not installed"):
        targets_from_terraform(str(tmp_path))
