"""Rules AWS enforces that the local emulator (moto) does not, checked in front of it.

As imgpipe/postpolicy.py does for S3's POST policies: the deploy rehearsal
(deploy/rehearsal.py) hooks these onto its boto3 clients, so a call that AWS
would refuse is refused here too, with a sentence saying why. Each rule is
also a plain function the tests call on a template.
"""

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, cast
from urllib.parse import urlsplit

from deploy.indexes import index_changes, table_indexes

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sns import SNSClient

# CloudFormation's limit on TemplateBody; a larger template must come from S3 (TemplateURL).
TEMPLATE_BODY_LIMIT = 51_200
# ... and on a template read from S3 (TemplateURL): "1 MB" in CloudFormation's quotas, taken as 10^6.
TEMPLATE_URL_LIMIT = 1_000_000
IAM_TYPES = {"AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::User",
             "AWS::IAM::Group", "AWS::IAM::InstanceProfile", "AWS::IAM::AccessKey"}
# A custom name on one of these needs CAPABILITY_NAMED_IAM.
IAM_NAMES = {"RoleName", "ManagedPolicyName", "UserName", "GroupName", "InstanceProfileName"}


class RuleBrokenError(Exception):
    """A call AWS would refuse; the message is a sentence for the person deploying."""


def needed_capabilities(template: dict) -> set[str]:
    """The Capabilities a create/update of `template` must acknowledge."""
    needed = set()
    for resource in template.get("Resources", {}).values():
        kind = resource.get("Type", "")
        if kind in IAM_TYPES:
            needed.add("CAPABILITY_IAM")
            if IAM_NAMES & set(resource.get("Properties", {})):
                needed.add("CAPABILITY_NAMED_IAM")
        elif kind.startswith("AWS::Serverless::"):
            needed.update({"CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"})
    if "Transform" in template:
        needed.add("CAPABILITY_AUTO_EXPAND")
    return needed


def check_stack_call(stack: str, body: str, capabilities: Iterable[str], inline: bool = True) -> None:
    """Refuse what CloudFormation refuses before it starts: an inline body over its limit (`inline`:
    passed as TemplateBody, not read from TemplateURL), IAM unacknowledged."""
    size = len(body.encode())
    if inline and size > TEMPLATE_BODY_LIMIT:
        raise RuleBrokenError(
            f"The template of stack {stack} is {size} bytes; CloudFormation takes at most "
            f"{TEMPLATE_BODY_LIMIT} bytes as TemplateBody: upload it to S3 and pass TemplateURL."
        )
    if not inline and size > TEMPLATE_URL_LIMIT:
        raise RuleBrokenError(
            f"The template of stack {stack} is {size} bytes; CloudFormation reads at most "
            f"{TEMPLATE_URL_LIMIT} bytes from TemplateURL: split it into nested stacks."
        )
    missing = needed_capabilities(json.loads(body)) - set(capabilities)
    # CAPABILITY_NAMED_IAM includes CAPABILITY_IAM.
    if "CAPABILITY_NAMED_IAM" in set(capabilities):
        missing.discard("CAPABILITY_IAM")
    if missing:
        raise RuleBrokenError(
            f"CloudFormation refuses stack {stack} (InsufficientCapabilities): it creates IAM resources "
            f"and the call does not acknowledge {', '.join(sorted(missing))}."
        )


def template_url_location(url: str) -> tuple[str, str]:
    """(bucket, key) of an S3 TemplateURL, virtual-hosted or path style."""
    parts = urlsplit(url)
    if parts.netloc.startswith("s3.") or parts.netloc.startswith("s3-"):
        bucket, _, key = parts.path.lstrip("/").partition("/")
        return bucket, key
    return parts.netloc.split(".s3.")[0].split(".s3-")[0], parts.path.lstrip("/")


