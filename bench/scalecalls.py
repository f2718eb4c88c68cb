"""Record the AWS calls the pipeline really makes for a few images, in moto (bench/scale.py's input).

An upload-and-poll client's life of an image, through the real code: POST /uploads (the
API route), the upload (the browser's POST to S3), the S3 event to resize_image (the
Lambda handler), and GET /images/{id}. botocore event hooks count every call by service,
operation and target; each DynamoDB write is bracketed by reads of the item before and
after it (on a client the hooks do not see), from which the writes of the table and of
every index follow: an index is written when its key attributes appear, change or go,
or when a projected attribute changes (DynamoDB's rules), one write unit per KB.
"""

import io
import json
import math
import os
import re
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus

ENV = {"INPUT_BUCKET": "scale-in", "OUTPUT_BUCKET": "scale-out", "STATUS_TABLE": "scale-status",
       "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "scale",
       "AWS_SECRET_ACCESS_KEY": "scale", "AWS_SESSION_TOKEN": "scale", "MOTO_DISABLE_GLOBAL_CORS": "true",
       "POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true", "EVENT_BUS_NAME": "scale-bus",
       "AUTH": "none"}
IMAGE_ID = re.compile(r"[0-9a-f]{32}")
SHARD_SUFFIX = re.compile(r"#[0-9]{2}$")
# S3's request-rate classes (per partitioned prefix): 3,500 of these a second…
S3_WRITES = {"PutObject", "CopyObject", "PostObject", "DeleteObject", "DeleteObjects", "UploadPart",
             "CreateMultipartUpload", "CompleteMultipartUpload", "PutObjectTagging"}
# …and 5,500 of these.
S3_READS = {"GetObject", "HeadObject", "GetObjectTagging"}
DYNAMODB_WRITES = {"PutItem", "UpdateItem", "DeleteItem"}


def _size(value: dict) -> int:
    """Bytes DynamoDB counts for one typed attribute value (names are added by item_size)."""
    (kind, inner), = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        return math.ceil(len(inner.lstrip("-").replace(".", "")) / 2) + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + _size(v) + 1 for k, v in inner.items())
    if kind == "L":
        return 3 + sum(_size(v) + 1 for v in inner)
    return len(str(inner))


def item_size(item: dict | None) -> int:
    return sum(len(name.encode()) + _size(value) for name, value in (item or {}).items())


def units(size: int) -> int:
    """Write units of one write of an item of `size` bytes: one per KB started."""
    return max(1, math.ceil(size / 1024))


def partition_class(value: str) -> tuple[str, bool]:
    """(`COMPLETE` of `COMPLETE#07`, sharded?): a partition value with its shard suffix dropped."""
    return (SHARD_SUFFIX.sub("", value), True) if SHARD_SUFFIX.search(value) else (value, False)


def index_writes(index: dict, before: dict | None, after: dict | None) -> list[tuple[str, int]]:
    """(partition value, write units) of each write one table write makes to `index`."""
    keys = [k["AttributeName"] for k in index["KeySchema"]]
    projection = index["Projection"]

    def entry(item: dict | None) -> dict | None:
        if not item or not all(k in item for k in keys):
            return None
        if projection["ProjectionType"] == "ALL":
            return item
        kept = {"image_id", *keys, *projection.get("NonKeyAttributes", [])}
        return {k: v for k, v in item.items() if k in kept}

    old, new = entry(before), entry(after)
    value = lambda item: next(iter(item[keys[0]].values()))
    if old is None and new is None:
        return []
    if old is None:
        return [(value(new), units(item_size(new)))]
    if new is None:
        return [(value(old), units(item_size(old)))]
    if any(old[k] != new[k] for k in keys):
        return [(value(old), units(item_size(old))), (value(new), units(item_size(new)))]
    if old != new:
        return [(value(new), units(max(item_size(old), item_size(new))))]
    return []


def s3_prefix(bucket_role: str, key: str) -> str:
    """`output:renditions/uploads/`: what precedes the image id in a key (the random part S3 can split on)."""
    match = IMAGE_ID.search(key)
    return f"{bucket_role}:{key[:match.start()] if match else key.rsplit('/', 1)[0] + '/'}"


