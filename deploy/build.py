"""Build the packaged artifacts: one SAM template (path 2) or Terraform (path 3).

Both run `chalice package` with the stage's policies rendered first; neither
needs AWS credentials. Output goes to build/<path>/.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from deploy import apigw, indexes, terraform, users
from deploy.policies import (
    CLOUDFORMATION,
    TERRAFORM,
    VPC_ACCESS,
    XRAY_WRITE,
    function_environment,
    function_name,
    write_stage_policies,
)

ROOT = Path(__file__).resolve().parents[1]
RESOURCES = ROOT / "infra" / "resources.json"
STAGES = ROOT / "infra" / "stages.json"
TERRAFORM_DIR = ROOT / "infra" / "terraform"
CHALICE = str(Path(sys.executable).with_name("chalice"))
RESIZE_RETRIES_BEFORE_DLQ = 2  # Lambda's own retries of an async (S3) event, then the DLQ
# What path 2's `aws cloudformation deploy` acknowledges (docs/DEPLOY.md): Chalice's roles, the SAM transform.
CFN_CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]
# Path 2: VPC placement and its ENI grant follow the SubnetIds parameter (condition InVpc).
CFN_VPC_CONFIG = {
    "Fn::If": [
        "InVpc",
        {"SubnetIds": {"Ref": "SubnetIds"}, "SecurityGroupIds": {"Ref": "SecurityGroupIds"}},
        {"Ref": "AWS::NoValue"},
    ]
}
CFN_VPC_ACCESS = {"Fn::If": ["InVpc", VPC_ACCESS, {"Ref": "AWS::NoValue"}]}


def load_config() -> dict:
    return json.loads((ROOT / ".chalice" / "config.json").read_text())


def resize_timeout(stage: str) -> int:
    return load_config()["stages"][stage]["lambda_functions"]["resize_image"]["lambda_timeout"]


def run_chalice(*args: str) -> None:
    # Chalice wants a region even to package; it only lands in Terraform's data sources.
    env = {"AWS_DEFAULT_REGION": "us-east-1", **os.environ}
    subprocess.run([CHALICE, *args], cwd=ROOT, env=env, check=True)


def stage_settings(stage: str) -> dict:
    """infra/stages.json: deploy-time settings (throttling, retention, alarms, logs)."""
    return json.loads(STAGES.read_text())[stage]


def resource_parameters(stage: str) -> dict[str, str]:
    """infra/resources.json's parameter values for a stage: path 1 passes them, path 2 makes them defaults."""
    settings = stage_settings(stage)
    return {
        "Stage": stage,
        "DurationAlarmMilliseconds": str(resize_timeout(stage) * 800),
        "LogRetentionDays": str(settings["log_retention_days"]),
        "AlarmEmail": settings["alarm_email"],
        "EnableAccessLogs": "true" if settings["access_logs"] else "false",
        "SourceRetentionDays": str(settings["source_retention_days"]),
        "FailedSourceRetentionDays": str(settings["failed_source_retention_days"]),
        "SubnetIds": ",".join(settings["subnet_ids"]),
        "VpcId": settings["vpc_id"],
        "RouteTableIds": ",".join(settings["route_table_ids"]),
        "EnableCdn": "true" if settings["cdn"] else "false",
        # One per account and region: a stack that sets it overwrites every other stage's.
        "SetApiGatewayLogRole": "true" if settings["api_gateway_account"] else "false",
        "ResizeInvocationsPerHour": str(settings["resize_invocations_per_hour"]),
        "MonthlyBudgetUsd": str(settings["monthly_budget_usd"]),
    }


