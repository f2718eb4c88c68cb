"""Path 1: the resources stack, then `chalice deploy`, then the DLQ wiring.

Needs AWS credentials (the usual boto3 chain) and a region; the stage's
environment variables and policies in .chalice/ are rewritten from the
stack's outputs before Chalice reads them.
"""

import json

import boto3
from botocore.exceptions import ClientError

from deploy.build import RESIZE_RETRIES_BEFORE_DLQ, RESOURCES, ROOT, load_config, resize_timeout, run_chalice
from deploy.policies import write_stage_policies

CONFIG = ROOT / ".chalice" / "config.json"


def stack_parameters(stage: str, alarm_topic_arn: str = "", versioning: bool = False) -> list[dict]:
    env = load_config()["stages"][stage]["environment_variables"]
    values = {
        "Stage": stage,
        "AllowedOrigins": env["ALLOWED_ORIGINS"],
        "ResizeFunctionName": f"imgpipe-{stage}-resize_image",  # Chalice's name for it
        "DurationAlarmMilliseconds": str(resize_timeout(stage) * 800),
        "AlarmTopicArn": alarm_topic_arn,
        "EnableVersioning": "true" if versioning else "false",
    }
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]


def deploy_resources(cfn, stack: str, parameters: list[dict]) -> dict[str, str]:
    """Create or update the stack and wait; returns its outputs."""
    args = {"StackName": stack, "TemplateBody": RESOURCES.read_text(), "Parameters": parameters}
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
    CONFIG.write_text(json.dumps(config, indent=2) + "\n")
    write_stage_policies(
        stage,
        {**outputs, "AWS::AccountId": account, "AWS::Region": region, "AWS::Partition": partition},
    )


def wire_dead_letter_queue(lambda_client, stage: str, queue_arn: str) -> None:
    """Retries of the async S3 event, then the event goes to the queue."""
    lambda_client.put_function_event_invoke_config(
        FunctionName=f"imgpipe-{stage}-resize_image",
        MaximumRetryAttempts=RESIZE_RETRIES_BEFORE_DLQ,
        DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )


def deploy(stage: str, alarm_topic_arn: str = "", versioning: bool = False) -> None:
    session = boto3.session.Session()
    region = session.region_name
    if not region:
        raise SystemExit("Set AWS_REGION (or a profile with a region) to deploy.")
    identity = session.client("sts").get_caller_identity()
    partition = identity["Arn"].split(":")[1]
    outputs = deploy_resources(
        session.client("cloudformation"),
        f"imgpipe-{stage}-resources",
        stack_parameters(stage, alarm_topic_arn, versioning),
    )
    configure_stage(stage, outputs, identity["Account"], region, partition)
    run_chalice("deploy", "--stage", stage)
    wire_dead_letter_queue(session.client("lambda"), stage, outputs["DeadLetterQueueArn"])
    print(f"Deployed stage {stage}; resources in stack imgpipe-{stage}-resources.")
