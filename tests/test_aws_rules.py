"""The deploy paths keep the rules AWS enforces and moto does not (deploy/rules.py), one test each."""

import json
import re

import boto3
import pytest
from moto import mock_aws

from deploy import aws, build, preflight, rules

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
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
         "Action": "sts:AssumeRole"}]}}}}}


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


def test_bucket_logging_waits_for_the_target_policy_in_every_path():
    template = json.loads(build.RESOURCES.read_text())
    assert rules.logging_before_policy(template) == []
    del template["Resources"]["InputBucket"]["DependsOn"]
    assert rules.logging_before_policy(template)[0].startswith("Bucket InputBucket sets its access logging")
    resources = rules.terraform_resources(build.TERRAFORM_DIR)
    assert rules.terraform_logging_before_policy(resources) == []
    del resources["aws_s3_bucket_logging"]["buckets"]["depends_on"]
    problems = rules.terraform_logging_before_policy(resources)
    assert "aws_s3_bucket_logging.buckets may be applied" in problems[0]


@pytest.fixture(scope="module")
def terraform_dir(tmp_path_factory):
    return build.package_terraform(out=tmp_path_factory.mktemp("tf") / "terraform")


def test_terraform_functions_and_destinations_wait_for_their_role_policy(terraform_dir):
    # Lambda checks at creation that the role may send to the dead-letter queue or destination.
    resources = rules.terraform_resources(terraform_dir)
    for name, function in resources["aws_lambda_function"].items():
        assert f"aws_iam_role_policy.{name}_role" in function["depends_on"], name
    config = resources["aws_lambda_function_event_invoke_config"]["resize_image"]
    assert "aws_iam_role_policy.resize_image_role" in json.dumps(config["depends_on"])