def stack_index_problems(stack: str, deployed: dict, template: dict) -> list[str]:
    """What CloudFormation refuses in an update of `deployed` to `template`: more than one global
    secondary index created or deleted on one table (a redefined index is both)."""
    problems = []
    wanted = table_indexes(template)
    for table, indexes in table_indexes(deployed).items():
        created, deleted = index_changes(indexes, wanted.get(table, indexes))
        if len(created) + len(deleted) > 1:
            change = ", ".join([f"add {name}" for name in created] + [f"drop {name}" for name in deleted])
            problems.append(
                f"CloudFormation refuses the update of stack {stack}: Cannot perform more than one GSI creation "
                f"or deletion in a single update (table {table}: {change}). Deploy one index change per "
                "update (deploy/index_steps.py; python -m deploy step-indexes).")
    return problems


def update_table_problem(table: str, updates: list[dict]) -> str | None:
    """What DynamoDB refuses in one UpdateTable: more than one index created or deleted."""
    changes = [u for u in updates if "Create" in u or "Delete" in u]
    if len(changes) <= 1:
        return None
    names = ", ".join(f"{'create' if 'Create' in u else 'delete'} {(u.get('Create') or u['Delete'])['IndexName']}"
                      for u in changes)
    return (f"DynamoDB refuses UpdateTable on {table} (ValidationException): it creates or deletes one "
            f"global secondary index per call, and this one asks for {len(changes)} ({names}).")


def _template_of(params: dict, s3: "S3Client | None") -> tuple[str | None, bool]:
    """(body, inline) of a stack call: TemplateBody, or the object its TemplateURL names, read back."""
    body, inline = params.get("TemplateBody"), True
    if body is None and params.get("TemplateURL") and s3 is not None:
        bucket, key = template_url_location(params["TemplateURL"])
        body, inline = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode(), False
    return body, inline


def enforce_on_cloudformation(cfn: "CloudFormationClient", s3: "S3Client | None" = None) -> None:
    """Refuse, on this boto3 client, the stack calls CloudFormation would refuse (check_stack_call,
    and on an update or an update's change set, stack_index_problems).

    A TemplateURL is read back from S3 (`s3`, a client of the same endpoint) to be checked.
    """
    def check(params: dict, **_: object) -> None:
        body, inline = _template_of(params, s3)
        if body is not None:
            check_stack_call(params["StackName"], body, params.get("Capabilities", []), inline)

    def check_indexes(params: dict, **_: object) -> None:
        body, _inline = _template_of(params, s3)
        if body is None or params.get("ChangeSetType") in ("CREATE", "IMPORT"):
            return
        try:
            deployed = cfn.get_template(StackName=params["StackName"])["TemplateBody"]
        except cfn.exceptions.ClientError:
            return  # no such stack: the call itself fails, or creates it
        deployed = deployed if isinstance(deployed, dict) else json.loads(deployed)
        problems = stack_index_problems(params["StackName"], deployed, json.loads(body))
        if problems:
            raise RuleBrokenError(problems[0])

    for operation in ("CreateStack", "UpdateStack"):
        cfn.meta.events.register(f"provide-client-params.cloudformation.{operation}", check)
    for operation in ("UpdateStack", "CreateChangeSet"):
        cfn.meta.events.register(f"provide-client-params.cloudformation.{operation}", check_indexes)


def enforce_on_dynamodb(dynamodb: "DynamoDBClient") -> None:
    """Refuse, on this boto3 client, an UpdateTable DynamoDB would refuse (update_table_problem)."""
    def check(params: dict, **_: object) -> None:
        problem = update_table_problem(params.get("TableName", ""), params.get("GlobalSecondaryIndexUpdates", []))
        if problem:
            raise RuleBrokenError(problem)

    dynamodb.meta.events.register("provide-client-params.dynamodb.UpdateTable", check)


