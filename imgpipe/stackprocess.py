"""`python -m imgpipe run` in a subprocess on free ports, its own session.

Used by `imgpipe loadtest` and the end-to-end tests: start it, wait for the
banner, stop it with SIGTERM as Ctrl-C or a service manager would.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Literal, overload

import boto3
import requests

if TYPE_CHECKING:
    from botocore.client import BaseClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sqs import SQSClient

ROOT = Path(__file__).resolve().parents[1]
BANNER = "imgpipe is running"


def user_environment() -> dict[str, str]:
    """This environment without AWS settings: the stack sets its own endpoint."""
    return {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class StackProcess:
    def __init__(self, state_dir: Path, *extra_args: str, env: dict[str, str] | None = None) -> None:
        self.state_dir = state_dir
        self.extra_args = extra_args
        self.env = env or {}  # e.g. the app's settings (UPLOAD_URL_TTL); AWS_* are the stack's own
        self.port, self.aws_port = free_port(), free_port()
        self.log_path = state_dir.parent / f"{state_dir.name}-stack.log"
        self.process: subprocess.Popen | None = None

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def aws_url(self) -> str:
        return f"http://127.0.0.1:{self.aws_port}"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "imgpipe", "run", "--port", str(self.port),
                "--aws-port", str(self.aws_port), "--state-dir", str(self.state_dir), *self.extra_args]

    def log(self) -> str:
        return self.log_path.read_text("utf-8", errors="replace") if self.log_path.exists() else ""

    def start(self, timeout: float = 60) -> None:
        seen = len(self.log())  # a restart appends to the same log
        with open(self.log_path, "ab") as log:
            # Its own session: after it exits, no process may be left in the group.
            self.process = subprocess.Popen(self.command(), cwd=ROOT, stdout=log, stderr=log,
                                            env={**user_environment(), **self.env}, start_new_session=True)
        deadline = time.monotonic() + timeout
        while BANNER not in self.log()[seen:]:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"the stack did not start:\n{self.log()[-3000:]}")
            time.sleep(0.2)

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, as Ctrl-C or a service manager would; returns the exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def __enter__(self) -> "StackProcess":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        """A clean stop, and no process left behind even when it fails."""
        try:
            self.stop()
        finally:
            self.kill()

    @overload
    def client(self, service: Literal["s3"]) -> "S3Client": ...
    @overload
    def client(self, service: Literal["dynamodb"]) -> "DynamoDBClient": ...
    @overload
    def client(self, service: Literal["sqs"]) -> "SQSClient": ...
    @overload
    def client(self, service: Literal["events"]) -> "EventBridgeClient": ...
    @overload
    def client(self, service: Literal["secretsmanager"]) -> "SecretsManagerClient": ...
    def client(self, service: Literal["s3", "dynamodb", "sqs", "events", "secretsmanager"]) -> "BaseClient":
        return boto3.client(service, endpoint_url=self.aws_url, region_name="us-east-1",
                            aws_access_key_id="local", aws_secret_access_key="local")

    def wait_final(self, image_id: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            record = requests.get(f"{self.api}/images/{image_id}", timeout=10).json()
            if record.get("status") in ("COMPLETE", "FAILED") or time.monotonic() > deadline:
                return record
            time.sleep(0.25)
