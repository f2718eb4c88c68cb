"""Issue 18 §4 in the templates: usage plan quotas per stage, an alarm on resize runs per hour,
an optional budget; and path 1's template body stays under CloudFormation's limit."""

import json

from deploy import apigw, build

RESOURCES = json.loads(build.RESOURCES.read_text())


def test_the_usage_plan_has_a_daily_quota_from_the_stage_settings():
    plan = apigw.api_resources({"Ref": "RestApiId"}, "api")["UsagePlan"]["Properties"]
    assert plan["Quota"] == {"Limit": {"Ref": "RequestsPerDay"}, "Period": "DAY"}
    assert "RequestsPerDay" in apigw.api_stack_template()["Parameters"]
    assert build.merge_template("cfn")["Parameters"]["RequestsPerDay"]["Default"] == \
        build.stage_settings("cfn")["requests_per_day"]
    api_tf = (build.TERRAFORM_DIR / "api.tf").read_text()
    assert "quota_settings {\n    limit  = var.requests_per_day\n    period = \"DAY\"" in api_tf


def test_resize_runs_per_hour_alarm_and_an_optional_budget():
    alarm = RESOURCES["Resources"]["ResizeInvocationsAlarm"]["Properties"]
    assert (alarm["MetricName"], alarm["Period"], alarm["Threshold"]) == \
        ("Invocations", 3600, {"Ref": "ResizeInvocationsPerHour"})
    budget = RESOURCES["Resources"]["CostBudget"]
    assert budget["Condition"] == "HasBudget" and RESOURCES["Parameters"]["MonthlyBudgetUsd"]["Default"] == 0
    parameters = build.resource_parameters("prod")
    assert parameters["ResizeInvocationsPerHour"] == str(build.stage_settings("prod")["resize_invocations_per_hour"])
    alarms_tf = (build.TERRAFORM_DIR / "alarms.tf").read_text()
    assert 'resource "aws_cloudwatch_metric_alarm" "resize_invocations"' in alarms_tf
    assert 'resource "aws_budgets_budget" "cost"' in alarms_tf


def test_path_one_sends_the_resources_template_compact_under_the_template_body_limit():
    sent = {}

    class Cfn:
        def describe_stacks(self, StackName):
            if not sent:
                from botocore.exceptions import ClientError

                raise ClientError({"Error": {"Code": "ValidationError", "Message": "no stack"}}, "DescribeStacks")
            return {"Stacks": [{"Outputs": []}]}

        def create_stack(self, **args):
            sent.update(args)

        def get_waiter(self, name):
            return type("Waiter", (), {"wait": lambda self, **kw: None})()

    from deploy import aws

    aws.deploy_resources(Cfn(), "imgpipe-dev-resources", [], aws.resources_body("dev"))
    assert len(sent["TemplateBody"].encode()) < 51_200
    assert json.loads(sent["TemplateBody"]) == RESOURCES


def test_per_user_daily_limits_are_off_where_every_caller_shares_one_api_key():
    """AUTH=api_key makes every holder of the key one owner: a per-user limit there would cap the
    whole stage (500 uploads a day) on one DynamoDB item; the usage plan's daily quota meters the key."""
    from chalicelib.config import load_settings

    stages = json.loads((build.ROOT / ".chalice" / "config.json").read_text())["stages"]
    required = {"INPUT_BUCKET": "in", "OUTPUT_BUCKET": "out", "STATUS_TABLE": "t"}
    for name, stage in stages.items():
        env = stage["environment_variables"]
        settings = load_settings({**env, **required})
        shared_key = env.get("AUTH", "api_key") == "api_key"
        assert (settings.uploads_per_day == 0 and settings.upload_bytes_per_day == 0) == shared_key, name
