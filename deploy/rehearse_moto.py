"""What every rehearsed deploy path shares: a fresh moto server on a free 127.0.0.1 port, typed boto3
clients on it with the test credentials, and the Report a path fills."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, overload

if TYPE_CHECKING:
    from botocore.client import BaseClient
    from mypy_boto3_apigateway import APIGatewayClient
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sns import SNSClient

REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_DEFAULT_REGION": REGION}


@dataclass
class Report:
    """What a rehearsal of one path did: its steps, what it skipped and why, what AWS would refuse."""

    path: str
    steps: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def text(self) -> str:
        lines = [f"{self.path}: {'PASSED' if not self.problems else 'FAILED'} in {self.seconds:.0f} s"]
        lines += [f"  done: {step}" for step in self.steps]
        lines += [f"  SKIPPED {skip}" for skip in self.skipped]
        lines += [f"  PROBLEM {problem}" for problem in self.problems]
        return "\n".join(lines)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def moto_server() -> Iterator[str]:
    """A fresh moto server on a free 127.0.0.1 port, AWS's managed IAM policies loaded; yields its URL."""
    port = free_port()
    env = {**os.environ, **CREDENTIALS, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}
    # moto.server with the table update moto's CloudFormation lacks (deploy/moto_tables.py).
    server = subprocess.Popen([sys.executable, "-m", "deploy.moto_tables", "-H", "127.0.0.1", "-p", str(port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              cwd=Path(__file__).resolve().parents[1])
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90  # loading the managed policies takes a while on a busy machine
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


# The services the rehearsal calls; each has its boto3-stubs extra in requirements-dev.txt.
Service = Literal["apigateway", "cloudformation", "cloudwatch", "dynamodb", "iam", "kms", "lambda", "s3",
                  "secretsmanager", "sns"]


@overload
def client(endpoint: str, service: Literal["apigateway"]) -> "APIGatewayClient": ...
@overload
def client(endpoint: str, service: Literal["cloudformation"]) -> "CloudFormationClient": ...
@overload
def client(endpoint: str, service: Literal["cloudwatch"]) -> "CloudWatchClient": ...
@overload
def client(endpoint: str, service: Literal["dynamodb"]) -> "DynamoDBClient": ...
@overload
def client(endpoint: str, service: Literal["iam"]) -> "IAMClient": ...
@overload
def client(endpoint: str, service: Literal["kms"]) -> "KMSClient": ...
@overload
def client(endpoint: str, service: Literal["lambda"]) -> "LambdaClient": ...
@overload
def client(endpoint: str, service: Literal["s3"]) -> "S3Client": ...
@overload
def client(endpoint: str, service: Literal["secretsmanager"]) -> "SecretsManagerClient": ...
@overload
def client(endpoint: str, service: Literal["sns"]) -> "SNSClient": ...
def client(endpoint: str, service: Service) -> "BaseClient":
    """A boto3 client of `service` on the moto server at `endpoint`, with the test credentials."""
    import boto3

    return boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                 region_name=REGION).client(service, endpoint_url=endpoint)
