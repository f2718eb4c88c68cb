"""Deploy a stack's index changes one at a time (deploy/indexes.py plans them), then the rest.

Used by path 1 before it updates the resources stack, and by `python -m deploy step-indexes`
for path 2's stack. Each step is a stack update of the deployed template with one index more
or less, with the stack's previous parameter values; the next waits until the update is
complete and every index of the table is ACTIVE (DynamoDB builds a new index from the
table's records in the background, and takes no other index change meanwhile).
"""

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from deploy.indexes import Step, index_steps, table_indexes

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudformation.literals import CapabilityType
    from mypy_boto3_cloudformation.type_defs import ParameterTypeDef
    from mypy_boto3_dynamodb import DynamoDBClient

# Every stack touched here creates IAM resources (deploy/aws.py's CAPABILITIES, and path 2's
# SAM transform): acknowledged as `make deploy` and DEPLOY.md's path 2 command do.
CAPABILITIES: "list[CapabilityType]" = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
INDEX_POLL_SECONDS = 20


def deployed_template(cfn: "CloudFormationClient", stack: str) -> dict:
    """The stack's template as deployed (its original text, before any transform)."""
    body = cfn.get_template(StackName=stack, TemplateStage="Original")["TemplateBody"]
    if isinstance(body, dict):  # botocore parses a JSON body itself
        return body
    try:
        return json.loads(body)
    except ValueError:  # path 2's `aws cloudformation package` writes YAML (of JSON, so no short tags)
        import yaml  # type: ignore[import-untyped]  # cfn-lint's dependency; path 2's tooling is for development

        loaded: dict = yaml.safe_load(body)
        return loaded


def previous_parameters(cfn: "CloudFormationClient", stack: str) -> "list[ParameterTypeDef]":
    """The stack's parameters at their deployed values; a NoEcho one (shown as ****) by UsePreviousValue."""
    described = cfn.describe_stacks(StackName=stack)["Stacks"][0].get("Parameters", [])
    return [{"ParameterKey": p["ParameterKey"], "UsePreviousValue": True} if p.get("ParameterValue") == "****"
            else {"ParameterKey": p["ParameterKey"], "ParameterValue": p.get("ParameterValue", "")} for p in described]


def live_index_problem(dynamodb: "DynamoDBClient", table: str, expected: set[str]) -> str | None:
    """Why stepping from the deployed template would fail: the table has other indexes than it says."""
    found = {i["IndexName"] for i in dynamodb.describe_table(TableName=table)["Table"].get(
        "GlobalSecondaryIndexes", [])}
    if found == expected:
        return None
    return (f"Table {table} has the indexes {', '.join(sorted(found)) or 'none'}, but its stack's template "
            f"says {', '.join(sorted(expected)) or 'none'}: an index was added or dropped outside the stack "
            "(or a rolled-back update left one). Make them agree (aws dynamodb update-table, or the stack) "
            "and deploy again.")


def wait_for_indexes(dynamodb: "DynamoDBClient", table: str, timeout: float,
                     sleep: Callable[[float], None] = time.sleep) -> None:
    """Until the table is ACTIVE and every index of it too (a deleted one gone)."""
    deadline = time.monotonic() + timeout
    while True:
        described = dynamodb.describe_table(TableName=table)["Table"]
        busy = [i["IndexName"] for i in described.get("GlobalSecondaryIndexes", []) if i.get("IndexStatus") != "ACTIVE"]
        if described.get("TableStatus") == "ACTIVE" and not busy:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"Table {table}'s indexes {', '.join(busy)} are not ACTIVE after {timeout:.0f} s; "
                             "run the deploy again once they are (aws dynamodb describe-table).")
        sleep(INDEX_POLL_SECONDS)


def step_indexes(cfn: "CloudFormationClient", dynamodb: "DynamoDBClient", stack: str, target: dict,
                 source: Callable[[str], dict[str, str]], say: Callable[[str], None] = print,
                 timeout: float = 6 * 3600) -> list[Step]:
    """Deploy the index steps from `stack`'s deployed template to `target`'s indexes; the steps done.

    `source` turns a template body into TemplateBody or TemplateURL (deploy/aws.py's
    template_source). Nothing is done when one update can make the change.
    """
    deployed = deployed_template(cfn, stack)
    steps = index_steps(deployed, target)
    if not steps:
        return []
    tables = {step.table for step in steps}
    physical = {summary["LogicalResourceId"]: summary.get("PhysicalResourceId", "")
                for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack)
                for summary in page["StackResourceSummaries"] if summary["LogicalResourceId"] in tables}
    for logical in tables:
        problem = live_index_problem(dynamodb, physical[logical], set(table_indexes(deployed)[logical]))
        if problem:
            raise SystemExit(problem)
    say(f"Stack {stack}: CloudFormation adds or drops one index per update, so its indexes change "
        f"in {len(steps)} updates before the rest of the deploy.")
    for number, step in enumerate(steps, 1):
        table = physical[step.table]
        wait_for_indexes(dynamodb, table, timeout)
        say(f"  {number}/{len(steps)}: {step.text()} ({table})")
        update: Callable[..., object] = cfn.update_stack  # TemplateBody or TemplateURL, from `source`
        update(StackName=stack, Parameters=previous_parameters(cfn, stack), Capabilities=CAPABILITIES,
               **source(json.dumps(step.template, separators=(",", ":"))))
        cfn.get_waiter("stack_update_complete").wait(
            StackName=stack, WaiterConfig={"Delay": 15, "MaxAttempts": int(timeout // 15)})
        wait_for_indexes(dynamodb, table, timeout)
    return steps


def write_steps(deployed: dict, target: dict, out: Path) -> list[tuple[Step, Path]]:
    """Path 2 by hand: each step's template as a file in `out` (step-1.json, …)."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for number, step in enumerate(index_steps(deployed, target), 1):
        path = out / f"step-{number}.json"
        path.write_text(json.dumps(step.template, indent=1) + "\n")
        written.append((step, path))
    return written


def command(stack: str, template: Path, out: Path, apply: bool, bucket: str) -> None:
    """`python -m deploy step-indexes`: path 2's index steps, written out (and deployed with `apply`)."""
    import boto3

    from deploy.aws import template_source

    session = boto3.session.Session()
    cfn = session.client("cloudformation")
    target = json.loads(template.read_text())
    deployed = deployed_template(cfn, stack)
    written = write_steps(deployed, target, out)
    if not written:
        print(f"Stack {stack}: at most one index changes; deploy {template} as usual.")
        return
    if apply:
        upload = (session.client("s3"), bucket, session.region_name) if bucket else None
        step_indexes(cfn, session.client("dynamodb"), stack, target,
                     lambda body: template_source(body, stack, upload))
        print(f"Stack {stack} has its new indexes; now deploy {template} as usual.")
        return
    print(f"Stack {stack}: CloudFormation adds or drops one index per update. Deploy these in turn, each once "
          "the last has finished and every index of the table is ACTIVE, then your template as usual:")
    for step, path in written:
        print(f"  # {step.text()}\n  aws cloudformation deploy --stack-name {stack} --template-file {path} "
              f"--s3-bucket {bucket or 'BUCKET'} --capabilities {' '.join(CAPABILITIES)}")
    print("  # between steps: aws dynamodb describe-table --table-name TABLE "
          "--query 'Table.GlobalSecondaryIndexes[].[IndexName,IndexStatus]'")