FUNCTION_LOG_GROUPS = {
    "APIHandler": ("api_handler", "ApiHandlerLogGroup"),
    "ResizeImage": ("resize_image", "ResizeImageLogGroup"),
    "SweepStuckImages": ("sweep_stuck_images", "SweepStuckImagesLogGroup"),
    "BackfillImage": ("backfill_image", "BackfillImageLogGroup"),
    "RenderVariant": ("render_variant", "RenderVariantLogGroup"),
}
# The values of policies.FUNCTION_ENV, from the stack's own resources.
FUNCTION_ENV_VALUES = {
    "CdnDomain": {"Fn::If": ["Cdn", {"Fn::GetAtt": ["CdnDistribution", "DomainName"]}, ""]},
    "ResizeFunction": {"Fn::Sub": function_name("${Stage}", "resize_image")},
    "RenderFunction": {"Fn::Sub": function_name("${Stage}", "render_variant")},
    "EventBusName": {"Ref": "EventBus"},
    "WebhookSecretArn": {"Ref": "WebhookSecret"},
    "VariantSecretArn": {"Ref": "VariantSecret"},
    "CdnDistributionId": {"Fn::If": ["Cdn", {"Ref": "CdnDistribution"}, ""]},
}
# A DELETE invalidates the image on the stack's distribution (chalicelib/cdn.py): the API role may
# invalidate that one, and no role may without a CDN.
CFN_INVALIDATION = {"Fn::If": ["Cdn", {
    "Sid": "InvalidateDeletedImages", "Effect": "Allow", "Action": "cloudfront:CreateInvalidation",
    "Resource": {"Fn::Sub": "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${CdnDistribution}"},
}, {"Ref": "AWS::NoValue"}]}


def merge_template(stage: str) -> dict:
    """infra/resources.json plus what ties Chalice's functions and API to it."""
    settings = stage_settings(stage)
    problem = indexes.legacy_reads_problem(stage, settings, load_config()["stages"][stage]["environment_variables"])
    if problem:
        raise SystemExit(problem)
    template = indexes.stage_template(json.loads(RESOURCES.read_text()), settings)  # legacy_indexes
    params, resources = template["Parameters"], template["Resources"]
    for name, value in resource_parameters(stage).items():
        params[name]["Default"] = int(value) if params[name]["Type"] == "Number" else value
    params["ApiName"]["Default"] = f"imgpipe-{stage}"
    params.update(
        ThrottleRate={"Type": "Number", "Default": settings["throttle_rate"], "Description": "Requests/s."},
        ThrottleBurst={"Type": "Number", "Default": settings["throttle_burst"], "Description": "Burst."},
        RequestsPerDay={"Type": "Number", "Default": settings["requests_per_day"], "MinValue": 1,
                        "Description": "Usage plan quota per key and day."},
        # Path 1 hands the security groups to Chalice (config.json), not to the resources stack.
        SecurityGroupIds={"Type": "CommaDelimitedList", "Default": ",".join(settings["security_group_ids"]),
                          "Description": "Security groups of the functions in the VPC (HTTPS out)."},
    )
    env = {
        "INPUT_BUCKET": {"Fn::Sub": CLOUDFORMATION["InputBucket"]},
        "OUTPUT_BUCKET": {"Fn::Sub": CLOUDFORMATION["OutputBucket"]},
        "STATUS_TABLE": {"Ref": "StatusTable"},
        # The same origins as the buckets' CORS rules.
        "ALLOWED_ORIGINS": {"Fn::Join": [",", {"Ref": "AllowedOrigins"}]},
        "TRACING": "true" if settings["tracing"] else "false",
    }
    for logical, (function, log_group) in FUNCTION_LOG_GROUPS.items():
        # Named, so that each role can name its own log group (a Ref would loop).
        resources[logical] = {
            "DependsOn": [log_group],
            "Properties": {
                "FunctionName": {"Fn::Sub": function_name("${Stage}", function)},
                "Environment": {"Variables": {**env, **function_environment(function, FUNCTION_ENV_VALUES)}},
                "Tracing": "Active" if settings["tracing"] else "PassThrough",
                "VpcConfig": CFN_VPC_CONFIG,
            },
        }
    # The sweeper runs on a schedule (async): a failed run goes to the DLQ too.
    resources["SweepStuckImages"]["Properties"]["DeadLetterQueue"] = {
        "Type": "SQS", "TargetArn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}
    }
    resources["ResizeImage"]["Properties"].update(
        {
            "Events": {
                "Upload": {
                    "Type": "S3",
                    "Properties": {
                        "Bucket": {"Ref": "InputBucket"},
                        "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
                    },
                }
            },
            "EventInvokeConfig": {
                "MaximumRetryAttempts": RESIZE_RETRIES_BEFORE_DLQ,
                "DestinationConfig": {
                    "OnFailure": {"Type": "SQS", "Destination": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}}
                },
            },
        }
    )
    resources["RestAPI"] = {
        "DependsOn": ["ApiGatewayAccountReady"],  # access logging needs the account's role
        "Properties": {
            "Name": {"Ref": "ApiName"},
            # Without it SAM's Deployment also makes a stage named "Stage", unthrottled and unlogged.
            "OpenApiVersion": "3.0.1",
            "DefinitionBody": {"x-amazon-apigateway-gateway-responses": apigw.gateway_responses()},
            "MethodSettings": [
                {
                    "ResourcePath": "/*",
                    "HttpMethod": "*",
                    "ThrottlingRateLimit": {"Ref": "ThrottleRate"},
                    "ThrottlingBurstLimit": {"Ref": "ThrottleBurst"},
                }
            ],
            "AccessLogSetting": {
                "DestinationArn": {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]},
                "Format": apigw.ACCESS_LOG_FORMAT,
            },
            "TracingEnabled": settings["tracing"],
        }
    }
    resources.update(apigw.api_resources({"Ref": "RestAPI"}, {"Ref": "RestAPI.Stage"}))
    route_variants_to_the_api(template)
    stage_env = load_config()["stages"][stage]["environment_variables"]
    if stage_env.get("AUTH") == "cognito":
        use_user_pool(template, stage_env.get("COGNITO_USER_POOL_ARN", ""))
    template["Outputs"]["ApiKeyId"] = {"Value": {"Ref": "ApiKey"}}
    return template


