"""Fixtures: in-process AWS (moto), the Chalice test client, and Pillow-made images.

The environment is set before app.py is imported (its S3 event decorator
needs INPUT_BUCKET), and AWS_ENDPOINT_URL is removed so that boto3 talks to
moto, never to a local stack or to AWS.
"""

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

TEST_ENV = {
    "INPUT_BUCKET": "imgpipe-test-input",
    "OUTPUT_BUCKET": "imgpipe-test-output",
    "STATUS_TABLE": "imgpipe-test-status",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "MOTO_DISABLE_GLOBAL_CORS": "true",
}
os.environ.update(TEST_ENV)
for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "RENDITIONS", "OUTPUT_FORMATS", "ALLOWED_ORIGINS"):
    os.environ.pop(name, None)

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

import app as app_module  # noqa: E402
from chalicelib.observability import metrics  # noqa: E402
from chalicelib.status import create_table  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "corpus"
# Environment variables each test may change; restored after every test.
CONFIG_VARS = (
    "RESIZE_WIDTH", "RESIZE_HEIGHT", "RENDITIONS", "OUTPUT_FORMATS", "MAX_UPLOAD_BYTES",
    "MAX_PIXELS", "UPLOAD_URL_TTL", "ALLOWED_ORIGINS", "PROCESSING_LEASE_SECONDS", "MAX_ATTEMPTS",
    "CDN_DOMAIN", "RESIZE_FUNCTION", "RENDER_FUNCTION",
    "EVENT_BUS_NAME", "WEBHOOK_SECRET_ARN", "UNSAFE_LOCAL_WEBHOOKS",
    "VARIANT_SECRET_ARN", "VARIANT_MAX_PIXELS", "VARIANT_MAX_DPR", "VARIANT_WIDTHS", "VARIANT_PRESETS",
    "VARIANT_STRICT",
    "UPLOADS_PER_DAY", "UPLOAD_BYTES_PER_DAY", "CDN_DISTRIBUTION_ID",
)


def shared_corpus(*parts: str) -> Path:
    """A path in ../shared/corpus, or skip: a user's clone has no ../shared."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent (only the development checkout has ../shared)")
    return path


def reset_app_clients() -> None:
    for getter in (app_module.get_settings, app_module.get_storage,
                   app_module.get_status_store, app_module.get_pipeline, app_module.get_invoker,
                   app_module.get_notifier, app_module.get_variants, app_module.get_usage,
                   app_module.get_cdn, app_module.get_renderer):
        getter.cache_clear()


@pytest.fixture(autouse=True)
def _config_env(monkeypatch):
    for name in CONFIG_VARS:
        monkeypatch.delenv(name, raising=False)
    reset_app_clients()
    # Metrics added outside a handler invocation (a test calling the pipeline directly) are
    # never flushed: they would join the next test's EMF document.
    metrics.clear_metrics()
    yield
    reset_app_clients()


@dataclass
class Aws:
    s3: Any
    dynamodb: Any
    sqs: Any
    queue_url: str

    def put(self, key: str, body: bytes, bucket: str = TEST_ENV["INPUT_BUCKET"], **extra) -> None:
        self.s3.put_object(Bucket=bucket, Key=key, Body=body, **extra)

    def output(self, key: str) -> tuple[bytes, dict]:
        obj = self.s3.get_object(Bucket=TEST_ENV["OUTPUT_BUCKET"], Key=key)
        return obj["Body"].read(), obj

    def output_keys(self) -> list[str]:
        listing = self.s3.list_objects_v2(Bucket=TEST_ENV["OUTPUT_BUCKET"])
        return sorted(o["Key"] for o in listing.get("Contents", []))

    def received_events(self) -> list[dict]:
        """The S3 notification messages moto sent to the queue since the last call."""
        events = []
        while True:
            got = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
            messages = got.get("Messages", [])
            if not messages:
                return events
            for message in messages:
                events.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def aws():
    """Buckets, the status table and S3 → SQS notifications, all in moto."""
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        for bucket in (TEST_ENV["INPUT_BUCKET"], TEST_ENV["OUTPUT_BUCKET"]):
            s3.create_bucket(Bucket=bucket)
        create_table(dynamodb, TEST_ENV["STATUS_TABLE"])
        queue_url = sqs.create_queue(QueueName="imgpipe-test-events")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        s3.put_bucket_notification_configuration(
            Bucket=TEST_ENV["INPUT_BUCKET"],
            NotificationConfiguration={
                "QueueConfigurations": [{"QueueArn": queue_arn,
                                         "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]}]
            },
        )
        reset_app_clients()
        yield Aws(s3, dynamodb, sqs, queue_url)


@pytest.fixture
def client(aws):
    from chalice.test import Client

    with Client(app_module.app, stage_name="test") as test_client:
        yield test_client


def invoke_handler(client, event: dict):
    return client.lambda_.invoke("resize_image", event)


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory):
    """`python -m imgpipe run` on free ports, shared by the end-to-end tests.

    --max-receives 2 so that a poisoned event reaches the dead-letter queue in seconds.
    """
    from imgpipe.stackprocess import StackProcess

    with StackProcess(tmp_path_factory.mktemp("shared-stack") / "state", "--max-receives", "2") as stack:
        yield stack
