"""Render the per-function IAM policy templates in .chalice/ for one deploy path.

The templates name their resources with CloudFormation-style placeholders
(`${InputBucket}`, `${AWS::AccountId}`, ...). `chalice deploy` needs literal
ARNs, the packaged CloudFormation stack `Fn::Sub` expressions, Terraform its
own interpolations; the actions are the same on every path.
"""

import json
import re
from collections.abc import Mapping
from typing import cast
from pathlib import Path

CHALICE_DIR = Path(__file__).resolve().parents[1] / ".chalice"
FUNCTIONS = {
    "api_handler": "api", "resize_image": "resize", "sweep_stuck_images": "sweeper",
    "backfill_image": "backfill", "render_variant": "render",
}
# The functions that finish images: they publish events and sign webhooks.
FINISHERS = ("resize_image", "sweep_stuck_images", "backfill_image")
# Which function reads which variable of its own (chalicelib/config.py), by the name of the
# value each deploy path supplies: the API answers with CDN URLs and invokes the resize
# function; the FINISHERS send the events and signed webhooks of every final state.
FUNCTION_ENV = {
    "api_handler": {"CDN_DOMAIN": "CdnDomain", "RESIZE_FUNCTION": "ResizeFunction",
                    "VARIANT_SECRET_ARN": "VariantSecretArn", "RENDER_FUNCTION": "RenderFunction",
                    "CDN_DISTRIBUTION_ID": "CdnDistributionId"},  # a DELETE invalidates the image there
    **{function: {"EVENT_BUS_NAME": "EventBusName", "WEBHOOK_SECRET_ARN": "WebhookSecretArn"}
       for function in FINISHERS},
}
PLACEHOLDER = re.compile(r"\$\{([A-Za-z:]+)\}")

# Bucket names are computed, never `Ref`s: the resize role names the input
# bucket, the bucket's notification names the function, and a Ref from the
# role to the bucket would close that loop into a circular dependency.
BUCKET_NAME_SUB = "imgpipe-${Stage}-%s-${AWS::AccountId}-${AWS::Region}"
CLOUDFORMATION = {
    "InputBucket": BUCKET_NAME_SUB % "input",
    "OutputBucket": BUCKET_NAME_SUB % "output",
    "StatusTable": "${StatusTable}",
    "DeadLetterQueueArn": "${DeadLetterQueue.Arn}",
    "EventBusName": "${EventBus}",
    "WebhookSecretArn": "${WebhookSecret}",
    "VariantSecretArn": "${VariantSecret}",
    "AWS::Partition": "${AWS::Partition}",
    "AWS::Region": "${AWS::Region}",
    "AWS::AccountId": "${AWS::AccountId}",
}
TERRAFORM = {
    "InputBucket": "${aws_s3_bucket.input.bucket}",
    "OutputBucket": "${aws_s3_bucket.output.bucket}",
    "StatusTable": "${aws_dynamodb_table.status.name}",
    "DeadLetterQueueArn": "${aws_sqs_queue.dead_letter.arn}",
    "EventBusName": "${aws_cloudwatch_event_bus.images.name}",
    "WebhookSecretArn": "${local.webhook_secret_arn}",
    "VariantSecretArn": "${local.variant_secret_arn}",
    "AWS::Partition": "${data.aws_partition.chalice.partition}",
    "AWS::Region": "${data.aws_region.chalice.name}",
    "AWS::AccountId": "${data.aws_caller_identity.chalice.account_id}",
}


# What AWSLambdaVPCAccessExecutionRole grants for a function's network interfaces,
# without its logs:* on every group. Lambda checks the role for them on create.
VPC_ACCESS_ACTIONS = [
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
]
VPC_ACCESS = {
    "Sid": "NetworkInterfacesInVpc", "Effect": "Allow", "Action": VPC_ACCESS_ACTIONS, "Resource": "*"
}

# Lambda's active tracing sends the function's segments with its role; only when `tracing` is on.
XRAY_WRITE = {
    "Sid": "XRayTraces", "Effect": "Allow", "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
    "Resource": "*",
}


def function_name(stage: str, function: str) -> str:
    """Chalice's name for a function; the API handler is named after the app and stage."""
    return f"imgpipe-{stage}" if function == "api_handler" else f"imgpipe-{stage}-{function}"


def policy_template(function: str) -> dict:
    return json.loads((CHALICE_DIR / f"policy-{FUNCTIONS[function]}.json").read_text())


def _substitute(text: str, values: Mapping[str, str]) -> str:
    def value(match: re.Match) -> str:
        if match[1] not in values:
            raise KeyError(f"no value for ${{{match[1]}}} in a policy template")
        return values[match[1]]

    return PLACEHOLDER.sub(value, text)


def render(node: object, values: Mapping[str, str], wrap_sub: bool = False) -> object:
    """The policy with every placeholder replaced; `wrap_sub` makes each an Fn::Sub."""
    if isinstance(node, dict):
        return {k: render(v, values, wrap_sub) for k, v in node.items()}
    if isinstance(node, list):
        return [render(v, values, wrap_sub) for v in node]
    if isinstance(node, str) and PLACEHOLDER.search(node):
        text = _substitute(node, values)
        return {"Fn::Sub": text} if wrap_sub else text
    return node


def function_environment(function: str, values: Mapping[str, object]) -> dict[str, object]:
    """`function`'s own variables (FUNCTION_ENV), from one deploy path's `values`."""
    return {variable: values[name] for variable, name in FUNCTION_ENV.get(function, {}).items()}


def function_values(stage: str, function: str) -> dict[str, str]:
    """The per-function placeholders of a policy template: its own name, and the resize
    and render functions' (the API may invoke them)."""
    return {"FunctionName": function_name(stage, function),
            "ResizeFunction": function_name(stage, "resize_image"),
            "RenderFunction": function_name(stage, "render_variant")}


def write_stage_policies(
    stage: str, values: Mapping[str, str], wrap_sub: bool = False, name_stage: str | None = None,
    extra: list[dict] | tuple = (),
) -> list[Path]:
    """Write .chalice/policy-{stage}-{api,resize,sweeper,backfill}.json, the files config.json names.

    Each role may write only to its own function's log group, hence `${FunctionName}` (and the
    API invoke the resize function, `${ResizeFunction}`), built from `name_stage` (the
    CloudFormation path passes `${Stage}`). `extra` is one more
    statements for every role (VPC_ACCESS, XRAY_WRITE, or CloudFormation's conditional forms).
    """
    paths = []
    for function, short in FUNCTIONS.items():
        path = CHALICE_DIR / f"policy-{stage}-{short}.json"
        named = {**values, **function_values(name_stage or stage, function)}
        policy = cast(dict, render(policy_template(function), named, wrap_sub))  # a dict renders to a dict
        policy["Statement"].extend(extra)
        path.write_text(json.dumps(policy, indent=2) + "\n")
        paths.append(path)
    return paths