@dataclass
class Calls:
    """Every call counted, for `images` images."""

    images: int = 0
    counts: Counter = field(default_factory=Counter)  # "service Operation target" → calls
    table_units: int = 0
    index_units: dict = field(default_factory=lambda: defaultdict(Counter))  # index → partition class → units
    index_writes: dict = field(default_factory=lambda: defaultdict(Counter))  # index → partition class → writes
    sharded: dict = field(default_factory=dict)  # partition class → sharded?
    item_bytes: list = field(default_factory=list)  # sizes of records after each write
    resize_seconds: list = field(default_factory=list)
    api_seconds: list = field(default_factory=list)

    def per_image(self) -> dict[str, float]:
        return {name: n / self.images for name, n in sorted(self.counts.items())}


class Recorder:
    """botocore hooks on boto3's default session: every client the app makes is seen."""

    def __init__(self, indexes: list[dict], raw_dynamodb: Any) -> None:
        self.calls = Calls()
        self._indexes, self._raw = indexes, raw_dynamodb
        self._lock, self._local = threading.Lock(), threading.local()
        self.buckets = {ENV["INPUT_BUCKET"]: "input", ENV["OUTPUT_BUCKET"]: "output"}

    def install(self, session: Any) -> None:
        session.events.register("before-parameter-build", self._params)
        session.events.register("before-call.dynamodb", self._before_dynamodb)
        session.events.register("after-call.dynamodb", self._after_dynamodb)

    def count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.calls.counts[name] += n

    def _params(self, params: dict, model: Any, context: dict | None = None, **_: Any) -> None:
        if (context or {}).get("is_presign_request"):
            return  # signing a URL is no request
        service, operation = model.service_model.endpoint_prefix, model.name
        if service == "s3" and (operation in S3_WRITES or operation in S3_READS):
            kind = "write" if operation in S3_WRITES else "read"
            role = self.buckets.get(params.get("Bucket", ""), "other")
            keys = ([o["Key"] for o in params["Delete"]["Objects"]] if operation == "DeleteObjects"
                    else [params.get("Key", "")])
            for key in keys:
                self.count(f"s3 {kind} {s3_prefix(role, key)}")
        elif service == "events":
            self.count(f"events {operation} entries", len(params.get("Entries", [])))
            self.count(f"events {operation} calls")
        elif service == "lambda":
            self.count(f"lambda {operation} {params.get('FunctionName', '')}")
        elif service not in ("s3", "dynamodb"):
            self.count(f"{service} {operation}")

    def _before_dynamodb(self, model: Any, params: dict, **_: Any) -> None:
        body = json.loads(params.get("body") or b"{}")
        operation = model.name
        if operation in DYNAMODB_WRITES:
            key = body.get("Key") or {"image_id": body["Item"]["image_id"]}
            self._local.pending = (body["TableName"], key, self._read(body["TableName"], key))
        elif operation in ("Query", "Scan"):
            self.count(f"dynamodb {operation} {body.get('IndexName', 'table')}")
        elif operation == "BatchGetItem":
            self.count(f"dynamodb {operation} keys", sum(len(t["Keys"]) for t in body["RequestItems"].values()))
            self.count(f"dynamodb {operation} calls")
        else:
            self.count(f"dynamodb {operation}")

    def _after_dynamodb(self, model: Any, parsed: dict, **_: Any) -> None:
        if model.name not in DYNAMODB_WRITES:
            return
        table, key, before = self._local.pending
        failed = "Error" in parsed
        after = before if failed else self._read(table, key)
        self.count(f"dynamodb {model.name}{' (condition failed)' if failed else ''}")
        with self._lock:
            self.calls.table_units += units(max(item_size(before), item_size(after)))
            self.calls.item_bytes.append(item_size(after))
            for index in self._indexes:
                for value, wcu in index_writes(index, before, after):
                    name, sharded = partition_class(value)
                    self.calls.sharded[name] = sharded
                    self.calls.index_units[index["IndexName"]][name] += wcu
                    self.calls.index_writes[index["IndexName"]][name] += 1

    def _read(self, table: str, key: dict) -> dict | None:
        return self._raw.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")


