"""Path 1: the resources stack, `chalice deploy`, then the API stack and the wiring
(after the checks of deploy/preflight.py).

Needs AWS credentials (the usual boto3 chain) and a region; the stage's
environment variables and policies in .chalice/ are rewritten from the
stack's outputs before Chalice reads them.
"""

import hashlib
import json
import sys
from typing import TYPE_CHECKING, cast

import boto3
from botocore.exceptions import ClientError

from deploy import apigw, index_steps, indexes, users
from deploy.preflight import (
    alarm_recipient_problem,
    api_gateway_account_problem,
    auth_warning,
    concurrency_problem,
    live_legacy_reads_problem,
    reserved_concurrency,
)
from deploy.build import (
    RESIZE_RETRIES_BEFORE_DLQ,
    RESOURCES,
    ROOT,
    load_config,
    resource_parameters,
    run_chalice,
    stage_settings,
)
from deploy.rules import TEMPLATE_BODY_LIMIT  # CloudFormation's; a larger template is read from S3
from deploy.policies import (
    FUNCTION_ENV, VPC_ACCESS, XRAY_WRITE, function_environment, function_name, write_stage_policies,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudformation.type_defs import ParameterTypeDef
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.literals import BucketLocationConstraintType

CONFIG = ROOT / ".chalice" / "config.json"
POLICIES_DIR = ROOT / ".chalice"


def stack_parameters(
    stage: str, alarm_topic_arn: str = "", versioning: bool = False
) -> "list[ParameterTypeDef]":
    env = load_config()["stages"][stage]["environment_variables"]
    values = {
        **resource_parameters(stage),
        "AllowedOrigins": env["ALLOWED_ORIGINS"],
        "ApiName": "imgpipe",  # Chalice names the REST API after the app
        "AlarmTopicArn": alarm_topic_arn,
        "EnableVersioning": "true" if versioning else "false",
    }
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]


# CloudFormation refuses a stack that creates IAM resources (InsufficientCapabilities) unless
# the caller acknowledges them; NAMED_IAM too, so that naming a role later does not break it.
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"]


def artifacts_bucket(s3: "S3Client", stage: str, account: str, region: str) -> str:
    """The stage's private bucket for templates over the TemplateBody limit; made on first use."""
    bucket = f"imgpipe-{stage}-deploy-{account}-{region}"
    try:
        s3.head_bucket(Bucket=bucket)
        return bucket
    except ClientError:
        pass
    if region == "us-east-1":  # S3 refuses a LocationConstraint of us-east-1, its default
        s3.create_bucket(Bucket=bucket)
    else:
        # Any region name: the stubs' list is the regions there were when they were made.
        constraint = cast("BucketLocationConstraintType", region)
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": constraint})
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True})
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    return bucket


def template_source(body: str, stack: str, upload: tuple | None) -> dict[str, str]:
    """TemplateBody, or TemplateURL once the body is over CloudFormation's limit.

    `upload` is (s3 client, bucket, region): where a large template goes.
    """
    if len(body.encode()) <= TEMPLATE_BODY_LIMIT:
        return {"TemplateBody": body}
    if upload is None:
        raise SystemExit(f"The template of stack {stack} is over CloudFormation's {TEMPLATE_BODY_LIMIT}-byte "
                         "TemplateBody limit and no bucket was given to upload it to.")
    s3, bucket, region = upload
    key = f"templates/{stack}/{hashlib.sha256(body.encode()).hexdigest()[:16]}.json"
    s3.put_object(Bucket=bucket, Key=key, Body=body.encode(), ContentType="application/json")
    return {"TemplateURL": f"https://{bucket}.s3.{region}.amazonaws.com/{key}"}


