"""Path 1 (`make deploy`) rehearsed on a moto server: the checks before deploying, the resources
stack, the API key stack and the API wiring, with a stand-in REST API for Chalice's own deploy."""

import json
import time
from typing import TYPE_CHECKING

from deploy import apigw, build, indexes, preflight, rules
from deploy.rehearse_moto import REGION, Report, client

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudformation.type_defs import ParameterTypeDef
    from mypy_boto3_lambda import LambdaClient

# moto has no GetAccountSettings: the rehearsal answers as a new account's default quota would.
ACCOUNT_CONCURRENCY = 1000


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
    for problem in (preflight.alarm_recipient_problem(stage, settings, ""),
                    preflight.api_gateway_account_problem(client(endpoint, "apigateway"), settings),
                    preflight.concurrency_problem(lambda_client, stage, preflight.reserved_concurrency(stage))):
        if problem:
            report.problems.append(problem)
    report.steps.append("the checks before deploying (alarm recipient, API Gateway role, concurrency quota)")

    upload = (s3, aws.artifacts_bucket(s3, stage, "123456789012", REGION), REGION)
    stack = f"imgpipe-{stage}-resources"
    try:
        outputs = aws.deploy_resources(cfn, stack, aws.stack_parameters(stage), aws.resources_body(stage), upload)
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
    # As make deploy once Chalice has made the API: the CDN's /v/* origin is its domain.
    parameters = aws.with_api_domain(aws.stack_parameters(stage), aws.api_domain(rest_api, REGION))
    aws.deploy_resources(cfn, stack, parameters, aws.resources_body(stage), upload)
    report.steps.append(f"stack {stack} updated with the API's domain (ApiDomain, the CDN's /v/* origin)")
    # A second deploy of the same template changes nothing and must not fail.
    aws.deploy_resources(cfn, stack, parameters, aws.resources_body(stage), upload)
    report.steps.append(f"stack {stack} deployed again without changes")
    # The migration's last step (legacy_indexes false): two index deletions, one update each.
    dynamodb = client(endpoint, "dynamodb")
    rules.enforce_on_dynamodb(dynamodb)
    dropped = json.dumps(indexes.without_legacy_indexes(template), separators=(",", ":"))
    try:
        aws.deploy_resources(cfn, stack, parameters, dropped, upload, dynamodb)
    except rules.RuleBrokenError as exc:
        report.problems.append(str(exc))
    else:
        table = outputs["StatusTable"]
        found = {i["IndexName"] for i in dynamodb.describe_table(TableName=table)["Table"]["GlobalSecondaryIndexes"]}
        if found & set(indexes.LEGACY_INDEX_NAMES):
            report.problems.append(f"table {table} still has {', '.join(sorted(found))} after the legacy indexes' drop")
        else:
            report.steps.append(f"stack {stack}: the legacy indexes dropped, one stack update each")
    report.seconds = time.monotonic() - started
    return report
