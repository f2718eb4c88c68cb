"""Keeps the local stack's data in a directory, so it survives a restart.

moto keeps everything in memory. The input bucket is written through: each
change is saved here before the client is told it is stored (emulator.py
WriteThrough), so an acknowledged upload survives a SIGKILL. The rest (the
output bucket, the status table, the dead-letter queue) is snapshotted every
few seconds and when the stack stops: after a SIGKILL it may be seconds old,
and the stack redoes the work of every upload whose record is not final.
All is restored before the S3 notifications are switched on (a restore must
not look like a flood of new uploads). Objects are written once per ETag.
Each object gets back its ETag (a multipart upload's `…-2` is not the MD5 a
plain put computes) and its LastModified: to the pipeline, a changed ETag is
new bytes, which it would process and notify again.

    STATE_DIR/s3/BUCKET/index.json        key -> etag, last modified, file, content type …
    STATE_DIR/s3/BUCKET/objects/SHA256    the bytes of one object
    STATE_DIR/dynamodb/TABLE.json         items in DynamoDB JSON
    STATE_DIR/sqs/QUEUE.json              message bodies
"""

import datetime
import hashlib
import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import WriteRequestTypeDef
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

_OBJECT_HEADERS: Final = ("ContentType", "CacheControl", "Metadata")


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def _read_json(path: Path, default: Any) -> Any:  # Any: json.loads'
    try:
        return json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return default


# One object's identity: (ETag as S3 quotes it, LastModified as ISO 8601 in UTC, no zone).
Identity = tuple[str, str]


def utc_iso(moment: datetime.datetime) -> str:
    """A LastModified as the index keeps it: naive UTC (moto's own), ISO 8601."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.UTC).replace(tzinfo=None)
    return moment.isoformat()


def peek_messages(sqs: "SQSClient", queue_url: str) -> "list[MessageTypeDef]":
    """Every message on a queue, left there: each is hidden for a moment (at most a few
    seconds, should the peek be cut short), then released ten to a call."""
    seen: dict[str, MessageTypeDef] = {}
    while True:
        got = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=5,
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])
        if not got:
            break
        seen.update((m["MessageId"], m) for m in got)
    handles = [m["ReceiptHandle"] for m in seen.values()]
    for start in range(0, len(handles), 10):
        sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=[
            {"Id": str(n), "ReceiptHandle": handle, "VisibilityTimeout": 0}
            for n, handle in enumerate(handles[start:start + 10])])
    return list(seen.values())


class StateDir:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()  # the periodic and the final snapshot never interleave

    def snapshot(self, s3: "S3Client", dynamodb: "DynamoDBClient", buckets: list[str], table: str,
                 sqs: "SQSClient | None" = None, queue_urls: dict[str, str] | None = None) -> None:
        with self._lock:
            # The table before the buckets: a record saved COMPLETE then has its renditions saved too.
            items = []
            for page in dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
                items.extend(page["Items"])
            _write_atomically(self.root / "dynamodb" / f"{table}.json", json.dumps(items).encode())
            for bucket in buckets:
                self._snapshot_bucket(s3, bucket)
            for name, url in (queue_urls or {}).items():
                if sqs is None:  # queue_urls come with their client
                    raise ValueError("snapshot: queue_urls given without an SQS client")
                bodies = [m["Body"] for m in peek_messages(sqs, url)]
                _write_atomically(self.root / "sqs" / f"{name}.json", json.dumps(bodies).encode())

    def _snapshot_bucket(self, s3: "S3Client", bucket: str) -> None:
        listing: dict[str, Identity] = {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            listing.update((listed["Key"], (listed["ETag"], utc_iso(listed["LastModified"])))
                           for listed in page.get("Contents", []))

        def read(key: str) -> tuple[bytes, dict] | None:
            try:
                obj = s3.get_object(Bucket=bucket, Key=key)
            except s3.exceptions.NoSuchKey:
                return None  # deleted since the listing
            return obj["Body"].read(), {h: obj[h] for h in _OBJECT_HEADERS if obj.get(h)}

        self.save_bucket(bucket, listing, read)

    def save_bucket(self, bucket: str, listing: dict[str, Identity],
                    read: Callable[[str], tuple[bytes, dict] | None]) -> None:
        """Make the bucket's folder hold `listing` (key -> (ETag, LastModified)); only
        changed objects are read."""
        folder = self.root / "s3" / bucket
        index_path = folder / "index.json"
        old = _read_json(index_path, {})
        new = {}
        for key, (etag, last_modified) in listing.items():
            if key in old and (old[key]["etag"], old[key].get("last_modified")) == (etag, last_modified):
                new[key] = old[key]
                continue
            if key in old and old[key]["etag"] == etag:  # the same bytes, put again
                new[key] = {**old[key], "last_modified": last_modified}
                continue
            got = read(key)
            if got is None:
                continue
            name = hashlib.sha256(key.encode()).hexdigest()
            _write_atomically(folder / "objects" / name, got[0])
            new[key] = {"etag": etag, "last_modified": last_modified, "file": name, **got[1]}
        if new == old:
            return
        _write_atomically(index_path, json.dumps(new, ensure_ascii=False).encode())
        kept = {entry["file"] for entry in new.values()}
        for path in (folder / "objects").glob("*"):
            if path.name not in kept and not path.name.endswith(".tmp"):
                path.unlink()

    def restore(self, s3: "S3Client", dynamodb: "DynamoDBClient", buckets: list[str], table: str,
                sqs: "SQSClient", queue_urls: dict[str, str],
                keep_identity: Callable[[str, str, Identity], None] | None = None) -> int:
        """Put everything back; returns the number of objects restored.

        A put makes a new ETag and LastModified: `keep_identity(bucket, key, (etag,
        last modified))` sets the saved ones back (the emulator's set_identity)."""
        count = 0
        for bucket in buckets:
            folder = self.root / "s3" / bucket
            for key, entry in _read_json(folder / "index.json", {}).items():
                body = (folder / "objects" / entry["file"]).read_bytes()
                s3.put_object(Bucket=bucket, Key=key, Body=body, **{h: entry[h] for h in _OBJECT_HEADERS if h in entry})
                if keep_identity and entry.get("last_modified"):
                    keep_identity(bucket, key, (entry["etag"], entry["last_modified"]))
                count += 1
        items = _read_json(self.root / "dynamodb" / f"{table}.json", [])
        for start in range(0, len(items), 25):  # BatchWriteItem takes 25 items a call
            batch = items[start : start + 25]
            requests: list[WriteRequestTypeDef] = [{"PutRequest": {"Item": item}} for item in batch]
            dynamodb.batch_write_item(RequestItems={table: requests})
        for name, url in queue_urls.items():
            for body in _read_json(self.root / "sqs" / f"{name}.json", []):
                sqs.send_message(QueueUrl=url, MessageBody=body)
        return count