def deploy_resources(cfn: "CloudFormationClient", stack: str, parameters: "list[ParameterTypeDef]",
                     body: str, upload: tuple | None = None,
                     dynamodb: "DynamoDBClient | None" = None) -> dict[str, str]:
    """Create or update the stack with template `body` (the resources stack: resources_body,
    never the raw file, which ignores legacy_indexes) and wait; returns its outputs.

    A template over the TemplateBody limit goes to S3 first (`upload`: s3 client, bucket, region).
    An update that adds or drops more than one index of a table deploys them one at a time first
    (deploy/index_steps.py; `dynamodb`, a client of the table's region, waits for each).
    """
    source = template_source(body, stack, upload)

    def stack_call(call: "Callable[..., object]") -> None:
        common = {"StackName": stack, "Parameters": parameters, "Capabilities": CAPABILITIES}
        call(**common, **source)

    try:
        cfn.describe_stacks(StackName=stack)
        exists = True
    except ClientError:
        exists = False
    if exists:
        step_indexes(cfn, stack, json.loads(body), upload, dynamodb)
    try:
        if exists:
            stack_call(cfn.update_stack)
            cfn.get_waiter("stack_update_complete").wait(StackName=stack)
        else:
            stack_call(cfn.create_stack)
            cfn.get_waiter("stack_create_complete").wait(StackName=stack)
    except ClientError as exc:
        if "No updates are to be performed" not in str(exc):
            raise
    outputs = cfn.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    return {o["OutputKey"]: o["OutputValue"] for o in outputs}


def resources_body(stage: str) -> str:
    """infra/resources.json as the stage deploys it (its legacy_indexes setting), compact: the
    indented file is close to the TemplateBody limit."""
    template = indexes.stage_template(json.loads(RESOURCES.read_text()), stage_settings(stage))
    return json.dumps(template, separators=(",", ":"))


def step_indexes(cfn: "CloudFormationClient", stack: str, target: dict, upload: tuple | None,
                 dynamodb: "DynamoDBClient | None") -> None:
    """Before an update: the index changes CloudFormation takes one per update, each its own update."""
    if not indexes.index_steps(index_steps.deployed_template(cfn, stack), target):
        return
    if dynamodb is None:
        raise SystemExit(f"Stack {stack} changes several indexes of a table, one per update, and no "
                         "DynamoDB client was given to wait for each.")
    index_steps.step_indexes(cfn, dynamodb, stack, target, lambda body: template_source(body, stack, upload))


def configure_stage(stage: str, outputs: dict[str, str], account: str, region: str, partition: str) -> None:
    """Copy the stack outputs into the stage's environment and render its policies."""
    config = json.loads(CONFIG.read_text())
    config["stages"][stage]["environment_variables"].update(
        INPUT_BUCKET=outputs["InputBucket"],
        OUTPUT_BUCKET=outputs["OutputBucket"],
        STATUS_TABLE=outputs["StatusTable"],
    )
    functions = config["stages"][stage]["lambda_functions"]
    values = {"CdnDistributionId": "", **outputs, "ResizeFunction": function_name(stage, "resize_image"),
              "RenderFunction": function_name(stage, "render_variant")}
    for function in FUNCTION_ENV:
        variables = functions[function].setdefault("environment_variables", {})
        variables.update(function_environment(function, values))
    cdn_id = values["CdnDistributionId"]  # a DELETE invalidates the image there (chalicelib/cdn.py)
    settings = stage_settings(stage)
    config["stages"][stage]["environment_variables"]["TRACING"] = "true" if settings["tracing"] else "false"
    config["stages"][stage]["xray"] = settings["tracing"]
    in_vpc = bool(settings["subnet_ids"])
    for key in ("subnet_ids", "security_group_ids"):  # Chalice's own VPC settings, for every function
        if in_vpc:
            config["stages"][stage][key] = settings[key]
        else:
            config["stages"][stage].pop(key, None)
    CONFIG.write_text(json.dumps(config, indent=2) + "\n")
    write_stage_policies(
        stage,
        {**outputs, "AWS::AccountId": account, "AWS::Region": region, "AWS::Partition": partition},
        extra=[*([VPC_ACCESS] if in_vpc else []), *([XRAY_WRITE] if settings["tracing"] else [])],
    )
    if cdn_id:
        grant_invalidation(stage, f"arn:{partition}:cloudfront::{account}:distribution/{cdn_id}")