def test_the_account_wide_api_gateway_role_is_off_by_default_and_path_one_says_if_missing(moto_clients):
    template = json.loads(build.RESOURCES.read_text())
    assert template["Parameters"]["SetApiGatewayLogRole"]["Default"] == "false"
    for stage in ("dev", "prod", "cfn", "tf"):
        assert build.resource_parameters(stage)["SetApiGatewayLogRole"] == "false"
    variables = (build.TERRAFORM_DIR / "variables.tf").read_text()
    assert re.search(r'variable "set_api_gateway_log_role" \{[^}]*default\s*=\s*false', variables)
    apigateway = boto3.client("apigateway", region_name=REGION)
    settings = build.stage_settings("dev")
    assert "once per account and region" in preflight.api_gateway_account_problem(apigateway, settings)
    assert preflight.api_gateway_account_problem(apigateway, {**settings, "api_gateway_account": True}) is None
    role = boto3.client("iam").create_role(RoleName="apigw-logs", AssumeRolePolicyDocument="{}")["Role"]
    apigateway.update_account(
        patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": role["Arn"]}])
    assert preflight.api_gateway_account_problem(apigateway, settings) is None


def test_the_packaged_api_has_exactly_one_stage_after_the_sam_transform(tmp_path):
    from tests.test_deploy import sam_expand

    template = json.loads(build.package_cloudformation(out=tmp_path / "cfn").read_text())
    expanded = sam_expand(template)["Resources"]
    stages = [r["Properties"]["StageName"] for r in expanded.values()
              if r["Type"] == "AWS::ApiGateway::Stage"]
    deployments = [r["Properties"] for r in expanded.values() if r["Type"] == "AWS::ApiGateway::Deployment"]
    assert stages == ["api"]
    assert deployments and all("StageName" not in deployment for deployment in deployments)


def test_the_webhook_secret_outlives_its_stack_in_every_path():
    secret = json.loads(build.RESOURCES.read_text())["Resources"]["WebhookSecret"]
    assert secret["DeletionPolicy"] == secret["UpdateReplacePolicy"] == "Retain"
    nested = rules.terraform_resources(build.TERRAFORM_DIR)["aws_cloudformation_stack"]["webhook_secret"]
    body = nested["template_body"]
    assert re.search(r'DeletionPolicy\s*=\s*"Retain"', body)
    assert re.search(r'UpdateReplacePolicy\s*=\s*"Retain"', body)
    assert "recovery_window_in_days = 0" not in (build.TERRAFORM_DIR / "delivery.tf").read_text()


def test_a_rotated_webhook_secret_signs_once_the_cache_expires(moto_clients):
    from chalicelib.notify import StageSecret

    client = boto3.client("secretsmanager", region_name=REGION)
    arn = client.create_secret(Name="imgpipe/dev/webhook", SecretString="old")["ARN"]
    now = [1000.0]
    secret = StageSecret(client, arn, ttl=300, clock=lambda: now[0])
    assert secret() == b"old"
    client.put_secret_value(SecretId=arn, SecretString="new")  # the rotation: new AWSCURRENT
    now[0] += 299
    assert secret() == b"old"
    now[0] += 1
    assert secret() == b"new"


def test_the_alarm_topic_uses_a_key_cloudwatch_may_use_in_every_path():
    template = json.loads(build.RESOURCES.read_text())
    assert rules.cloudformation_alarm_topic_problems(template) == []
    key = template["Resources"]["AlarmTopicKey"]
    assert key["Properties"]["EnableKeyRotation"] is True and key["Condition"] == "CreateAlarmTopic"
    managed = json.loads(json.dumps(template))
    managed["Resources"]["AlarmTopic"]["Properties"]["KmsMasterKeyId"] = "alias/aws/sns"
    assert "alias/aws/sns" in rules.cloudformation_alarm_topic_problems(managed)[0]
    resources = rules.terraform_resources(build.TERRAFORM_DIR)
    tf_key = resources["aws_kms_key"]["alarms"]
    assert tf_key["enable_key_rotation"] is True
    assert resources["aws_sns_topic"]["alarms"]["kms_master_key_id"] == "${aws_kms_key.alarms[0].arn}"
    policy_text = json.dumps(tf_key["policy"])
    assert all(text in policy_text for text in (rules.CLOUDWATCH, "kms:GenerateDataKey*", "kms:Decrypt"))


def test_the_deployed_check_flags_a_topic_cloudwatch_cannot_publish_to(moto_clients):
    cloudwatch, sns, kms = (boto3.client(name, region_name=REGION) for name in ("cloudwatch", "sns", "kms"))
    own_only = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"},
                                                         "Action": "kms:*", "Resource": "*"}]}
    admitting = {"Version": "2012-10-17", "Statement": [*own_only["Statement"], {
        "Effect": "Allow", "Principal": {"Service": rules.CLOUDWATCH},
        "Action": ["kms:GenerateDataKey*", "kms:Decrypt"], "Resource": "*"}]}
    for name, key in (("managed", "alias/aws/sns"),
                      ("own-only", kms.create_key(Policy=json.dumps(own_only))["KeyMetadata"]["Arn"]),
                      ("admitting", kms.create_key(Policy=json.dumps(admitting))["KeyMetadata"]["Arn"])):
        topic = sns.create_topic(Name=name, Attributes={"KmsMasterKeyId": key})["TopicArn"]
        cloudwatch.put_metric_alarm(AlarmName=name, MetricName="Errors", Namespace="AWS/Lambda",
                                    Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=0,
                                    ComparisonOperator="GreaterThanThreshold", AlarmActions=[topic])
    problems = rules.deployed_alarm_topic_problems(cloudwatch, sns, kms)
    assert len(problems) == 2
    assert ":managed is encrypted with alias/aws/sns" in problems[0]
    assert ":own-only does not let cloudwatch.amazonaws.com" in problems[1]