def s3_event(bucket: str, key: str, size: int, etag: str) -> dict:
    return {"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": ENV["AWS_REGION"],
                         "eventName": "ObjectCreated:Post", "s3": {"bucket": {"name": bucket},
                         "object": {"key": quote_plus(key, safe="/"), "size": size, "eTag": etag}}}]}


def sample_jpeg(n: int) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (1200 + 8 * n, 900), (40 + n, 90, 160)).save(out, "JPEG", quality=85)
    return out.getvalue()


def _reset(services: Any) -> None:
    for part in (services.settings, services.storage, services.status_store, services.invoker,
                 services.notifier, services.pipeline):
        part.cache_clear()


def record(images: int = 3, legacy: bool = False) -> Calls:
    """The calls of `images` uploads, processed and polled once each. With `legacy`, as the
    code writes for the unsharded indexes (STATUS_READS=legacy), counted against those.
    The environment is as it was afterwards (tests run this next to others)."""
    saved = dict(os.environ)
    try:
        return _record(images, legacy)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _record(images: int, legacy: bool) -> Calls:
    os.environ.update(ENV)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ["STATUS_READS"] = "legacy" if legacy else "sharded"
    import boto3
    from chalice.test import Client
    from moto import mock_aws

    import app as app_module
    from chalicelib.status import create_table
    from chalicelib.status.schema import LEGACY_STATUS_INDEX, SHARDED_INDEXES, table_definition

    with mock_aws():
        raw = boto3.session.Session().client("dynamodb", region_name=ENV["AWS_REGION"])
        create_table(raw, ENV["STATUS_TABLE"])
        s3 = boto3.session.Session().client("s3", region_name=ENV["AWS_REGION"])
        for bucket in (ENV["INPUT_BUCKET"], ENV["OUTPUT_BUCKET"]):
            s3.create_bucket(Bucket=bucket)
        boto3.session.Session().client("events", region_name=ENV["AWS_REGION"]).create_event_bus(
            Name=ENV["EVENT_BUS_NAME"])
        legacy_indexes = [i for i in table_definition("x")["GlobalSecondaryIndexes"] if i not in SHARDED_INDEXES]
        indexes = legacy_indexes + [LEGACY_STATUS_INDEX] if legacy else SHARDED_INDEXES
        recorder = Recorder(indexes, raw)
        boto3.setup_default_session()
        recorder.install(boto3.DEFAULT_SESSION)
        _reset(app_module.services)  # every client made from now on, on the hooked session
        try:
            with Client(app_module.app, stage_name="scale") as client:  # no stage: ENV alone
                for n in range(images):
                    started = time.perf_counter()
                    created = client.http.post("/uploads", headers={"Content-Type": "application/json"},
                                               body=json.dumps({"filename": f"photo {n}.jpg",
                                                                "content_type": "image/jpeg"})).json_body
                    recorder.calls.api_seconds.append(time.perf_counter() - started)
                    recorder.count("api POST /uploads")
                    key = f"uploads/{created['image_id']}/photo {n}.jpg"
                    body = sample_jpeg(n)
                    put = boto3.client("s3", region_name=ENV["AWS_REGION"]).put_object(
                        Bucket=ENV["INPUT_BUCKET"], Key=key, Body=body, ContentType="image/jpeg")
                    started = time.perf_counter()
                    client.lambda_.invoke("resize_image", s3_event(ENV["INPUT_BUCKET"], key, len(body),
                                                                    put["ETag"].strip('"')))
                    recorder.calls.resize_seconds.append(time.perf_counter() - started)
                    recorder.count("lambda invoke resize_image (S3 event)")
                    started = time.perf_counter()
                    record_ = client.http.get(f"/images/{created['image_id']}").json_body
                    recorder.calls.api_seconds.append(time.perf_counter() - started)
                    recorder.count("api GET /images/{id}")
                    assert record_["status"] == "COMPLETE", record_
        finally:
            boto3.DEFAULT_SESSION = None
            _reset(app_module.services)
        recorder.calls.images = images
        return recorder.calls