def grant_invalidation(stage: str, distribution_arn: str) -> None:
    """The API role may invalidate the stage's one distribution, and no other."""
    path = POLICIES_DIR / f"policy-{stage}-api.json"
    policy = json.loads(path.read_text())
    policy["Statement"].append({"Sid": "InvalidateDeletedImages", "Effect": "Allow",
                                "Action": "cloudfront:CreateInvalidation", "Resource": distribution_arn})
    path.write_text(json.dumps(policy, indent=2) + "\n")


def api_stack_parameters(stage: str, rest_api_id: str, settings: dict) -> "list[ParameterTypeDef]":
    """The API stack's parameters (deploy/apigw.py): the stage's throttling and daily quota."""
    values = {"Stage": stage, "RestApiId": rest_api_id, "ThrottleRate": str(settings["throttle_rate"]),
              "ThrottleBurst": str(settings["throttle_burst"]), "RequestsPerDay": str(settings["requests_per_day"])}
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]


def deploy_user_pool(cfn: "CloudFormationClient", stage: str) -> dict[str, str] | None:
    """AUTH=cognito (the default of dev and prod): the stack imgpipe-STAGE-users (deploy/users.py),
    its pool, page client and hosted UI copied into the stage's environment. None for other modes."""
    config = json.loads(CONFIG.read_text())
    env = config["stages"][stage]["environment_variables"]
    if env.get("AUTH") != "cognito":
        return None
    deployed = ROOT / ".chalice" / "deployed" / f"{stage}.json"
    parameters = {"Stage": stage, "PageUrls": users.page_urls(env.get("ALLOWED_ORIGINS", ""), deployed),
                  "AdminGroup": env.get("ADMIN_GROUP", users.ADMIN_GROUP)}
    outputs = deploy_resources(cfn, f"imgpipe-{stage}-users",
                               [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
                               json.dumps(users.users_stack_template()))
    env.update(users.stage_identity(outputs, parameters["AdminGroup"]))
    CONFIG.write_text(json.dumps(config, indent=2) + "\n")
    return outputs


def wire_dead_letter_queue(lambda_client: "LambdaClient", stage: str, queue_arn: str) -> None:
    """Retries of the async S3 event, then the event goes to the queue; so do failed sweeps."""
    lambda_client.put_function_event_invoke_config(
        FunctionName=function_name(stage, "resize_image"),
        MaximumRetryAttempts=RESIZE_RETRIES_BEFORE_DLQ,
        DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )
    lambda_client.update_function_configuration(
        FunctionName=function_name(stage, "sweep_stuck_images"), DeadLetterConfig={"TargetArn": queue_arn}
    )


def deployed_rest_api_id(stage: str) -> str:
    deployed = json.loads((ROOT / ".chalice" / "deployed" / f"{stage}.json").read_text())
    return next(r["rest_api_id"] for r in deployed["resources"] if r.get("resource_type") == "rest_api")


def api_domain(rest_api_id: str, region: str) -> str:
    """The REST API's execute-api domain: with a CDN, its origin for /v/* (parameter ApiDomain)."""
    return f"{rest_api_id}.execute-api.{region}.amazonaws.com"


def previous_api_domain(stage: str, region: str) -> str:
    """The domain of the API an earlier `chalice deploy` made, or "" (a first deploy)."""
    try:
        return api_domain(deployed_rest_api_id(stage), region)
    except (OSError, StopIteration):
        return ""


def with_api_domain(parameters: "list[ParameterTypeDef]", domain: str) -> "list[ParameterTypeDef]":
    """The resources stack's parameters with ApiDomain set (the CDN's /v/* origin)."""
    kept = [p for p in parameters if p["ParameterKey"] != "ApiDomain"]
    return [*kept, {"ParameterKey": "ApiDomain", "ParameterValue": domain}]


def previous_api_domain_of(parameters: "list[ParameterTypeDef]") -> str:
    return next((p.get("ParameterValue", "") for p in parameters if p["ParameterKey"] == "ApiDomain"), "")


def deploy(stage: str, alarm_topic_arn: str = "", versioning: bool = False) -> None:
    warning = auth_warning(stage)
    if warning:
        print(warning, file=sys.stderr)
    settings = stage_settings(stage)
    alarm_topic_arn = alarm_topic_arn or settings["alarm_topic_arn"]
    problem = (alarm_recipient_problem(stage, settings, alarm_topic_arn)
               or indexes.legacy_reads_problem(stage, settings, load_config()["stages"][stage]["environment_variables"]))
    if problem:
        raise SystemExit(problem)
    session = boto3.session.Session()
    region = session.region_name
    if not region:
        raise SystemExit("Set AWS_REGION (or a profile with a region) to deploy.")
    identity = session.client("sts").get_caller_identity()
    partition = identity["Arn"].split(":")[1]
    lambda_client = session.client("lambda")
    problem = (api_gateway_account_problem(session.client("apigateway"), settings)
               or concurrency_problem(lambda_client, stage, reserved_concurrency(stage))
               or live_legacy_reads_problem(lambda_client, stage, settings))
    if problem:
        raise SystemExit(problem)
    cfn = session.client("cloudformation")
    # The API's domain is known once Chalice has made it: the same as last time (the distribution
    # is not touched), or, on a first deploy, set by a second update below.
    parameters = with_api_domain(stack_parameters(stage, alarm_topic_arn, versioning),
                                 previous_api_domain(stage, region))
    s3 = session.client("s3")
    upload = (s3, artifacts_bucket(s3, stage, identity["Account"], region), region)
    resources, dynamodb = resources_body(stage), session.client("dynamodb")
    outputs = deploy_resources(cfn, f"imgpipe-{stage}-resources", parameters, resources, upload, dynamodb)
    configure_stage(stage, outputs, identity["Account"], region, partition)
    pool = deploy_user_pool(cfn, stage)
    run_chalice("deploy", "--stage", stage)
    if pool is not None:  # the page's URL is known now (a no-op after the first deploy): sign-in returns to it
        deploy_user_pool(cfn, stage)
    wire_dead_letter_queue(lambda_client, stage, outputs["DeadLetterQueueArn"])

    settings, rest_api_id = stage_settings(stage), deployed_rest_api_id(stage)
    if api_domain(rest_api_id, region) != previous_api_domain_of(parameters):  # the CDN's /v/* origin
        parameters = with_api_domain(parameters, api_domain(rest_api_id, region))
        outputs = deploy_resources(cfn, f"imgpipe-{stage}-resources", parameters, resources, upload, dynamodb)
    api = deploy_resources(cfn, f"imgpipe-{stage}-api", api_stack_parameters(stage, rest_api_id, settings),
                           json.dumps(apigw.api_stack_template()))
    apigw.wire_api(session.client("apigateway"), rest_api_id, settings["throttle_rate"],
                   settings["throttle_burst"], outputs["ApiAccessLogGroupArn"], settings["tracing"])
    print(f"Deployed stage {stage}; resources in stacks imgpipe-{stage}-resources and imgpipe-{stage}-api.")
    print(f"API key: aws apigateway get-api-key --include-value --api-key {api['ApiKeyId']} --query value")
    if outputs.get("CdnDomain"):
        print(f"Renditions are served from https://{outputs['CdnDomain']}/ (CDN_DOMAIN).")
    print(f"Events go to the bus {outputs['EventBusName']}. Webhook signing secret: aws secretsmanager "
          f"get-secret-value --secret-id {outputs['WebhookSecretArn']} --query SecretString --output text")
