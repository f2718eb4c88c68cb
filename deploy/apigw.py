"""What API Gateway needs beyond Chalice's routes, for the CloudFormation paths.

Chalice creates the REST API and its stage but no usage plan, key, access log
or gateway responses. `chalice deploy` (path 1) gets them from a small stack
made of `api_resources()` plus `stage_patches()` on the stage Chalice owns;
the packaged template (path 2) merges the same resources and sets the stage
properties on RestAPI. Terraform (path 3) mirrors them in infra/terraform.
"""

import json
from typing import TYPE_CHECKING

from chalicelib.web import error_body

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import TypedDict

    from mypy_boto3_apigateway import APIGatewayClient
    from mypy_boto3_apigateway.literals import GatewayResponseTypeType
    from mypy_boto3_apigateway.type_defs import PatchOperationTypeDef

    class GatewayResponse(TypedDict, total=False):
        """One entry of the swagger extension; its keys are put_gateway_response's parameters."""

        statusCode: str
        responseParameters: Mapping[str, str]
        responseTemplates: Mapping[str, str]

# API Gateway answers these itself, before any Lambda runs; without a gateway
# response they come out as {"message": ...} instead of the API's error shape.
GATEWAY_ERRORS: "dict[GatewayResponseTypeType, tuple[int | None, str, str]]" = {
    "DEFAULT_4XX": (None, "bad_request", "The request was not accepted."),
    "DEFAULT_5XX": (None, "internal_error", "An internal error occurred."),
    # An unknown route looks like a missing key to API Gateway: say what it is.
    "MISSING_AUTHENTICATION_TOKEN": (404, "not_found", "No such route."),
    "API_CONFIGURATION_ERROR": (None, "internal_error", "An internal error occurred."),
    "INVALID_API_KEY": (403, "forbidden", "A valid API key is required (x-api-key header)."),
    "UNAUTHORIZED": (401, "unauthorized", "Sign in: a valid token is required."),
    "ACCESS_DENIED": (403, "forbidden", "You are not allowed to do this."),
    "EXPIRED_TOKEN": (403, "forbidden", "The token has expired."),
    "INVALID_SIGNATURE": (403, "forbidden", "The request signature is not valid."),
    "THROTTLED": (429, "throttled", "Too many requests: slow down and retry."),
    "QUOTA_EXCEEDED": (429, "quota_exceeded", "The request quota is used up."),
    "REQUEST_TOO_LARGE": (413, "payload_too_large", "The request is too large."),
    "UNSUPPORTED_MEDIA_TYPE": (415, "unsupported_media_type", "The content type is not supported."),
    "INTEGRATION_TIMEOUT": (504, "timeout", "The request took too long."),
}
NOSNIFF = {"gatewayresponse.header.X-Content-Type-Options": "'nosniff'"}


def error_template(code: str, message: str) -> str:
    return json.dumps(error_body(code, message))


def gateway_responses() -> "dict[GatewayResponseTypeType, GatewayResponse]":
    """The swagger `x-amazon-apigateway-gateway-responses` extension (paths 2 and 3)."""
    responses = {}
    for kind, (status, code, message) in GATEWAY_ERRORS.items():
        response: GatewayResponse = {
            "responseParameters": NOSNIFF,
            "responseTemplates": {"application/json": error_template(code, message)},
        }
        if status is not None:
            response["statusCode"] = str(status)
        responses[kind] = response
    return responses


def api_resources(rest_api_id: object, stage: object) -> dict[str, dict]:
    """Usage plan with throttling, one API key, the access log group (CloudFormation).

    The plan is only attached when AUTH=api_key; it is harmless otherwise.
    """
    return {
        "ApiKey": {
            "Type": "AWS::ApiGateway::ApiKey",
            "Properties": {"Enabled": True, "Name": {"Fn::Sub": "imgpipe-${Stage}-default"}},
        },
        "UsagePlan": {
            "Type": "AWS::ApiGateway::UsagePlan",
            "Properties": {
                "UsagePlanName": {"Fn::Sub": "imgpipe-${Stage}"},
                "ApiStages": [{"ApiId": rest_api_id, "Stage": stage}],
                "Throttle": {"RateLimit": {"Ref": "ThrottleRate"}, "BurstLimit": {"Ref": "ThrottleBurst"}},
            },
        },
        "UsagePlanKey": {
            "Type": "AWS::ApiGateway::UsagePlanKey",
            "Properties": {
                "KeyId": {"Ref": "ApiKey"}, "KeyType": "API_KEY", "UsagePlanId": {"Ref": "UsagePlan"}
            },
        },
    }


# One JSON line per request: who (key id, user), what, how it ended, how long.
ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "apiKeyId": "$context.identity.apiKeyId",
        "user": "$context.authorizer.principalId",
        "time": "$context.requestTime",
        "method": "$context.httpMethod",
        "path": "$context.resourcePath",
        "status": "$context.status",
        "errorType": "$context.error.responseType",
        "latencyMs": "$context.responseLatency",
        "bytes": "$context.responseLength",
    },
    separators=(",", ":"),
)


def stage_patches(
    rate: float, burst: int, access_log_arn: str, tracing: bool
) -> "list[PatchOperationTypeDef]":
    """update_stage operations for the stage `chalice deploy` created (path 1)."""
    return [
        {"op": "replace", "path": "/*/*/throttling/rateLimit", "value": str(rate)},
        {"op": "replace", "path": "/*/*/throttling/burstLimit", "value": str(burst)},
        {"op": "replace", "path": "/accessLogSettings/destinationArn", "value": access_log_arn},
        {"op": "replace", "path": "/accessLogSettings/format", "value": ACCESS_LOG_FORMAT},
        {"op": "replace", "path": "/tracingEnabled", "value": "true" if tracing else "false"},
    ]


def api_stack_template() -> dict:
    """Path 1's second stack: the API-side resources for the REST API Chalice made."""
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "imgpipe API key and usage plan for the REST API `chalice deploy` created.",
        "Parameters": {
            "Stage": {"Type": "String", "AllowedPattern": "^[a-z0-9-]{1,12}$"},
            "RestApiId": {"Type": "String", "Description": "From .chalice/deployed/<stage>.json."},
            "ThrottleRate": {"Type": "Number", "Description": "Requests per second, steady."},
            "ThrottleBurst": {"Type": "Number", "Description": "Requests at once."},
        },
        "Resources": api_resources({"Ref": "RestApiId"}, "api"),
        "Outputs": {"ApiKeyId": {"Value": {"Ref": "ApiKey"}}},
    }


def wire_api(
    client: "APIGatewayClient", rest_api_id: str, rate: float, burst: int, access_log_arn: str, tracing: bool
) -> None:
    """Gateway responses and stage settings on Chalice's API, then a deployment that includes them."""
    for kind, response in gateway_responses().items():
        # The swagger extension's keys are put_gateway_response's parameter names.
        client.put_gateway_response(restApiId=rest_api_id, responseType=kind, **response)
    client.create_deployment(restApiId=rest_api_id, stageName="api", description="imgpipe gateway responses")
    client.update_stage(restApiId=rest_api_id, stageName="api",
                        patchOperations=stage_patches(rate, burst, access_log_arn, tracing))
