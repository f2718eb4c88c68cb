"""Path 1: the resources stack, `chalice deploy`, then the API stack and the wiring.

Needs AWS credentials (the usual boto3 chain) and a region; the stage's
environment variables and policies in .chalice/ are rewritten from the
stack's outputs before Chalice reads them.
"""

import json
import sys

import boto3
from botocore.exceptions import ClientError

from deploy import apigw, users
from deploy.build import (
    RESIZE_RETRIES_BEFORE_DLQ,
    RESOURCES,
    ROOT,
    load_config,
    resource_parameters,
    run_chalice,
    stage_settings,
)
from deploy.policies import (
    FUNCTION_ENV, VPC_ACCESS, XRAY_WRITE, function_environment, function_name, write_stage_policies,
)

CONFIG = ROOT / ".chalice" / "config.json"
POLICIES_DIR = ROOT / ".chalice"


def stack_parameters(stage: str, alarm_topic_arn: str = "", versioning: bool = False) -> list[dict]:
    env = load_config()["stages"][stage]["environment_variables"]
    values = {
        **resource_parameters(stage),
        "AllowedOrigins": env["ALLOWED_ORIGINS"],
        "ApiName": "imgpipe",  # Chalice names the REST API after the app
        "AlarmTopicArn": alarm_topic_arn,
        "EnableVersioning": "true" if versioning else "false",
    }
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]


PROTECTED_ROUTES = "POST /uploads, GET /images, GET /images/{id}, DELETE /images/{id}"


def auth_warning(stage: str) -> str | None:
    """What a stage with AUTH=none exposes, for the person deploying it."""
    auth = load_config()["stages"][stage]["environment_variables"].get("AUTH", "api_key")
    if auth.strip().lower() != "none":
        return None
    return (
        f"WARNING: stage {stage} sets AUTH=none: anyone who finds the URL can call {PROTECTED_ROUTES}: "
        "list and download every image, delete any image, and start uploads that run the resize function. "
        "Set AUTH to api_key, cognito or iam in .chalice/config.json to protect them."
    )


def deploy_resources(cfn, stack: str, parameters: list[dict], body: str | None = None) -> dict[str, str]:
    """Create or update the stack (infra/resources.json unless `body`) and wait; returns its outputs."""
    # Compact: TemplateBody is limited to 51,200 bytes, and the indented file is close to it.
    compact = json.dumps(json.loads(RESOURCES.read_text()), separators=(",", ":"))
    args = {"StackName": stack, "TemplateBody": body or compact, "Parameters": parameters}
    try:
        cfn.describe_stacks(StackName=stack)
        exists = True
    except ClientError:
        exists = False
    try:
        if exists:
            cfn.update_stack(**args)
            cfn.get_waiter("stack_update_complete").wait(StackName=stack)
        else:
            cfn.create_stack(**args)
            cfn.get_waiter("stack_create_complete").wait(StackName=stack)
    except ClientError as exc:
        if "No updates are to be performed" not in str(exc):
            raise
    outputs = cfn.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    return {o["OutputKey"]: o["OutputValue"] for o in outputs}


def configure_stage(stage: str, outputs: dict[str, str], account: str, region: str, partition: str) -> None:
    """Copy the stack outputs into the stage's environment and render its policies."""
    config = json.loads(CONFIG.read_text())
    config["stages"][stage]["environment_variables"].update(
        INPUT_BUCKET=outputs["InputBucket"],
        OUTPUT_BUCKET=outputs["OutputBucket"],
        STATUS_TABLE=outputs["StatusTable"],
    )
    functions = config["stages"][stage]["lambda_functions"]
    values = {**outputs, "ResizeFunction": function_name(stage, "resize_image")}
    for function in FUNCTION_ENV:
        variables = functions[function].setdefault("environment_variables", {})
        variables.update(function_environment(function, values))
    cdn_id = outputs.get("CdnDistributionId", "")
    if cdn_id:  # a DELETE invalidates the image there (chalicelib/cdn.py)
        functions["api_handler"]["environment_variables"]["CDN_DISTRIBUTION_ID"] = cdn_id
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


def deploy_user_pool(cfn, stage: str) -> dict[str, str] | None:
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


def wire_dead_letter_queue(lambda_client, stage: str, queue_arn: str) -> None:
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


def deploy(stage: str, alarm_topic_arn: str = "", versioning: bool = False) -> None:
    warning = auth_warning(stage)
    if warning:
        print(warning, file=sys.stderr)
    session = boto3.session.Session()
    region = session.region_name
    if not region:
        raise SystemExit("Set AWS_REGION (or a profile with a region) to deploy.")
    identity = session.client("sts").get_caller_identity()
    partition = identity["Arn"].split(":")[1]
    cfn = session.client("cloudformation")
    parameters = stack_parameters(stage, alarm_topic_arn, versioning)
    outputs = deploy_resources(cfn, f"imgpipe-{stage}-resources", parameters)
    configure_stage(stage, outputs, identity["Account"], region, partition)
    pool = deploy_user_pool(cfn, stage)
    run_chalice("deploy", "--stage", stage)
    if pool is not None:  # the page's URL is known now (a no-op after the first deploy): sign-in returns to it
        deploy_user_pool(cfn, stage)
    wire_dead_letter_queue(session.client("lambda"), stage, outputs["DeadLetterQueueArn"])

    settings, rest_api_id = stage_settings(stage), deployed_rest_api_id(stage)
    api_parameters = {
        "Stage": stage,
        "RestApiId": rest_api_id,
        "ThrottleRate": str(settings["throttle_rate"]),
        "ThrottleBurst": str(settings["throttle_burst"]),
        "RequestsPerDay": str(settings["requests_per_day"]),
    }
    api = deploy_resources(
        cfn,
        f"imgpipe-{stage}-api",
        [{"ParameterKey": k, "ParameterValue": v} for k, v in api_parameters.items()],
        json.dumps(apigw.api_stack_template()),
    )
    apigw.wire_api(session.client("apigateway"), rest_api_id, settings["throttle_rate"],
                   settings["throttle_burst"], outputs["ApiAccessLogGroupArn"], settings["tracing"])
    print(f"Deployed stage {stage}; resources in stacks imgpipe-{stage}-resources and imgpipe-{stage}-api.")
    print(f"API key: aws apigateway get-api-key --include-value --api-key {api['ApiKeyId']} --query value")
    if outputs.get("CdnDomain"):
        print(f"Renditions are served from https://{outputs['CdnDomain']}/ (CDN_DOMAIN).")
    print(f"Events go to the bus {outputs['EventBusName']}. Webhook signing secret: aws secretsmanager "
          f"get-secret-value --secret-id {outputs['WebhookSecretArn']} --query SecretString --output text")
