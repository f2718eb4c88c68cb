"""`python -m deploy rehearse`: each deploy path against moto server on 127.0.0.1, with AWS's rules.

moto accepts calls AWS refuses; deploy/rules.py adds those rules in front of it
(stack calls without capabilities or over the TemplateBody limit, alarm topics
CloudWatch cannot publish to, bucket logging set before the target's policy).
Path 1 creates the resources stack and the API key stack, then wires a stand-in
REST API as path 1 wires Chalice's. Path 3 runs `terraform init` from a local
provider mirror, `apply`, a second `plan` that must find nothing to change, and
`destroy`. What moto lacks is named in the report and skipped alone (SKIPPED).
Needs no AWS account and no network beyond 127.0.0.1.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, overload

from deploy import apigw, build, rules

if TYPE_CHECKING:
    from botocore.client import BaseClient
    from mypy_boto3_apigateway import APIGatewayClient
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudformation.type_defs import ParameterTypeDef
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sns import SNSClient

REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_DEFAULT_REGION": REGION}
# moto has no GetAccountSettings: the rehearsal answers as a new account's default quota would.
ACCOUNT_CONCURRENCY = 1000
# What moto lacks, and what the rehearsal does instead (each named in the report).
SKIPPED_TERRAFORM = {
    "aws_cloudfront_cache_policy.immutable": "moto has no CloudFront cache policies; the distribution "
                                             "uses AWS's managed CachingOptimized id instead",
    "aws_cloudfront_response_headers_policy.security": "moto has no CloudFront response headers "
                                                       "policies; the distribution uses AWS's managed "
                                                       "SecurityHeaders id",
    "aws_cloudformation_stack.webhook_secret": "moto's CloudFormation has no AWS::SecretsManager::Secret; "
                                               "the rehearsal creates the secret directly",
    "aws_cloudformation_stack.variant_secret": "moto's CloudFormation has no AWS::SecretsManager::Secret; "
                                               "the rehearsal creates the secret directly",
    "aws_api_gateway_rest_api.rest_api body": "moto imports only OpenAPI 3, without integrations, and "
                                              "Chalice writes Swagger 2.0; the API gets an empty OpenAPI 3 "
                                              "body and one mock GET / (rehearsal_stand_in.tf)",
}
STAND_IN_API = {"openapi": "3.0.1", "info": {"title": "imgpipe", "version": "1"}, "paths": {}}
# A deployment needs a method with an integration (moto checks, as API Gateway does).
STAND_IN_METHOD = """resource "aws_api_gateway_method" "rehearsal" {
  rest_api_id   = aws_api_gateway_rest_api.rest_api.id
  resource_id   = aws_api_gateway_rest_api.rest_api.root_resource_id
  http_method   = "GET"
  authorization = "NONE"
}

resource "aws_api_gateway_integration" "rehearsal" {
  rest_api_id = aws_api_gateway_rest_api.rest_api.id
  resource_id = aws_api_gateway_rest_api.rest_api.root_resource_id
  http_method = aws_api_gateway_method.rehearsal.http_method
  type        = "MOCK"
}
"""
MANAGED_CACHE_POLICY = "658327ea-f89d-4fab-a63d-7e88639e58f6"  # CachingOptimized
MANAGED_HEADERS_POLICY = "67f7725c-6f97-4210-82d7-5512b31e9d03"  # SecurityHeadersPolicy
SERVICES = ("apigateway", "cloudformation", "cloudfront", "cloudwatch", "dynamodb", "ec2", "events", "iam",
            "kms", "lambda", "logs", "s3", "secretsmanager", "sns", "sqs", "sts")


@dataclass
class Report:
    """What a rehearsal of one path did: its steps, what it skipped and why, what AWS would refuse."""

    path: str
    steps: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def text(self) -> str:
        lines = [f"{self.path}: {'PASSED' if not self.problems else 'FAILED'} in {self.seconds:.0f} s"]
        lines += [f"  done: {step}" for step in self.steps]
        lines += [f"  SKIPPED {skip}" for skip in self.skipped]
        lines += [f"  PROBLEM {problem}" for problem in self.problems]
        return "\n".join(lines)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def moto_server() -> Iterator[str]:
    """A fresh moto server on a free 127.0.0.1 port, AWS's managed IAM policies loaded; yields its URL."""
    port = free_port()
    env = {**os.environ, **CREDENTIALS, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90  # loading the managed policies takes a while on a busy machine
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


# The services the rehearsal calls; each has its boto3-stubs extra in requirements-dev.txt.
Service = Literal["apigateway", "cloudformation", "cloudwatch", "iam", "kms", "lambda", "s3",
                  "secretsmanager", "sns"]


@overload
def client(endpoint: str, service: Literal["apigateway"]) -> "APIGatewayClient": ...
@overload
def client(endpoint: str, service: Literal["cloudformation"]) -> "CloudFormationClient": ...
@overload
def client(endpoint: str, service: Literal["cloudwatch"]) -> "CloudWatchClient": ...
@overload
def client(endpoint: str, service: Literal["iam"]) -> "IAMClient": ...
@overload
def client(endpoint: str, service: Literal["kms"]) -> "KMSClient": ...
@overload
def client(endpoint: str, service: Literal["lambda"]) -> "LambdaClient": ...
@overload
def client(endpoint: str, service: Literal["s3"]) -> "S3Client": ...
@overload
def client(endpoint: str, service: Literal["secretsmanager"]) -> "SecretsManagerClient": ...
@overload
def client(endpoint: str, service: Literal["sns"]) -> "SNSClient": ...
def client(endpoint: str, service: Service) -> "BaseClient":
    """A boto3 client of `service` on the moto server at `endpoint`, with the test credentials."""
    import boto3

    return boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                 region_name=REGION).client(service, endpoint_url=endpoint)


