"""The one-machine stack behind `make run`: AWS emulation, the API and a worker.

One process, every socket on 127.0.0.1:

- moto's server for S3, DynamoDB and SQS on `aws_port`, with bucket CORS
  really enforced (MOTO_DISABLE_GLOBAL_CORS), holding the buckets and table
  of the `local` stage in .chalice/config.json;
- the Chalice app, imported and served by chalice's own local server classes
  in a thread (no `chalice local` reloader child to leave behind), behind
  the gateway handler of imgpipe/gateway.py;
- S3 → SQS notifications and an EventWorker that hands each event to the real
  `app.resize_image`, with a dead-letter queue for events that keep failing;
- the app's schedules (the sweeper) on their rate, as EventBridge runs them;
- the stage's EventBridge bus with a rule sending every imgpipe event to a
  queue (`python -m imgpipe events` shows it), and the webhook signing secret
  in Secrets Manager, its value kept in the state dir;
- a StateDir that makes all of it survive a restart, and an acknowledged
  upload survive a SIGKILL.

The app sees only AWS_ENDPOINT_URL and dummy credentials: no local branches.
"""

import functools
import json
import logging
import os
import socket
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Literal, overload

import requests
from chalice.app import Request, Response
from chalice.cli.factory import CLIFactory
from chalice.local import LambdaContext, LocalDevServer, create_local_server

from imgpipe.running import forget_ports, record_ports
from imgpipe.gateway import QuietHandler
from imgpipe.localauth import DevIssuer
from imgpipe.localstage import (
    ACCESS_KEY_ID,
    HOST,
    REGION,
    ROOT,
    SECRET_ACCESS_KEY,
    STAGE,
    aws_environment,
    provision_notifications,
    queue_names,
    stage_environment,
)
from imgpipe.schedules import Schedules, rate_schedules
from imgpipe.state import StateDir

if TYPE_CHECKING:
    from collections.abc import Callable

    from botocore.client import BaseClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sqs import SQSClient
from imgpipe.worker import EventWorker

SNAPSHOT_SECONDS = 5
LISTEN_BACKLOG = 128
log = logging.getLogger(__name__)


class PortTakenError(Exception):
    pass


def check_port_free(port: int, what: str) -> None:
    with socket.socket() as probe:
        # Same option the servers use: a port in TIME_WAIT is free, a listener is not.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError as exc:
            raise PortTakenError(
                f"Port {port} on {HOST} ({what}) is taken by another program ({exc.strerror}). "
                f"Stop it, or choose another port, e.g. `make run PORT=8001 AWS_PORT=4567`."
            ) from None


