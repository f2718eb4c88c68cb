"""What path 1 checks before it makes anything: each check returns why AWS would refuse the
deploy, or break the stage, in a sentence for the person deploying (None: go ahead)."""

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from deploy.build import load_config
from deploy.policies import FUNCTIONS, function_name

if TYPE_CHECKING:
    from mypy_boto3_apigateway import APIGatewayClient
    from mypy_boto3_lambda import LambdaClient

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


def alarm_recipient_problem(stage: str, settings: dict, alarm_topic_arn: str) -> str | None:
    """prod must tell someone when an alarm fires: an e-mail address or an existing topic."""
    if stage != "prod" or settings["alarm_email"] or alarm_topic_arn or settings["alarm_topic_arn"]:
        return None
    return (f"Stage {stage} has no one to tell when an alarm fires: fill alarm_email (an address the stack "
            f"subscribes) or alarm_topic_arn (an SNS topic of yours) for {stage} in infra/stages.json, or "
            "pass --alarm-topic-arn.")


# Lambda keeps this much of the account's concurrency unreserved; a reservation below it is refused.
MIN_UNRESERVED = 100


def reserved_concurrency(stage: str) -> dict[str, int]:
    """The stage's reservations (.chalice/config.json, reserved_concurrency per function)."""
    functions = load_config()["stages"][stage].get("lambda_functions", {})
    return {name: f["reserved_concurrency"] for name, f in functions.items() if f.get("reserved_concurrency")}


def live_legacy_reads_problem(lambda_client: "LambdaClient", stage: str, settings: dict) -> str | None:
    """The functions running now must not read what this deploy drops: the indexes go before
    `chalice deploy` replaces the code, so step 3 of the migration (STATUS_READS=sharded) must
    already be live when legacy_indexes turns false (docs/DATA-MODEL.md, Migrating a table)."""
    if settings.get("legacy_indexes", True):
        return None
    for function in FUNCTIONS:
        try:
            config = lambda_client.get_function_configuration(FunctionName=function_name(stage, function))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                continue  # not deployed yet: nothing reads the indexes
            raise
        if config.get("Environment", {}).get("Variables", {}).get("STATUS_READS", "").strip().lower() == "legacy":
            return (f"The deployed function {function_name(stage, function)} still reads the unsharded indexes "
                    "(STATUS_READS=legacy), and this deploy drops them (legacy_indexes false in "
                    "infra/stages.json) before it replaces the code. Deploy STATUS_READS=sharded first with "
                    "legacy_indexes true, then set legacy_indexes to false and deploy again.")
    return None


def concurrency_problem(lambda_client: "LambdaClient", stage: str, wanted: dict[str, int]) -> str | None:
    """Why Lambda would refuse the stage's reservations (GetAccountSettings), before anything is made."""
    limits = lambda_client.get_account_settings()["AccountLimit"]
    held = 0  # what this stage's functions reserve today is given back when they are updated
    for function in wanted:
        try:
            held += lambda_client.get_function_concurrency(
                FunctionName=function_name(stage, function)).get("ReservedConcurrentExecutions", 0)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
    free = limits["UnreservedConcurrentExecutions"] + held
    total = sum(wanted.values())
    if free - total >= MIN_UNRESERVED:
        return None
    each = ", ".join(f"{name} {n}" for name, n in sorted(wanted.items()))
    return (f"Stage {stage} reserves {total} concurrent executions ({each}), but this account allows "
            f"{limits['ConcurrentExecutions']} in this region, of which {free} are free and Lambda keeps "
            f"{MIN_UNRESERVED} unreserved: at most {max(free - MIN_UNRESERVED, 0)} can be reserved. Lower "
            f"reserved_concurrency for stage {stage} in .chalice/config.json (remove it to reserve none), "
            "or ask for a higher 'Concurrent executions' quota in Service Quotas.")


def api_gateway_account_problem(apigateway: "APIGatewayClient", settings: dict) -> str | None:
    """Why the API stage's access log would be refused: no account-wide CloudWatch role yet."""
    if settings["api_gateway_account"] or apigateway.get_account().get("cloudwatchRoleArn"):
        return None
    return ("API Gateway has no CloudWatch role in this account and region, so it refuses the stage's "
            "access log. Set it once per account and region (see the README's deploy section), or set "
            "api_gateway_account to true in infra/stages.json for one stage that will own it.")
