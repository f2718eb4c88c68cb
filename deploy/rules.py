"""Rules AWS enforces that the local emulator (moto) does not, checked in front of it.

As imgpipe/postpolicy.py does for S3's POST policies: the deploy rehearsal
(deploy/rehearsal.py) hooks these onto its boto3 clients, so a call that AWS
would refuse is refused here too, with a sentence saying why. Each rule is
also a plain function the tests call on a template.
"""

import json
from collections.abc import Iterable

# CloudFormation's limit on TemplateBody; a larger template must come from S3 (TemplateURL).
TEMPLATE_BODY_LIMIT = 51_200
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


def check_stack_call(stack: str, body: str, capabilities: Iterable[str]) -> None:
    """Refuse what CloudFormation refuses before it starts: a body over its limit, IAM unacknowledged."""
    size = len(body.encode())
    if size > TEMPLATE_BODY_LIMIT:
        raise RuleBrokenError(
            f"The template of stack {stack} is {size} bytes; CloudFormation takes at most "
            f"{TEMPLATE_BODY_LIMIT} bytes as TemplateBody: upload it to S3 and pass TemplateURL."
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


def enforce_on_cloudformation(cfn, s3=None) -> None:
    """Refuse, on this boto3 client, the stack calls CloudFormation would refuse (check_stack_call).

    A TemplateURL is read back from S3 (`s3`, a client of the same endpoint) to be checked.
    """
    def check(params: dict, **_) -> None:
        body = params.get("TemplateBody")
        if body is None and params.get("TemplateURL") and s3 is not None:
            bucket, _, key = params["TemplateURL"].split("://", 1)[1].split("/", 1)[1].partition("/")
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        if body is not None:
            check_stack_call(params["StackName"], body, params.get("Capabilities", []))

    for operation in ("CreateStack", "UpdateStack"):
        cfn.meta.events.register(f"provide-client-params.cloudformation.{operation}", check)