def _refs(value: object) -> set[str]:
    """Logical ids a CloudFormation value points at (Ref, GetAtt, ${X} in Sub)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                found.add(inner.split(".")[0])
            elif key == "Fn::GetAtt":
                found.add(inner[0] if isinstance(inner, list) else inner.split(".")[0])
            elif key == "Fn::Sub":
                text = inner[0] if isinstance(inner, list) else inner
                found |= {m.split(".")[0] for m in _sub_names(text)}
                found |= _refs(inner[1] if isinstance(inner, list) else {})
            else:
                found |= _refs(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= _refs(inner)
    return found


def _sub_names(text: str) -> list[str]:
    return [name for name in re.findall(r"\$\{([^}!]+)\}", text) if "::" not in name]


def cloudformation_depends_on(template: dict, logical: str) -> set[str]:
    """Every resource `logical` waits for: DependsOn and references, transitively."""
    resources = template["Resources"]
    seen: set[str] = set()
    todo = [logical]
    while todo:
        resource = resources.get(todo.pop(), {})
        depends = resource.get("DependsOn", [])
        for name in ([depends] if isinstance(depends, str) else depends) + sorted(_refs(resource)):
            if name in resources and name not in seen:
                seen.add(name)
                todo.append(name)
    return seen


def logging_before_policy(template: dict) -> list[str]:
    """Buckets whose access logging CloudFormation may set before the target bucket's policy."""
    resources, problems = template["Resources"], []
    policies: dict[str, list[str]] = {}
    for name, resource in resources.items():
        if resource.get("Type") == "AWS::S3::BucketPolicy":
            policies.setdefault(next(iter(_refs(resource["Properties"]["Bucket"])), ""), []).append(name)
    for name, resource in resources.items():
        logging = resource.get("Properties", {}).get("LoggingConfiguration")
        if resource.get("Type") != "AWS::S3::Bucket" or not logging:
            continue
        targets = {t for t in _refs(logging) if resources.get(t, {}).get("Type") == "AWS::S3::Bucket"}
        waits = cloudformation_depends_on(template, name)
        for target in sorted(targets):
            if not set(policies.get(target, [])) & waits:
                problems.append(f"Bucket {name} sets its access logging to {target} without waiting for "
                                f"{target}'s bucket policy: S3 refuses logging to a target it may "
                                "not write to.")
    return problems


