"""Path 2 (`make package`, one SAM stack) rehearsed on a moto server: the package, what `aws
cloudformation package` and `deploy --s3-bucket` then do (code and template to an artifacts bucket,
a stack from TemplateURL with the documented capabilities), and the stack itself, with AWS's rules.

moto's CloudFormation runs no transforms: the rehearsal expands the SAM template here, as
CloudFormation does on its side (samtranslator, the library behind AWS's own transform), after
the rules have seen the template as sent. moto runs no function code: the functions get a
stand-in zip. Resources whose types moto lacks are named in the report (unmade_resources).
"""

import io
import json
import os
import time
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, cast

from deploy import build, rules
from deploy.rehearse_cfn import condition_values, set_api_gateway_account_role, unmade_resources
from deploy.rehearse_moto import REGION, Report, client

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudformation.literals import CapabilityType
    from mypy_boto3_cloudformation.type_defs import ParameterTypeDef
    from mypy_boto3_s3 import S3Client

ARTIFACTS = "imgpipe-rehearsal-artifacts"
STACK = "imgpipe"
# The parameters of the documented `aws cloudformation deploy --parameter-overrides` (docs/DEPLOY.md).
PARAMETERS = {"Stage": "cfn", "AllowedOrigins": "https://www.example.com", "AlarmEmail": "ops@example.com"}
SAM_TRANSFORM = "AWS::Serverless-2016-10-31"
# Types moto's CloudFormation does not make, whose attributes the template reads (Fn::GetAtt): moto
# refuses the whole stack for such a reference, so each one gets a stand-in value (named in the report).
MOTO_LACKS_ATTRIBUTES = ("AWS::CloudFront::Distribution", "AWS::CloudFront::OriginAccessControl",
                         "AWS::Cognito::UserPool")


def stand_in_attributes(template: dict, replaced: set[str]) -> dict:
    """`template` with each Fn::GetAtt of a resource of MOTO_LACKS_ATTRIBUTES replaced by a stand-in
    string; `replaced` collects "Logical.Attribute" of each."""
    resources = template["Resources"]

    def walk(node: object) -> object:
        if isinstance(node, dict) and "Fn::GetAtt" in node:
            target = node["Fn::GetAtt"]
            logical, attribute = target if isinstance(target, list) else target.split(".", 1)
            if resources.get(logical, {}).get("Type") in MOTO_LACKS_ATTRIBUTES:
                replaced.add(f"{logical}.{attribute}")
                return f"rehearsal-{logical}-{attribute}".lower()
        if isinstance(node, dict):
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(value) for value in node]
        return node

    return {**template, "Resources": walk(resources), "Outputs": walk(template.get("Outputs", {}))}