# The stack's own REST API is the CDN's origin for /v/* (path 1 passes its domain as ApiDomain).
API_DOMAIN = {"Fn::Sub": "${RestAPI}.execute-api.${AWS::Region}.amazonaws.com"}
# Chalice's integrations name the API function by `${APIHandler.Arn}`; with the CDN's origin on the
# API and CDN_DOMAIN on the function that closes a loop (API → function → distribution → API).
# The function's name is fixed (imgpipe-${Stage}), so its ARN can be written out instead.
API_FUNCTION_REF = "${APIHandler.Arn}"
API_FUNCTION_ARN = "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:" + function_name(
    "${Stage}", "api_handler")


def route_variants_to_the_api(template: dict) -> None:
    """With the CDN, /v/* always goes to this stack's API: what path 1 conditions on CdnVariants
    (a CDN and a known ApiDomain) is here conditioned on Cdn alone, and the origin is its domain."""
    del template["Conditions"]["CdnVariants"], template["Parameters"]["ApiDomain"]
    resources = template["Resources"]
    for resource in resources.values():
        if resource.get("Condition") == "CdnVariants":
            resource["Condition"] = "Cdn"
    config = resources["CdnDistribution"]["Properties"]["DistributionConfig"]
    # Inside the distribution (condition Cdn) the Fn::If would always take its first branch.
    config["Origins"] = [o["Fn::If"][1] if "Fn::If" in o else o for o in config["Origins"]]
    config["CacheBehaviors"] = [b["Fn::If"][1] if "Fn::If" in b else b for b in config["CacheBehaviors"]]
    [api] = [o for o in config["Origins"] if o["Id"] == "api"]
    api["DomainName"] = API_DOMAIN


def name_the_api_function(sam: Path) -> None:
    """The packaged API's integrations name the API function's ARN, not a GetAtt (see API_FUNCTION_REF)."""
    text = sam.read_text()
    if API_FUNCTION_REF not in text:  # Chalice changed how it names the function: the cycle would be back
        raise SystemExit(f"chalice package no longer names the API function as {API_FUNCTION_REF}; "
                         "deploy/build.py must learn its new form.")
    sam.write_text(text.replace(API_FUNCTION_REF, API_FUNCTION_ARN))