def test_a_prod_deploy_without_an_alarm_recipient_refuses_naming_the_setting(monkeypatch):
    settings = build.stage_settings("prod")
    problem = preflight.alarm_recipient_problem("prod", settings, "")
    assert "fill alarm_email" in problem and "alarm_topic_arn" in problem and "infra/stages.json" in problem
    with pytest.raises(SystemExit, match="fill alarm_email"):
        aws.deploy("prod")
    assert preflight.alarm_recipient_problem("prod", {**settings, "alarm_email": "ops@example.com"}, "") is None
    assert preflight.alarm_recipient_problem("prod", settings, "arn:aws:sns:eu-west-1:000000000000:ops") is None
    assert preflight.alarm_recipient_problem("dev", build.stage_settings("dev"), "") is None


def test_a_template_over_the_body_limit_goes_to_s3_and_is_created_from_its_url(moto_clients):
    cfn, s3 = moto_clients
    padded = {**ROLE_TEMPLATE, "Description": "x" * 1024,
              "Metadata": {"Padding": ["p" * 1000] * (rules.TEMPLATE_BODY_LIMIT // 1000)}}
    body = json.dumps(padded)
    assert len(body) > rules.TEMPLATE_BODY_LIMIT
    with pytest.raises(rules.RuleBrokenError, match="upload it to S3 and pass TemplateURL"):
        cfn.create_stack(StackName="big", TemplateBody=body, Capabilities=aws.CAPABILITIES)
    bucket = aws.artifacts_bucket(s3, "dev", "000000000000", REGION)
    assert aws.artifacts_bucket(s3, "dev", "000000000000", REGION) == bucket  # made once
    aws.deploy_resources(cfn, "big", [], body, upload=(s3, bucket, REGION))
    assert cfn.describe_stacks(StackName="big")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    assert s3.list_objects_v2(Bucket=bucket, Prefix="templates/big/")["KeyCount"] == 1
    small = aws.template_source(json.dumps(ROLE_TEMPLATE), "small", None)
    assert list(small) == ["TemplateBody"]
    with pytest.raises(SystemExit, match="over CloudFormation's 51200-byte TemplateBody limit"):
        aws.template_source(body, "big", None)


class AccountLambda:
    """GetAccountSettings as a new account answers it (moto has no such call), and reservations."""

    def __init__(self, limit: int, reserved_elsewhere: int = 0, ours: dict[str, int] | None = None) -> None:
        self.limit, self.ours = limit, ours or {}
        self.unreserved = limit - reserved_elsewhere - sum(self.ours.values())

    def get_account_settings(self) -> dict:
        return {"AccountLimit": {"ConcurrentExecutions": self.limit,
                                 "UnreservedConcurrentExecutions": self.unreserved}}

    def get_function_concurrency(self, FunctionName: str) -> dict:  # noqa: N803 (boto3's name)
        from botocore.exceptions import ClientError

        if FunctionName not in self.ours:
            raise ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "no"}}, "Get")
        return {"ReservedConcurrentExecutions": self.ours[FunctionName]}


def test_path_one_says_what_the_account_allows_before_reserving_concurrency():
    wanted = preflight.reserved_concurrency("prod")
    assert sum(wanted.values()) == 221
    problem = preflight.concurrency_problem(AccountLambda(limit=10), "prod", wanted)
    assert problem.startswith("Stage prod reserves 221 concurrent executions (api_handler 50, "
                              "backfill_image 50")
    assert "allows 10 in this region" in problem and "at most 0 can be reserved" in problem
    assert "reserved_concurrency for stage prod in .chalice/config.json" in problem
    assert preflight.concurrency_problem(AccountLambda(limit=1000), "prod", wanted) is None
    assert preflight.concurrency_problem(AccountLambda(limit=321), "prod", wanted) is None
    assert "at most 220" in preflight.concurrency_problem(AccountLambda(limit=320), "prod", wanted)
    # A redeploy gets back what the stage itself reserves today.
    ours = {aws.function_name("prod", "resize_image"): 100, aws.function_name("prod", "api_handler"): 50}
    assert preflight.concurrency_problem(AccountLambda(limit=321, ours=ours), "prod", wanted) is None