def answer_account_settings(lambda_client: "LambdaClient", concurrency: int = ACCOUNT_CONCURRENCY) -> None:
    """GetAccountSettings for a client of moto (which has none), from the functions moto holds."""
    from botocore.awsrequest import AWSResponse
    from botocore.compat import HTTPHeaders

    def answer(**_: object) -> "tuple[AWSResponse, dict[str, object]]":
        reserved = 0
        for page in lambda_client.get_paginator("list_functions").paginate():
            for function in page["Functions"]:
                found = lambda_client.get_function_concurrency(FunctionName=function["FunctionName"])
                reserved += found.get("ReservedConcurrentExecutions", 0)
        limits = {"ConcurrentExecutions": concurrency,
                  "UnreservedConcurrentExecutions": concurrency - reserved}
        ok = AWSResponse(lambda_client.meta.endpoint_url, 200, HTTPHeaders(), None)
        return ok, {"AccountLimit": limits, "ResponseMetadata": {"HTTPStatusCode": 200}}

    # botocore-stubs type every handler as returning None, but a before-call handler's return value
    # is the (response, parsed) pair botocore answers with instead of sending the request.
    lambda_client.meta.events.register(
        "before-call.lambda.GetAccountSettings", answer)  # type: ignore[arg-type]


def set_api_gateway_account_role(endpoint: str) -> str:
    """The once-per-account step of the README: a role API Gateway writes access logs with."""
    iam = client(endpoint, "iam")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                     "Principal": {"Service": "apigateway.amazonaws.com"}}]}
    role = iam.create_role(RoleName="apigateway-cloudwatch-logs",
                           AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.attach_role_policy(RoleName="apigateway-cloudwatch-logs", PolicyArn=(
        "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"))
    client(endpoint, "apigateway").update_account(
        patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": role}])
    return role


def condition_values(template: dict, parameters: "list[ParameterTypeDef]") -> dict[str, bool]:
    """The template's conditions for these parameters (Equals, Not, And, Or, Condition, Join of a Ref)."""
    values = {name: p.get("Default", "") for name, p in template.get("Parameters", {}).items()}
    values.update({p["ParameterKey"]: p["ParameterValue"] for p in parameters})

    def value(node: object) -> str | bool:
        if isinstance(node, dict) and "Ref" in node:
            return str(values.get(node["Ref"], ""))
        if isinstance(node, dict) and "Fn::Join" in node:
            return str(values.get(node["Fn::Join"][1].get("Ref"), "")).replace(",", node["Fn::Join"][0])
        if isinstance(node, dict):
            return truth(node)
        return str(node)

    def truth(node: dict) -> bool:
        (function, args), = node.items()
        if function == "Condition":
            return truth(template["Conditions"][args])
        if function == "Fn::Equals":
            return value(args[0]) == value(args[1])
        if function == "Fn::Not":
            return not value(args[0])
        if function == "Fn::And":
            return all(value(a) for a in args)
        return any(value(a) for a in args)  # Fn::Or

    return {name: truth(node) for name, node in template.get("Conditions", {}).items()}


def unmade_resources(cfn: "CloudFormationClient", stack: str, template: dict,
                     parameters: "list[ParameterTypeDef]") -> list[str]:
    """Resources of `template` that moto's CloudFormation did not make (it skips types it lacks)."""
    summaries = cfn.list_stack_resources(StackName=stack)["StackResourceSummaries"]
    made = {summary["LogicalResourceId"] for summary in summaries}
    conditions = condition_values(template, parameters)
    unmade = []
    for name, resource in template["Resources"].items():
        if name in made or not conditions.get(resource.get("Condition", ""), True):
            continue
        unmade.append(f"{stack} {name} ({resource['Type']}): moto's CloudFormation does not make it")
    return unmade


def rehearse_path_one(endpoint: str, stage: str = "dev") -> Report:
    """Path 1 (`make deploy`): the checks before anything is made, the resources stack, the API
    key stack and the API wiring; Chalice's own deploy is stood in for by a REST API."""
    from deploy import aws

    report, started = Report("path 1 (make deploy)"), time.monotonic()
    cfn, s3 = client(endpoint, "cloudformation"), client(endpoint, "s3")
    rules.enforce_on_cloudformation(cfn, s3)
    settings = build.stage_settings(stage)
    template = json.loads(build.RESOURCES.read_text())
    report.problems += rules.logging_before_policy(template)
    report.problems += rules.cloudformation_alarm_topic_problems(template)

    role = set_api_gateway_account_role(endpoint)
    report.steps.append(f"set the account's API Gateway CloudWatch role once ({role})")
    lambda_client = client(endpoint, "lambda")
    answer_account_settings(lambda_client)
    report.skipped.append(f"GetAccountSettings: moto has none; answered as an account of "
                          f"{ACCOUNT_CONCURRENCY} concurrent executions")
    for problem in (aws.alarm_recipient_problem(stage, settings, ""),
                    aws.api_gateway_account_problem(client(endpoint, "apigateway"), settings),
                    aws.concurrency_problem(lambda_client, stage, aws.reserved_concurrency(stage))):
        if problem:
            report.problems.append(problem)
    report.steps.append("the checks before deploying (alarm recipient, API Gateway role, concurrency quota)")

    upload = (s3, aws.artifacts_bucket(s3, stage, "123456789012", REGION), REGION)
    stack = f"imgpipe-{stage}-resources"
    try:
        outputs = aws.deploy_resources(cfn, stack, aws.stack_parameters(stage), upload=upload)
    except rules.RuleBrokenError as exc:
        report.problems.append(str(exc))
        report.seconds = time.monotonic() - started
        return report
    report.steps.append(f"stack {stack}: {len(outputs)} outputs")
    report.skipped += unmade_resources(cfn, stack, template, aws.stack_parameters(stage))
    report.problems += rules.deployed_alarm_topic_problems(
        client(endpoint, "cloudwatch"), client(endpoint, "sns"), client(endpoint, "kms"))
    report.skipped.append(
        "chalice deploy: the functions and the REST API are stood in for by an empty REST API "
        "(Chalice deploys to the account directly; moto runs no function code here)")

    apigateway = client(endpoint, "apigateway")
    rest_api = apigateway.create_rest_api(name="imgpipe")["id"]
    root = apigateway.get_resources(restApiId=rest_api)["items"][0]["id"]
    apigateway.put_method(restApiId=rest_api, resourceId=root, httpMethod="GET", authorizationType="NONE")
    apigateway.put_integration(restApiId=rest_api, resourceId=root, httpMethod="GET", type="MOCK")
    apigateway.create_deployment(restApiId=rest_api, stageName="api")
    api_list = aws.api_stack_parameters(stage, rest_api, settings)
    api_template = apigw.api_stack_template()
    aws.deploy_resources(cfn, f"imgpipe-{stage}-api", api_list, json.dumps(api_template))
    report.skipped += unmade_resources(cfn, f"imgpipe-{stage}-api", api_template, api_list)
    apigw.wire_api(apigateway, rest_api, settings["throttle_rate"], settings["throttle_burst"],
                   outputs["ApiAccessLogGroupArn"], settings["tracing"])
    report.steps.append(f"stack imgpipe-{stage}-api and the API's wiring (throttling, access log, responses)")
    # A second deploy of the same template changes nothing and must not fail.
    aws.deploy_resources(cfn, stack, aws.stack_parameters(stage), upload=upload)
    report.steps.append(f"stack {stack} deployed again without changes")
    report.seconds = time.monotonic() - started
    return report


# ---- path 3 ----

def tf_plugin_dir() -> Path | None:
    """A local provider mirror: TF_PLUGIN_DIR, else a folder named tf-plugins in the usual places."""
    if os.environ.get("TF_PLUGIN_DIR"):
        return Path(os.environ["TF_PLUGIN_DIR"])
    for place in (Path("/opt"), Path("/usr/local/share"), Path.home(), build.ROOT.parent):
        if (place / "tf-plugins").is_dir():
            return place / "tf-plugins"
    return None


def terraform_missing() -> str | None:
    """Why path 3 cannot be rehearsed here, or None."""
    if not shutil.which("terraform"):
        return "terraform is not installed"
    if tf_plugin_dir() is None:
        return "no AWS provider mirror (a folder named tf-plugins, or TF_PLUGIN_DIR)"
    return None


def terraform_overrides(endpoint: str, state: Path, webhook_secret_arn: str,
                        variant_secret_arn: str) -> dict[str, str]:
    """Files added to the packaged folder: moto's endpoints, a state of its own, and the skips."""
    endpoints = "\n".join(f'    {service} = "{endpoint}"' for service in SERVICES)
    provider = f'''provider "aws" {{
  region                      = "{REGION}"
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  s3_use_path_style           = true
  endpoints {{
{endpoints}
  }}
}}
'''
    override = f'''terraform {{
  backend "local" {{
    path = "{state}"
  }}
}}

resource "aws_cloudfront_cache_policy" "immutable" {{
  count = 0
}}

resource "aws_cloudfront_response_headers_policy" "security" {{
  count = 0
}}

resource "aws_cloudformation_stack" "webhook_secret" {{
  count = 0
}}

resource "aws_cloudformation_stack" "variant_secret" {{
  count = 0
}}

locals {{
  webhook_secret_arn = "{webhook_secret_arn}"
  variant_secret_arn = "{variant_secret_arn}"
}}

resource "aws_api_gateway_rest_api" "rest_api" {{
  body = {json.dumps(json.dumps(STAND_IN_API))}
}}

resource "aws_api_gateway_deployment" "rest_api" {{
  triggers = {{
    redeployment = md5(local.chalice_api_swagger)
    stand_in     = aws_api_gateway_integration.rehearsal.id # depends_on may not be overridden
  }}
}}

resource "aws_cloudfront_distribution" "cdn" {{
  default_cache_behavior {{
    target_origin_id           = "renditions"
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["GET", "HEAD"]
    cached_methods             = ["GET", "HEAD"]
    compress                   = true
    cache_policy_id            = "{MANAGED_CACHE_POLICY}"
    response_headers_policy_id = "{MANAGED_HEADERS_POLICY}"
  }}
}}
'''
    return {"rehearsal_provider.tf": provider, "rehearsal_stand_in.tf": STAND_IN_METHOD,
            "rehearsal_override.tf": override}


def terraform(directory: Path, *args: str, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess:
    env = {**os.environ, **CREDENTIALS, "CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1",
           "TF_CLI_CONFIG_FILE": os.devnull}
    env.pop("AWS_ENDPOINT_URL", None)
    result = subprocess.run(["terraform", f"-chdir={directory}", *args, "-no-color"], capture_output=True,
                            text=True, env=env, timeout=600)
    if result.returncode not in ok:
        raise RuntimeError(f"terraform {args[0]} failed:\n{result.stdout[-4000:]}{result.stderr[-4000:]}")
    return result


# Resources whose second plan differs only because moto does not give back all that was set
# (the stand-in API body above; the distribution's newer settings): named, not failed.
MOTO_DRIFT = {
    "aws_api_gateway_rest_api.rest_api": "moto's GetRestApi does not give back all of the stand-in API",
    "aws_cloudfront_distribution.cdn": "moto's GetDistributionConfig does not give back every setting",
    "aws_lambda_function.sweep_stuck_images": "moto's Lambda keeps no DeadLetterConfig (GetFunction never "
                                              "gives it back)",
}


def planned_changes(plan: str) -> dict[str, list[str]]:
    """address -> the changed attribute lines of a `terraform plan` text."""
    changes: dict[str, list[str]] = {}
    address = None
    for line in plan.splitlines():
        text = line.strip()
        if text.startswith("# ") and (" will be " in text or " must be " in text):
            address = text[2:].split(" ")[0]
            changes[address] = []
        elif address and text[:2] in ("~ ", "+ ", "- ") and not text.endswith("{"):
            changes[address].append(text)
    return changes


def rehearse_terraform(endpoint: str, work: Path, stage: str = "tf") -> Report:
    """Path 3: package, check the ordering, init from the mirror, apply, plan again (no changes), destroy."""
    report, started = Report("path 3 (Terraform)"), time.monotonic()
    directory = build.package_terraform(stage, out=work / "terraform")
    report.problems += rules.terraform_logging_before_policy(rules.terraform_resources(directory))
    secrets = client(endpoint, "secretsmanager")
    webhook = secrets.create_secret(Name=f"imgpipe/{stage}/webhook", SecretString="rehearsal")["ARN"]
    variant = secrets.create_secret(Name=f"imgpipe/{stage}/variants", SecretString="rehearsal")["ARN"]
    for name, text in terraform_overrides(endpoint, work / "terraform.tfstate", webhook, variant).items():
        (directory / name).write_text(text)
    report.skipped += [f"{address}: {why}" for address, why in SKIPPED_TERRAFORM.items()]
    terraform(directory, "init", "-input=false", f"-plugin-dir={tf_plugin_dir()}")
    report.steps.append("terraform init from the local provider mirror")
    try:
        terraform(directory, "apply", "-auto-approve", "-input=false", "-parallelism=20")
        report.steps.append("terraform apply")
        report.problems += rules.deployed_alarm_topic_problems(
            client(endpoint, "cloudwatch"), client(endpoint, "sns"), client(endpoint, "kms"))
        plan = terraform(directory, "plan", "-detailed-exitcode", "-input=false", ok=(0, 2))
        changes = planned_changes(plan.stdout) if plan.returncode == 2 else {}
        for address, lines in changes.items():
            why = MOTO_DRIFT.get(address.split("[")[0])
            text = f"{address}: {'; '.join(lines[:8]) or '(see terraform plan)'}"
            if why:
                report.skipped.append(f"{address} in the second plan: {why} ({text})")
            else:
                report.problems.append(f"A second terraform plan right after apply wants to change {text}")
        if not [a for a in changes if a.split("[")[0] not in MOTO_DRIFT]:
            report.steps.append("terraform plan after apply: no changes")
    finally:
        destroy(endpoint, directory, report)
    report.seconds = time.monotonic() - started
    return report


def destroy(endpoint: str, directory: Path, report: Report) -> None:
    """terraform destroy, with the buckets emptied first, as the README's destroy steps say: Terraform
    does not delete a bucket with objects in it, here as on AWS (moto writes the access logs too, and
    keeps writing them while the destroy runs: hence a second try)."""
    s3 = client(endpoint, "s3")
    for attempt in (1, 2):
        for bucket in s3.list_buckets()["Buckets"]:
            listed = s3.list_objects_v2(Bucket=bucket["Name"]).get("Contents", [])
            keys: list[ObjectIdentifierTypeDef] = [{"Key": o["Key"]} for o in listed]
            if keys:
                s3.delete_objects(Bucket=bucket["Name"], Delete={"Objects": keys})
                report.steps.append(f"emptied bucket {bucket['Name']} ({len(keys)} objects) before destroy")
        try:
            terraform(directory, "destroy", "-auto-approve", "-input=false", "-parallelism=20")
            break
        except RuntimeError:
            if attempt == 2 or "BucketNotEmpty" not in "".join(traceback.format_exc()):
                raise
    report.steps.append("terraform destroy")


def rehearse(paths: tuple[str, ...] = ("1", "3")) -> list[Report]:
    """Each path against a fresh moto server of its own."""
    reports = []
    if "1" in paths:
        with moto_server() as endpoint:
            reports.append(rehearse_path_one(endpoint))
    if "3" in paths:
        missing = terraform_missing()
        if missing:
            reports.append(Report("path 3 (Terraform)", skipped=[f"the whole path: {missing}"]))
        else:
            with moto_server() as endpoint, tempfile.TemporaryDirectory(prefix="imgpipe-rehearsal-") as work:
                reports.append(rehearse_terraform(endpoint, Path(work)))
    return reports


def main(paths: tuple[str, ...]) -> int:
    reports = rehearse(paths)
    for report in reports:
        print(report.text())
    return 1 if any(report.problems for report in reports) else 0
