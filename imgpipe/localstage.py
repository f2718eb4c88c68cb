"""The `local` stage as `make run`'s stack and the CLI both see it: its environment from
.chalice/config.json, what points boto3 at the emulator, its queue names, and the bus, rule
and secrets a deployed stage has (infra/). Light on purpose: the CLI imports it without the stack.
"""

import json
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sqs import SQSClient

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
REGION = "us-east-1"
STAGE = "local"
# The dummy credentials of the local stack; form POSTs must be signed with them.
ACCESS_KEY_ID = SECRET_ACCESS_KEY = "local"


def stage_environment(stage: str = STAGE) -> dict[str, str]:
    """The environment variables chalice gives the app for `stage`."""
    config = json.loads((ROOT / ".chalice" / "config.json").read_text("utf-8"))
    return {**config.get("environment_variables", {}),
            **config["stages"][stage].get("environment_variables", {})}


def aws_environment(aws_port: int) -> dict[str, str]:
    """What points boto3 (and the AWS CLI) at the emulator instead of AWS."""
    return {
        "AWS_ENDPOINT_URL": f"http://{HOST}:{aws_port}",
        "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }


def queue_names(env: dict[str, str]) -> tuple[str, str]:
    """(events queue, dead-letter queue), named after the stage's input bucket."""
    return f"{env['INPUT_BUCKET']}-events", f"{env['INPUT_BUCKET']}-dead"


def events_queue_name(env: dict[str, str]) -> str:
    """The queue the local bus's rule sends every imgpipe event to (`imgpipe-events-local`)."""
    return f"imgpipe-events-{STAGE}" if env.get("EVENT_BUS_NAME") else ""


def provision_notifications(env: dict[str, str], sqs: "SQSClient", events: "EventBridgeClient",
                            secretsmanager: "SecretsManagerClient", state_dir: Path) -> str | None:
    """The bus, a rule for source `imgpipe` into a queue, and the webhook secret, as a
    deployed stage has them (infra/); returns the queue's URL. The secret's value is made
    once and kept in the state dir, so a receiver's copy still verifies after a restart."""
    queue_url = None
    if env.get("EVENT_BUS_NAME"):
        bus = env["EVENT_BUS_NAME"]
        queue_url = sqs.create_queue(QueueName=events_queue_name(env))["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        rule = f"{bus}-all-images"
        events.create_event_bus(Name=bus)
        events.put_rule(Name=rule, EventBusName=bus, EventPattern=json.dumps({"source": ["imgpipe"]}))
        events.put_targets(Rule=rule, EventBusName=bus, Targets=[{"Id": "queue", "Arn": arn}])
    if env.get("WEBHOOK_SECRET_ARN"):
        secretsmanager.create_secret(Name=env["WEBHOOK_SECRET_ARN"], SecretString=kept_secret(state_dir, "webhook"))
    if env.get("VARIANT_SECRET_ARN"):  # on-demand variant URLs stay valid across restarts
        secretsmanager.create_secret(Name=env["VARIANT_SECRET_ARN"], SecretString=kept_secret(state_dir, "variant"))
    return queue_url


def kept_secret(state_dir: Path, name: str) -> str:
    """The local stage's `name` secret (webhook or variant signing), made once and kept in the
    state dir (`{name}-secret`, mode 600), so what was signed before a restart still verifies
    (`python -m imgpipe url` signs with the variant one)."""
    path = state_dir / f"{name}-secret"
    if not path.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(32), "utf-8")
    return path.read_text("utf-8").strip()