@dataclass
class LocalStack:
    port: int = 8000
    aws_port: int = 4566
    state_dir: Path = ROOT / ".local-state"
    workers: int = 2
    max_receives: int = 8  # deliveries before an event goes to the dead-letter queue
    sweep_every: float | None = None  # seconds between sweeper runs; None: its schedule (5 minutes)
    env: dict[str, str] = field(default_factory=stage_environment)

    @property
    def page_url(self) -> str:
        return f"http://{HOST}:{self.port}/"

    @property
    def aws_url(self) -> str:
        return f"http://{HOST}:{self.aws_port}"

    def start(self) -> None:
        check_port_free(self.aws_port, "AWS endpoint, AWS_PORT")
        check_port_free(self.port, "page and API, PORT")
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            os.environ.pop(name, None)
        # Before moto is imported: with global CORS on, moto allows every origin.
        os.environ.update({**aws_environment(self.aws_port), **self.env, "MOTO_DISABLE_GLOBAL_CORS": "true"})
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        from imgpipe.emulator import AwsEmulator
        from imgpipe.loudfailures import QuietEmulatorFailures

        for handler in [*logging.getLogger().handlers, logging.lastResort]:
            if handler is not None:
                handler.addFilter(QuietEmulatorFailures())

        self._state = StateDir(self.state_dir)
        self._moto = AwsEmulator(HOST, self.aws_port, {ACCESS_KEY_ID: SECRET_ACCESS_KEY},
                                 journal=self._save_bucket, journaled=[self.env["INPUT_BUCKET"]])
        self._moto.start()
        self._stopping = threading.Event()
        self._provision()
        self._app_module, self._api = self._serve_app()
        self._worker = EventWorker(
            lambda: self.client("sqs"), self.queue_urls["events"], self._invoke_handler, self.workers
        )
        self._worker.start()
        every = rate_schedules(self._app_module.app)
        if self.sweep_every is not None:
            every["sweep_stuck_images"] = self.sweep_every
        self._schedules = Schedules(every, self._invoke_scheduled, REGION)
        self._schedules.start()
        self._snapshot_clients = self.client("s3"), self.client("dynamodb"), self.client("sqs")
        self._snapshots = threading.Thread(target=self._snapshot_loop, name="imgpipe-snapshots", daemon=True)
        self._snapshots.start()
        self._wait_until_healthy()
        record_ports(self.state_dir, self.page_url.rstrip("/"), self.aws_port)

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
        import boto3

        # A session each: boto3's default session is not safe to make clients from in several threads.
        return boto3.session.Session().client(service, endpoint_url=self.aws_url, region_name=REGION)

    def _provision(self) -> None:
        from chalicelib.status import create_table

        s3, sqs, dynamodb = self.client("s3"), self.client("sqs"), self.client("dynamodb")
        origins = [f"http://{HOST}:{self.port}", f"http://localhost:{self.port}"]
        for bucket in self.buckets:
            s3.create_bucket(Bucket=bucket)
            s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [{
                "AllowedOrigins": origins, "AllowedMethods": ["GET", "HEAD", "POST"],
                "AllowedHeaders": ["*"], "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 600,
            }]})
        create_table(dynamodb, self.env["STATUS_TABLE"])
        events_name, dead_name = queue_names(self.env)
        dead_url = sqs.create_queue(QueueName=dead_name)["QueueUrl"]
        dead_arn = sqs.get_queue_attributes(QueueUrl=dead_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events_url = sqs.create_queue(QueueName=events_name, Attributes={
            "VisibilityTimeout": "120",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dead_arn, "maxReceiveCount": self.max_receives}),
        })["QueueUrl"]
        self.queue_urls = {"events": events_url, "dead": dead_url}
        notifications = provision_notifications(
            self.env, sqs, self.client("events"), self.client("secretsmanager"), self._state.root)
        if notifications is not None:  # a queue only when the stage has a bus (EVENT_BUS_NAME)
            self.queue_urls["notifications"] = notifications
        restored = self._state.restore(s3, dynamodb, self.buckets, self.env["STATUS_TABLE"], sqs,
                                       {dead_name: dead_url}, keep_identity=self._moto.set_identity)
        events_arn = sqs.get_queue_attributes(QueueUrl=events_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        s3.put_bucket_notification_configuration(
            Bucket=self.env["INPUT_BUCKET"],
            NotificationConfiguration={"QueueConfigurations": [
                {"QueueArn": events_arn, "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]}]},
        )
        self._moto.write_through.enabled = True  # from here on, a stored upload is on disk first
        resize = self.env.get("RESIZE_FUNCTION")
        if resize:  # Lambda's async queue for the resize function is the worker's event queue
            self._moto.lambda_invoke.functions[resize] = functools.partial(self._enqueue, sqs, events_url)
        render = self.env.get("RENDER_FUNCTION")
        if render:  # the /v/ route's synchronous invoke runs the render function here, as Lambda would
            self._moto.lambda_invoke.synchronous[render] = self._invoke_render
        if restored:  # records kept by a version before the sharded indexes get their shard attributes
            from imgpipe.migrate import migrate_local_table

            migrate_local_table(self.aws_url, REGION, self.env["STATUS_TABLE"])
            self._redeliver_unfinished(s3, dynamodb)

    @staticmethod
    def _enqueue(sqs: "SQSClient", queue_url: str, payload: bytes) -> None:
        """An async invocation's payload, on the queue the worker delivers to the handler."""
        sqs.send_message(QueueUrl=queue_url, MessageBody=payload.decode("utf-8"))

    @property
    def buckets(self) -> list[str]:
        return [self.env["INPUT_BUCKET"], self.env["OUTPUT_BUCKET"]]

    def _save_bucket(self, bucket: str) -> None:
        """Write a bucket through to the state dir; called by the emulator, under its lock."""
        from imgpipe.emulator import bucket_objects

        listing, read = bucket_objects(bucket)
        self._state.save_bucket(bucket, listing, read)

    def _redeliver_unfinished(self, s3: "S3Client", dynamodb: "DynamoDBClient") -> None:
        """Re-put uploads whose event was lost when the stack stopped: a real event again."""
        from chalicelib.uploads import image_id_for_key

        bucket = self.env["INPUT_BUCKET"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for listed in page.get("Contents", []):
                item = dynamodb.get_item(
                    TableName=self.env["STATUS_TABLE"], Key={"image_id": {"S": image_id_for_key(listed["Key"])}}
                ).get("Item", {})
                etag = item.get("source", {}).get("M", {}).get("etag", {}).get("S")
                finished = item.get("status", {}).get("S") in ("COMPLETE", "FAILED")
                if not finished or f'"{etag}"' != listed["ETag"]:
                    obj = s3.get_object(Bucket=bucket, Key=listed["Key"])
                    s3.put_object(Bucket=bucket, Key=listed["Key"], Body=obj["Body"].read(),
                                  ContentType=obj.get("ContentType", "binary/octet-stream"))

    def _serve_app(self) -> tuple[ModuleType, LocalDevServer]:
        factory = CLIFactory(project_dir=str(ROOT), environ=os.environ)
        config = factory.create_config_obj(chalice_stage_name=STAGE)
        app = config.chalice_app
        import app as app_module

        app_module.get_pipeline()  # its clients, made here before several threads race to make them
        app.register_middleware(self._health_of_local_parts, "http")
        server = create_local_server(app, config, HOST, self.port)
        # socketserver listens with a backlog of 5: a burst of new clients
        # (the page's parallel uploads, the load test) got connection resets.
        server.server.socket.listen(LISTEN_BACKLOG)
        server.server.RequestHandlerClass = functools.partial(QuietHandler, app_object=app, config=config)
        if self.env.get("AUTH") == "cognito":  # the local issuer stands in for the stage's user pool
            # Chalice warns on each request that it cannot check Cognito tokens: the handler did.
            warnings.filterwarnings("ignore", message=r"CognitoUserPoolAuthorizer is not a supported in local mode")
            issuer = DevIssuer.in_state_dir(self.state_dir, app_module.get_settings().admin_group)
            setattr(server.server, "dev_issuer", issuer)  # read back by QuietHandler._signed_in_handle
        thread = threading.Thread(target=server.server.serve_forever, name="imgpipe-api", daemon=True)
        thread.start()
        return app_module, server

    def _health_of_local_parts(
        self, request: Request, get_response: "Callable[[Request], Response]"
    ) -> Response:
        """GET /health also reports the worker, which only the local stack has."""
        response = get_response(request)
        if request.path == "/health" and response.status_code in (200, 503):
            worker = "ok" if getattr(self, "_worker", None) and self._worker.alive() else "not running"
            response.body.setdefault("checks", {})["event_worker"] = worker
            if worker != "ok":
                response.body["status"], response.status_code = "degraded", 503
        return response

    def _invoke_handler(self, event: dict) -> None:
        self._app_module.resize_image(event, LambdaContext("resize_image", 1024, max_runtime_ms=60_000))

    def _invoke_render(self, payload: bytes) -> bytes:
        answer = self._app_module.render_variant(json.loads(payload), LambdaContext("render_variant", 1769, max_runtime_ms=15_000))
        return json.dumps(answer).encode()

    def _invoke_scheduled(self, name: str, event: dict) -> None:
        getattr(self._app_module, name)(event, LambdaContext(name, 256, max_runtime_ms=60_000))

    def _wait_until_healthy(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if requests.get(f"{self.page_url}health", timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the stack did not become healthy within {timeout} s")
            time.sleep(0.2)

    def snapshot(self, with_queues: bool = False) -> None:
        """The table, the output bucket and (with_queues) the dead letters.

        The input bucket is not here: it is written through (emulator.WriteThrough)."""
        dead = {queue_names(self.env)[1]: self.queue_urls["dead"]} if with_queues else None
        s3, dynamodb, sqs = self._snapshot_clients
        self._state.snapshot(s3, dynamodb, [self.env["OUTPUT_BUCKET"]], self.env["STATUS_TABLE"], sqs, dead)

    def _snapshot_loop(self) -> None:
        """Every few seconds, if anything changed: a scan of every record, and a listing
        of the output bucket, cost far more than a look at the change count."""
        saved = 0
        while not self._stopping.wait(SNAPSHOT_SECONDS):
            changes = self._moto.serialised.changes  # read before: a change answered later is saved next time
            if changes == saved:
                continue
            try:
                self.snapshot()
                saved = changes
            except Exception:
                log.exception("snapshot of the local state failed; will try again")

    def stop(self) -> None:
        """Stop taking requests, finish events in hand, save the state, stop moto."""
        self._stopping.set()
        forget_ports(self.state_dir)
        self._api.server.shutdown()
        self._api.server.server_close()
        self._schedules.stop()
        self._worker.stop()
        self._snapshots.join()
        try:
            self.snapshot(with_queues=True)
        finally:
            self._moto.stop()

    def banner(self) -> str:
        return (
            f"imgpipe is running: page {self.page_url}  API {self.page_url.rstrip('/')}  "
            f"AWS endpoint {self.aws_url} (AWS_ACCESS_KEY_ID={ACCESS_KEY_ID} "
            f"AWS_SECRET_ACCESS_KEY={SECRET_ACCESS_KEY} aws --endpoint-url {self.aws_url} s3 ls, or "
            f"AWS_ENDPOINT_URL={self.aws_url} AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local "
            f"AWS_DEFAULT_REGION={REGION} for boto3)  Ctrl-C stops"
        )