def package(template: dict, s3: "S3Client") -> str:
    """What `aws cloudformation package --s3-bucket` does: the code to the bucket, each function's
    CodeUri pointing at it, and (deploy --s3-bucket) the template too; returns its TemplateURL."""
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as stand_in:
        stand_in.writestr("app.py", "# moto runs no function code: a stand-in for deployment.zip\n")
    s3.put_object(Bucket=ARTIFACTS, Key="deployment.zip", Body=code.getvalue())
    packaged = json.loads(json.dumps(template))
    for resource in packaged["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = f"s3://{ARTIFACTS}/deployment.zip"
    key = f"templates/{STACK}.template"
    s3.put_object(Bucket=ARTIFACTS, Key=key, Body=json.dumps(packaged, indent=2).encode())
    return f"https://{ARTIFACTS}.s3.{REGION}.amazonaws.com/{key}"


def sam_expand(template: dict) -> dict:
    """The SAM transform, as CloudFormation runs it (no managed policy is named here)."""
    # A development dependency, as cfn-lint's (which brings it); it has no type hints.
    from samtranslator.translator.transform import transform  # type: ignore[import-untyped]

    class NoManagedPolicies:
        def load(self) -> dict:
            return {}

    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    return transform(template, {}, NoManagedPolicies())


# moto's CloudFormation makes a REST API without its Body (no methods) and then refuses the deployment
# of a REST API without methods, as API Gateway would: one mock GET / stands in for the body's routes.
STAND_IN_METHOD = {"Type": "AWS::ApiGateway::Method", "Properties": {
    "RestApiId": {"Ref": "RestAPI"}, "ResourceId": {"Fn::GetAtt": ["RestAPI", "RootResourceId"]},
    "HttpMethod": "GET", "AuthorizationType": "NONE",
    "Integration": {"Type": "MOCK", "IntegrationHttpMethod": "GET", "Uri": ""}}}


def stand_in_api(template: dict) -> dict:
    """`template` with STAND_IN_METHOD, which each deployment of the REST API waits for."""
    resources = dict(template["Resources"])
    resources["RehearsalMethod"] = STAND_IN_METHOD
    for name, resource in resources.items():
        if resource["Type"] == "AWS::ApiGateway::Deployment":
            depends = resource.get("DependsOn", [])
            resources[name] = {**resource, "DependsOn": [*([depends] if isinstance(depends, str) else depends),
                                                         "RehearsalMethod"]}
    return {**template, "Resources": resources}


def expand_on_cloudformation(cfn: "CloudFormationClient", s3: "S3Client", expanded: dict[str, dict],
                             replaced: set[str]) -> None:
    """Stand in for CloudFormation's transform on this client: a SAM TemplateURL is sent to moto
    expanded (registered after rules.enforce_on_cloudformation, which checks the template as sent)."""
    def expand(params: dict, **_: object) -> None:
        if not params.get("TemplateURL"):
            return
        bucket, key = rules.template_url_location(params["TemplateURL"])
        template = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        if template.get("Transform") != SAM_TRANSFORM:
            return
        expanded[params["StackName"]] = sam_expand(template)
        del params["TemplateURL"]
        sent = stand_in_api(stand_in_attributes(expanded[params["StackName"]], replaced))
        params["TemplateBody"] = json.dumps(sent)

    for operation in ("CreateStack", "UpdateStack"):
        cfn.meta.events.register(f"provide-client-params.cloudformation.{operation}", expand)


def failure_reasons(cfn: "CloudFormationClient", stack: str) -> list[str]:
    events = cfn.describe_stack_events(StackName=stack)["StackEvents"]
    return [f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason', '')}" for e in events
            if e.get("ResourceStatus", "").endswith("FAILED")]


def rehearse_path_two(endpoint: str, work: Path, stage: str = "cfn") -> Report:
    """Path 2: package, upload, create the stack from TemplateURL and check it (a create only:
    updates and `step-indexes` are rehearsed on path 1's stack)."""
    report, started = Report("path 2 (make package, one SAM stack)"), time.monotonic()
    sam = json.loads(build.package_cloudformation(stage, out=work / "cfn").read_text())
    report.steps.append("make package: build/cfn/sam.json and deployment.zip")
    cfn, s3 = client(endpoint, "cloudformation"), client(endpoint, "s3")
    s3.create_bucket(Bucket=ARTIFACTS)
    url = package(sam, s3)
    report.skipped.append("deployment.zip: moto runs no function code; the functions get a stand-in zip")
    rules.enforce_on_cloudformation(cfn, s3)
    expanded: dict[str, dict] = {}
    replaced: set[str] = set()
    expand_on_cloudformation(cfn, s3, expanded, replaced)
    report.skipped.append("the SAM transform: moto's CloudFormation runs none; expanded here with "
                          "samtranslator, after the rules checked the template as sent")
    report.skipped.append("RestAPI's Body (Swagger 2.0): moto's CloudFormation makes the API without it; one "
                          "mock GET / (RehearsalMethod) stands in for its routes")
    set_api_gateway_account_role(endpoint)
    report.steps.append("set the account's API Gateway CloudWatch role once")

    parameters: "list[ParameterTypeDef]" = [{"ParameterKey": k, "ParameterValue": v} for k, v in PARAMETERS.items()]
    try:
        cfn.create_stack(StackName=STACK, TemplateURL=url, Parameters=parameters,
                         Capabilities=cast("list[CapabilityType]", build.CFN_CAPABILITIES))
        cfn.get_waiter("stack_create_complete").wait(StackName=STACK, WaiterConfig={"Delay": 1, "MaxAttempts": 300})
    except rules.RuleBrokenError as exc:
        report.problems.append(str(exc))
        report.seconds = time.monotonic() - started
        return report
    except Exception as exc:  # the waiter's error says only "failed": the stack's events say why
        report.problems.append(f"stack {STACK} was not created: {exc}; " + "; ".join(failure_reasons(cfn, STACK)))
        report.seconds = time.monotonic() - started
        return report
    template = expanded[STACK]
    outputs = cfn.describe_stacks(StackName=STACK)["Stacks"][0].get("Outputs", [])
    report.steps.append(f"stack {STACK} from TemplateURL with {', '.join(build.CFN_CAPABILITIES)}: "
                        f"{len(template['Resources'])} resources after the transform, {len(outputs)} outputs")
    report.skipped += unmade_resources(cfn, STACK, template, parameters)
    report.skipped += [f"Fn::GetAtt {name}: moto's CloudFormation does not make the resource; a stand-in "
                       "value was sent instead" for name in sorted(replaced)]
    report.problems += rules.logging_before_policy(template)
    report.problems += rules.cloudformation_alarm_topic_problems(template)
    report.problems += rules.deployed_alarm_topic_problems(
        client(endpoint, "cloudwatch"), client(endpoint, "sns"), client(endpoint, "kms"))
    made = condition_values(template, parameters)
    report.steps.append("conditions: " + ", ".join(f"{name}={value}" for name, value in sorted(made.items())
                                                   if name in ("Cdn", "CreateUserPool", "AccessLogs")))
    report.seconds = time.monotonic() - started
    return report
