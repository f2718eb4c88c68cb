"""The deploy paths keep the rules AWS enforces and moto does not (deploy/rules.py), one test each."""

import json

import boto3
import pytest
from moto import mock_aws

from deploy import aws, build, rules

REGION = "eu-west-1"


@pytest.fixture
def moto_clients(monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        cfn, s3 = boto3.client("cloudformation", region_name=REGION), boto3.client("s3", region_name=REGION)
        rules.enforce_on_cloudformation(cfn, s3)
        yield cfn, s3


ROLE_TEMPLATE = {"Resources": {"Role": {"Type": "AWS::IAM::Role", "Properties": {
    "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}}}}}


def test_the_rule_refuses_a_stack_with_iam_and_no_capabilities(moto_clients):
    cfn, _ = moto_clients
    with pytest.raises(rules.RuleBrokenError, match="InsufficientCapabilities.*CAPABILITY_IAM"):
        cfn.create_stack(StackName="s", TemplateBody=json.dumps(ROLE_TEMPLATE))
    assert rules.needed_capabilities(json.loads(build.RESOURCES.read_text())) == {"CAPABILITY_IAM"}


def test_path_one_acknowledges_the_iam_capabilities_on_create_and_update(moto_clients):
    cfn, _ = moto_clients
    aws.deploy_resources(cfn, "roles", [], json.dumps(ROLE_TEMPLATE))
    changed = {**ROLE_TEMPLATE, "Outputs": {"Role": {"Value": {"Ref": "Role"}}}}
    assert "Role" in aws.deploy_resources(cfn, "roles", [], json.dumps(changed))
