"""`python -m deploy rehearse --path 2`: the packaged SAM stack, created from TemplateURL on moto server.

Marked `rehearsal` (`make rehearse`): `chalice package` and the stack take most of a minute.
"""

import json

import pytest

from deploy import build, rehearsal, rehearse_sam

pytestmark = pytest.mark.rehearsal


def test_path_two_creates_its_stack_from_template_url_and_names_what_moto_lacks():
    (report,) = rehearsal.rehearse(("2",))
    assert report.problems == [], report.text()
    assert any(step.startswith("stack imgpipe from TemplateURL with CAPABILITY_IAM, CAPABILITY_AUTO_EXPAND")
               for step in report.steps), report.text()
    assert "conditions: AccessLogs=True, Cdn=True, CreateUserPool=True" in report.steps
    skipped = "\n".join(report.skipped)
    for lacking in ("UserPool (AWS::Cognito::UserPool)", "CdnDistribution (AWS::CloudFront::Distribution)",
                    "Fn::GetAtt UserPool.Arn", "the SAM transform", "RestAPI's Body"):
        assert lacking in skipped, lacking
    # What moto makes is not skipped: the functions, the table, the buckets, the alarm topic and its key.
    for made in ("APIHandler ", "ResizeImage ", "StatusTable ", "InputBucket ", "AlarmTopic ", "AlarmTopicKey "):
        assert f"imgpipe {made}" not in skipped, made


def test_the_path_two_rehearsal_refuses_what_aws_refuses(monkeypatch):
    """Without CAPABILITY_AUTO_EXPAND (the SAM transform) CloudFormation refuses the stack."""
    monkeypatch.setattr(build, "CFN_CAPABILITIES", ["CAPABILITY_IAM"])
    (report,) = rehearsal.rehearse(("2",))
    assert any("InsufficientCapabilities" in problem and "CAPABILITY_AUTO_EXPAND" in problem
               for problem in report.problems), report.text()


def test_stand_ins_touch_only_what_moto_lacks():
    template = {"Resources": {
        "UserPool": {"Type": "AWS::Cognito::UserPool"},
        "Queue": {"Type": "AWS::SQS::Queue"},
        "Fn": {"Type": "AWS::Lambda::Function", "Properties": {"Environment": {"Variables": {
            "POOL": {"Fn::GetAtt": ["UserPool", "Arn"]}, "QUEUE": {"Fn::GetAtt": "Queue.Arn"}}}}},
        "Deployment": {"Type": "AWS::ApiGateway::Deployment", "DependsOn": "Fn"}}}
    replaced: set[str] = set()
    sent = rehearse_sam.stand_in_api(rehearse_sam.stand_in_attributes(template, replaced))
    variables = sent["Resources"]["Fn"]["Properties"]["Environment"]["Variables"]
    assert variables == {"POOL": "rehearsal-userpool-arn", "QUEUE": {"Fn::GetAtt": "Queue.Arn"}}
    assert replaced == {"UserPool.Arn"}
    assert sent["Resources"]["Deployment"]["DependsOn"] == ["Fn", "RehearsalMethod"]
    assert json.loads(json.dumps(template))["Resources"]["Deployment"]["DependsOn"] == "Fn"  # left untouched