def _unquoted(node: object) -> object:
    """python-hcl2 keeps the quotes of string literals: drop them."""
    if isinstance(node, dict):
        return {_unquoted(k): _unquoted(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_unquoted(v) for v in node]
    if isinstance(node, str) and len(node) > 1 and node[0] == node[-1] == '"':
        return node[1:-1]
    return node


def terraform_resources(directory: Path) -> dict[str, dict[str, dict]]:
    """Every resource block of a Terraform folder (*.tf and chalice.tf.json): type -> name -> body."""
    import hcl2  # a development dependency, as the rehearsal is

    resources: dict[str, dict[str, dict]] = {}
    for path in sorted(directory.glob("*.tf")):
        for block in hcl2.loads(path.read_text()).get("resource", []):
            for kind, named in cast(dict, _unquoted(block)).items():  # hcl2 gives a block as a dict
                resources.setdefault(kind, {}).update(named)
    chalice = directory / "chalice.tf.json"
    if chalice.exists():
        for kind, named in json.loads(chalice.read_text())["resource"].items():
            resources.setdefault(kind, {}).update(named)
    return resources


TF_REFERENCE = re.compile(r"\b(aws_\w+)\.([\w-]+)")


def terraform_depends_on(resources: dict[str, dict[str, dict]], address: str) -> set[str]:
    """Addresses (type.name) a Terraform resource waits for: depends_on and references, transitively."""
    seen: set[str] = set()
    todo = [address]
    while todo:
        kind, _, name = todo.pop().partition(".")
        body = json.dumps(resources.get(kind, {}).get(name, {}))
        for found in TF_REFERENCE.findall(body):
            other = ".".join(found)
            if found[1] in resources.get(found[0], {}) and other not in seen:
                seen.add(other)
                todo.append(other)
    return seen


def terraform_logging_before_policy(resources: dict[str, dict[str, dict]]) -> list[str]:
    """aws_s3_bucket_logging resources that Terraform may apply before the target bucket's policy."""
    problems = []
    for name, body in resources.get("aws_s3_bucket_logging", {}).items():
        target = TF_REFERENCE.search(json.dumps(body.get("target_bucket", "")))
        policies = {f"aws_s3_bucket_policy.{policy}" for policy, policy_body in
                    resources.get("aws_s3_bucket_policy", {}).items()
                    if target and ".".join(target.groups()) in json.dumps(policy_body.get("bucket", ""))}
        if target and not policies & terraform_depends_on(resources, f"aws_s3_bucket_logging.{name}"):
            problems.append(f"aws_s3_bucket_logging.{name} may be applied before the policy of its target "
                            f"{'.'.join(target.groups())}: S3 refuses logging to a target it may "
                            "not write to.")
    return problems


CLOUDWATCH = "cloudwatch.amazonaws.com"
# AWS managed keys' policies admit only the account's own principals: CloudWatch cannot use them.
AWS_MANAGED_SNS_KEY = "alias/aws/sns"


def key_policy_admits_cloudwatch(policy: dict) -> bool:
    """Whether a KMS key policy lets CloudWatch encrypt for an SNS topic (GenerateDataKey*, Decrypt)."""
    allowed: set[str] = set()
    for statement in policy.get("Statement", []):
        principal = statement.get("Principal", {})
        services = principal.get("Service", []) if isinstance(principal, dict) else []
        services = [services] if isinstance(services, str) else services
        if statement.get("Effect") != "Allow" or CLOUDWATCH not in services:
            continue
        actions = statement.get("Action", [])
        allowed.update([actions] if isinstance(actions, str) else actions)
    return bool({"kms:*"} & allowed) or {"kms:GenerateDataKey*", "kms:Decrypt"} <= allowed


def topic_key_problem(topic: str, key: str, policy: dict | None) -> str | None:
    """Why CloudWatch could not publish to `topic` encrypted with `key` (policy: the key's policy)."""
    if not key:
        return None
    if key == AWS_MANAGED_SNS_KEY or key.endswith(":" + AWS_MANAGED_SNS_KEY):
        return (f"The alarm topic {topic} is encrypted with {AWS_MANAGED_SNS_KEY}, which CloudWatch may "
                "not use: every alarm action would fail without a word. Use a customer managed key.")
    if policy is not None and not key_policy_admits_cloudwatch(policy):
        return (f"The key of alarm topic {topic} does not let {CLOUDWATCH} call kms:GenerateDataKey* and "
                "kms:Decrypt: every alarm action would fail without a word.")
    return None


def cloudformation_alarm_topic_problems(template: dict) -> list[str]:
    """The same check on a template: topics named in alarm actions, and their keys' policies."""
    resources, problems = template["Resources"], []
    alarmed = set()
    for resource in resources.values():
        if resource.get("Type") == "AWS::CloudWatch::Alarm":
            alarmed |= _refs(resource["Properties"].get("AlarmActions", []))
    for name in sorted(alarmed):
        topic = resources.get(name, {})
        if topic.get("Type") != "AWS::SNS::Topic":
            continue
        key = topic["Properties"].get("KmsMasterKeyId", "")
        policy = None
        if isinstance(key, dict):
            key_resource = resources[next(iter(_refs(key)))]
            key, policy = key_resource.get("Type", "key"), key_resource["Properties"].get("KeyPolicy", {})
        problem = topic_key_problem(name, key, policy)
        if problem:
            problems.append(problem)
    return problems


def deployed_alarm_topic_problems(cloudwatch: "CloudWatchClient", sns: "SNSClient",
                                  kms: "KMSClient") -> list[str]:
    """The same check on what is deployed: every SNS alarm action, its topic's key and key policy."""
    topics = set()
    for page in cloudwatch.get_paginator("describe_alarms").paginate():
        for alarm in page["MetricAlarms"]:
            topics |= {arn for arn in alarm.get("AlarmActions", []) if arn.split(":")[2:3] == ["sns"]}
    problems = []
    for topic in sorted(topics):
        key = sns.get_topic_attributes(TopicArn=topic)["Attributes"].get("KmsMasterKeyId", "")
        policy = None
        if key and not key.endswith(AWS_MANAGED_SNS_KEY):
            key_id = kms.describe_key(KeyId=key)["KeyMetadata"]["KeyId"]
            policy = json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
        problem = topic_key_problem(topic, key, policy)
        if problem:
            problems.append(problem)
    return problems
