"""Path 3 (Terraform) rehearsed on a moto server: package, `terraform init` from a local provider
mirror, `apply`, a second `plan` that must find nothing to change, and `destroy`; what moto lacks
is overridden and named (SKIPPED_TERRAFORM, MOTO_DRIFT)."""

import json
import os
import shutil
import subprocess
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

from deploy import build, rules
from deploy.rehearse_moto import CREDENTIALS, REGION, Report, client

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef

# What moto lacks, and what the rehearsal does instead (each named in the report).
SKIPPED_TERRAFORM = {
    "aws_cloudfront_cache_policy.immutable": "moto has no CloudFront cache policies; the distribution "
                                             "uses AWS's managed CachingOptimized id instead",
    "aws_cloudfront_cache_policy.variants": "moto has no CloudFront cache policies; the /v/* behaviour "
                                            "uses AWS's managed CachingDisabled id instead",
    "aws_cloudfront_function.accept_class publish": "moto has no PublishFunction; the function is made "
                                                    "unpublished (its code is tested with node, test_cdn_variants)",
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
MANAGED_NO_CACHE_POLICY = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # CachingDisabled
SERVICES = ("apigateway", "cloudformation", "cloudfront", "cloudwatch", "cognitoidp", "dynamodb", "ec2",
            "events", "iam", "kms", "lambda", "logs", "s3", "secretsmanager", "sns", "sqs", "sts")


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

resource "aws_cloudfront_cache_policy" "variants" {{
  count = 0
}}

resource "aws_cloudfront_function" "accept_class" {{
  publish = false
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

  ordered_cache_behavior {{
    path_pattern               = "/v/*"
    target_origin_id           = "api"
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["GET", "HEAD"]
    cached_methods             = ["GET", "HEAD"]
    compress                   = false
    cache_policy_id            = "{MANAGED_NO_CACHE_POLICY}"
    response_headers_policy_id = "{MANAGED_HEADERS_POLICY}"
    function_association {{
      event_type   = "viewer-request"
      function_arn = aws_cloudfront_function.accept_class[0].arn
    }}
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
    # users.tf protects the pool (its users) from deletion, and AWS refuses to delete a protected pool
    # (moto does not): the documented step first, as a user of path 3 would.
    terraform(directory, "apply", "-auto-approve", "-input=false", "-target=aws_cognito_user_pool.users",
              "-var", "user_pool_deletion_protection=false")
    report.steps.append("turned the user pool's deletion protection off before destroy (docs/DEPLOY.md)")
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