def use_user_pool(template: dict, configured_arn: str) -> None:
    """AUTH=cognito: the stack makes the user pool (deploy/users.py's resources, as path 1's users
    stack does) unless the parameter CognitoUserPoolArn names an existing one; either pool is in the
    authorizer (app.py names it imgpipe-users) and in the functions' environment."""
    params, resources = template["Parameters"], template["Resources"]
    params.update(
        CognitoUserPoolArn={"Type": "String", "Default": configured_arn if configured_arn.startswith("arn:") else "",
                            "Description": "An existing user pool whose tokens the API accepts; "
                                           "empty: the stack creates one (kept when the stack is deleted)."},
        # With an existing pool: its hosted UI and a public PKCE client of it, for the page's sign-in.
        SignInUrl={"Type": "String", "Default": "", "Description": "https://DOMAIN of an existing pool's hosted UI."},
        SignInClientId={"Type": "String", "Default": "", "Description": "A PKCE app client of an existing pool."},
        **users.POOL_PARAMETERS,
    )
    # The page's URL is the API's, which the stack makes after the client: deploy again with it.
    params["PageUrls"] = {**params["PageUrls"], "Default": "https://localhost/"}
    template["Conditions"].update(users.POOL_CONDITIONS,
                                  CreateUserPool={"Fn::Equals": [{"Ref": "CognitoUserPoolArn"}, ""]})
    for name, resource in users.pool_resources().items():
        resources[name] = {**resource, "Condition": "CreateUserPool"}
    created = "CreateUserPool"
    pool = {"Fn::If": [created, {"Fn::GetAtt": ["UserPool", "Arn"]}, {"Ref": "CognitoUserPoolArn"}]}
    body = resources["RestAPI"]["Properties"]["DefinitionBody"]
    # Chalice's merge is deep for objects; this list replaces its literal ARN.
    body["securityDefinitions"] = {"imgpipe-users": {"x-amazon-apigateway-authorizer": {"providerARNs": [pool]}}}
    for logical in FUNCTION_LOG_GROUPS:
        resources[logical]["Properties"]["Environment"]["Variables"]["COGNITO_USER_POOL_ARN"] = pool
    resources["APIHandler"]["Properties"]["Environment"]["Variables"].update(
        ADMIN_GROUP={"Ref": "AdminGroup"},
        SIGN_IN_URL={"Fn::If": [created, {"Fn::Sub": users.SIGN_IN_URL_SUB}, {"Ref": "SignInUrl"}]},
        SIGN_IN_CLIENT_ID={"Fn::If": [created, {"Ref": "PageClient"}, {"Ref": "SignInClientId"}]},
    )
    template["Outputs"].update(
        UserPoolArn={"Value": pool},
        PageClientId={"Value": {"Fn::If": [created, {"Ref": "PageClient"}, {"Ref": "SignInClientId"}]}},
    )


def package_cloudformation(stage: str = "cfn", out: Path = ROOT / "build" / "cfn") -> Path:
    """build/cfn/sam.json (merged) and deployment.zip; returns the template path."""
    out.mkdir(parents=True, exist_ok=True)
    extra: list[dict] = [CFN_VPC_ACCESS, *([XRAY_WRITE] if stage_settings(stage)["tracing"] else [])]
    written = write_stage_policies(stage, CLOUDFORMATION, wrap_sub=True, name_stage="${Stage}", extra=extra)
    api_policy = next(path for path in written if path.name == f"policy-{stage}-api.json")
    policy = json.loads(api_policy.read_text())
    policy["Statement"].append(CFN_INVALIDATION)
    api_policy.write_text(json.dumps(policy, indent=2) + "\n")
    merge = out / "merge.json"
    merge.write_text(json.dumps(merge_template(stage), indent=2) + "\n")
    run_chalice("package", "--stage", stage, "--merge-template", str(merge), str(out))
    name_the_api_function(out / "sam.json")
    return out / "sam.json"


def package_terraform(stage: str = "tf", out: Path = ROOT / "build" / "terraform") -> Path:
    """build/terraform: chalice.tf.json (adapted), deployment.zip, infra/terraform/*.tf and the lock file.

    The folder is rebuilt each time; Terraform state lives outside it (backend.tf).
    """
    if out.exists():
        shutil.rmtree(out)
    write_stage_policies(stage, TERRAFORM)
    run_chalice("package", "--stage", stage, "--pkg-format", "terraform", str(out))
    chalice_tf = out / "chalice.tf.json"
    adapted = terraform.adapt(json.loads(chalice_tf.read_text()), stage)
    chalice_tf.write_text(json.dumps(adapted, indent=2) + "\n")
    for tf in [*TERRAFORM_DIR.glob("*.tf"), *TERRAFORM_DIR.glob("*.js"), TERRAFORM_DIR / ".terraform.lock.hcl"]:
        shutil.copy(tf, out / tf.name)
    (out / "tests").mkdir()
    for test in TERRAFORM_DIR.glob("tests/*.tftest.hcl"):
        shutil.copy(test, out / "tests" / test.name)
    return out