@pytest.mark.parametrize(("resource", "statement"), [("vpc_access", "VPC_ACCESS"), ("xray", "XRAY_WRITE")])
def test_terraform_role_grants_are_the_statements_of_deploy_policies(resource, statement):
    # One source: deploy/policies.py; vpc.tf holds the same policy document, compared whole.
    from deploy import policies

    text = rules.terraform_resources(build.TERRAFORM_DIR)["aws_iam_role_policy"][resource]["policy"]
    document = json.loads(text[text.index("{"):text.rindex("}") + 1])
    assert document == {"Version": "2012-10-17", "Statement": [getattr(policies, statement)]}


def test_the_cdn_answers_cors_for_the_page_origins_in_every_path():
    policy = json.loads(build.RESOURCES.read_text())["Resources"]["CdnResponseHeadersPolicy"]
    cors = policy["Properties"]["ResponseHeadersPolicyConfig"]["CorsConfig"]
    assert cors["AccessControlAllowOrigins"] == {"Items": {"Ref": "AllowedOrigins"}}
    assert cors["AccessControlAllowMethods"] == {"Items": ["GET", "HEAD"]}
    assert cors["AccessControlAllowCredentials"] is False
    tf = rules.terraform_resources(build.TERRAFORM_DIR)["aws_cloudfront_response_headers_policy"]["security"]
    tf_cors = tf["cors_config"][0] if isinstance(tf["cors_config"], list) else tf["cors_config"]
    assert "var.allowed_origins" in json.dumps(tf_cors["access_control_allow_origins"])
    assert '"GET", "HEAD"' in json.dumps(tf_cors["access_control_allow_methods"])


def test_a_template_read_from_s3_over_cloudformations_limit_is_refused():
    """Path 2 sends its template by TemplateURL (`deploy --s3-bucket`): CloudFormation reads at most 1 MB."""
    from deploy import rules

    small = json.dumps({"Resources": {}, "Description": "x" * 60_000})
    rules.check_stack_call("imgpipe", small, [], inline=False)  # over the inline limit, fine from S3
    large = json.dumps({"Resources": {}, "Description": "x" * rules.TEMPLATE_URL_LIMIT})
    with pytest.raises(rules.RuleBrokenError, match="reads at most 1000000 bytes from TemplateURL"):
        rules.check_stack_call("imgpipe", large, [], inline=False)


class LiveFunctions:
    """Lambda's GetFunctionConfiguration for the functions a stage has deployed (name → environment)."""

    def __init__(self, deployed: dict[str, dict[str, str]]) -> None:
        self.deployed = deployed

    def get_function_configuration(self, FunctionName: str) -> dict:
        from botocore.exceptions import ClientError

        if FunctionName not in self.deployed:
            raise ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "no"}}, "Get")
        return {"Environment": {"Variables": self.deployed[FunctionName]}}


def test_the_legacy_indexes_are_not_dropped_while_the_running_code_reads_them():
    """Path 1 drops indexes before `chalice deploy` replaces the code: turning STATUS_READS to sharded
    and legacy_indexes off in one deploy would leave the running functions without their indexes."""
    drop = {"legacy_indexes": False}
    reading = LiveFunctions({aws.function_name("prod", "api_handler"): {"STATUS_READS": "legacy"}})
    problem = preflight.live_legacy_reads_problem(reading, "prod", drop)
    assert problem and "imgpipe-prod still reads the unsharded indexes" in problem
    assert "Deploy STATUS_READS=sharded first" in problem
    assert preflight.live_legacy_reads_problem(reading, "prod", {"legacy_indexes": True}) is None  # kept: nothing to drop
    switched = LiveFunctions({aws.function_name("prod", "api_handler"): {"STATUS_READS": "sharded"}})
    assert preflight.live_legacy_reads_problem(switched, "prod", drop) is None
    assert preflight.live_legacy_reads_problem(LiveFunctions({}), "prod", drop) is None  # a new stage
