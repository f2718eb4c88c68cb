"""Adapt Chalice's chalice.tf.json so that it applies with today's AWS provider.

Chalice 1.34 writes an API stage through `aws_api_gateway_deployment.stage_name`
(removed in provider 6, and a stage made that way takes no access log or
tracing settings), pins Terraform < 1.4, uses the `null` provider for nothing
but a data source, and lets the bucket notification race the Lambda
permission on first apply. infra/terraform/*.tf holds everything else.
"""

import json

from deploy import apigw
from deploy.policies import FUNCTION_ENV, FUNCTIONS, TERRAFORM, function_environment, function_name

NOTIFY_AFTER = "aws_lambda_permission.resize_image-s3event"
# The AWS provider reads empty subnet and security group lists as no VPC (the default). Not a
# `dynamic` block: checkov cannot parse one in JSON and would skip the whole file.
VPC_CONFIG = {"subnet_ids": "${var.subnet_ids}", "security_group_ids": "${var.security_group_ids}"}


API_INVOKE_REF = "${aws_lambda_function.api_handler.invoke_arn}"


def api_invoke_arn(stage: str) -> str:
    """What `aws_lambda_function.api_handler.invoke_arn` is, from the function's fixed name."""
    partition, region = "${data.aws_partition.chalice.partition}", "${data.aws_region.chalice.name}"
    function = (f"arn:{partition}:lambda:{region}:${{data.aws_caller_identity.chalice.account_id}}:"
                f"function:{function_name(stage, 'api_handler')}")
    return f"arn:{partition}:apigateway:{region}:lambda:path/2015-03-31/functions/{function}/invocations"


def adapt(doc: dict, stage: str) -> dict:
    """chalice.tf.json for `stage`, rewritten; the input is left untouched."""
    doc = json.loads(json.dumps(doc))
    del doc["terraform"]  # versions_override.tf pins Terraform and the provider
    doc["data"].pop("null_data_source", None)
    resources = doc["resource"]

    # The integrations name the API function's invoke ARN written out, not a reference: with the CDN's
    # /v/* origin on the API and CDN_DOMAIN on the function, a reference closes a cycle (build.py).
    if API_INVOKE_REF not in doc["locals"]["chalice_api_swagger"]:
        raise SystemExit(f"chalice package no longer names the API function as {API_INVOKE_REF}; "
                         "deploy/terraform.py must learn its new form.")
    doc["locals"]["chalice_api_swagger"] = doc["locals"]["chalice_api_swagger"].replace(
        API_INVOKE_REF, api_invoke_arn(stage))
    swagger = json.loads(doc["locals"]["chalice_api_swagger"])
    swagger["x-amazon-apigateway-gateway-responses"] = apigw.gateway_responses()
    doc["locals"]["chalice_api_swagger"] = json.dumps(swagger)
    rest_api = resources["aws_api_gateway_rest_api"]["rest_api"]
    rest_api["name"] = "imgpipe-${var.stage}"
    rest_api["lifecycle"] = {"create_before_destroy": True}

    deployment = resources["aws_api_gateway_deployment"]["rest_api"]
    deployment.pop("stage_name")
    deployment.pop("stage_description", None)
    deployment["triggers"] = {"redeployment": "${md5(local.chalice_api_swagger)}"}
    resources["aws_api_gateway_stage"] = {
        "rest_api": {
            "stage_name": "api",
            "rest_api_id": "${aws_api_gateway_rest_api.rest_api.id}",
            "deployment_id": "${aws_api_gateway_deployment.rest_api.id}",
            "xray_tracing_enabled": "${var.tracing}",
            "access_log_settings": {
                "destination_arn": "${aws_cloudwatch_log_group.api_access.arn}",
                "format": apigw.ACCESS_LOG_FORMAT,
            },
            # API Gateway refuses access log settings until its account role is set.
            "depends_on": ["aws_api_gateway_account.logs"],
        }
    }
    doc["output"]["EndpointURL"] = {"value": "${aws_api_gateway_stage.rest_api.invoke_url}"}

    # Each function writes to a log group made beforehand, with retention; its
    # role may not create one.
    groups = resources.setdefault("aws_cloudwatch_log_group", {})
    for function in FUNCTIONS:
        groups[function] = {
            "name": f"/aws/lambda/{function_name(stage, function)}",
            "retention_in_days": "${var.log_retention_days}",
        }
        lambda_function = resources["aws_lambda_function"][function]
        # vpc.tf: the ENI grant must exist before Lambda creates the function in the VPC; Lambda
        # also checks that the role may send to a dead-letter queue (the sweeper's) at creation.
        lambda_function["depends_on"] = [
            f"aws_cloudwatch_log_group.{function}", "aws_iam_role_policy.vpc_access",
            f"aws_iam_role_policy.{function}_role",
        ]
        lambda_function["vpc_config"] = dict(VPC_CONFIG)
        # Not in config.json: Chalice imports app.py with the stage's environment to package it.
        lambda_function["environment"]["variables"]["TRACING"] = "${var.tracing}"
        lambda_function["tracing_config"] = {"mode": '${var.tracing ? "Active" : "PassThrough"}'}
    functions = resources["aws_lambda_function"]
    values = {
        **TERRAFORM,
        # delivery.tf: empty without var.cdn (presigned GETs then).
        "CdnDomain": "${join(\"\", aws_cloudfront_distribution.cdn[*].domain_name)}",
        "ResizeFunction": "${aws_lambda_function.resize_image.function_name}",
        "CdnDistributionId": "${join(\"\", aws_cloudfront_distribution.cdn[*].id)}",  # invalidation.tf
        "RenderFunction": "${aws_lambda_function.render_variant.function_name}",
    }
    for function in FUNCTION_ENV:
        functions[function]["environment"]["variables"].update(function_environment(function, values))
    if functions["api_handler"]["environment"]["variables"].get("AUTH") == "cognito":
        # users.tf: the pool the stack makes, or var.cognito_user_pool_arn's; the page signs in there.
        functions["api_handler"]["environment"]["variables"].update(
            ADMIN_GROUP="${var.admin_group}", SIGN_IN_URL="${local.sign_in_url}",
            SIGN_IN_CLIENT_ID="${local.sign_in_client_id}")
    resources["aws_lambda_function"]["sweep_stuck_images"]["dead_letter_config"] = {
        "target_arn": "${aws_sqs_queue.dead_letter.arn}"
    }
    # S3 checks that it may invoke the function when the notification is set.
    resources["aws_s3_bucket_notification"]["input_notify"]["depends_on"] = [NOTIFY_AFTER]
    return doc
