"""Keeps the local stack's data in a directory, so it survives a restart.

moto keeps everything in memory. The stack snapshots the buckets, the status
table and the dead-letter queue here every few seconds and when it stops, and
restores them before the S3 notifications are switched on (a restore must not
look like a flood of new uploads). Objects are written once per ETag, so a
snapshot costs a listing and a scan, not a copy of every image.

    STATE_DIR/s3/BUCKET/index.json        key -> etag, file, content type …
    STATE_DIR/s3/BUCKET/objects/SHA256    the bytes of one object
    STATE_DIR/dynamodb/TABLE.json         items in DynamoDB JSON
    STATE_DIR/sqs/QUEUE.json              message bodies
"""

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

_OBJECT_HEADERS = ("ContentType", "CacheControl", "Metadata")


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def _read_json(path: Path, default: Any) -> Any:
    try:
        return json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return default


def peek_messages(sqs: Any, queue_url: str) -> list[dict]:
    """Every message on a queue, left there: each is hidden for a moment, then released."""
    seen: dict[str, dict] = {}
    while True:
        got = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=30,
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])
        if not got:
            break
        seen.update((m["MessageId"], m) for m in got)
    for message in seen.values():
        sqs.change_message_visibility(
            QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
    return list(seen.values())


class StateDir:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()  # the periodic and the final snapshot never interleave

    def snapshot(self, s3: Any, dynamodb: Any, buckets: list[str], table: str,
                 sqs: Any = None, queue_urls: dict[str, str] | None = None) -> None:
        with self._lock:
            for bucket in buckets:
                self._snapshot_bucket(s3, bucket)
            items = []
            for page in dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
                items.extend(page["Items"])
            _write_atomically(self.root / "dynamodb" / f"{table}.json", json.dumps(items).encode())
            for name, url in (queue_urls or {}).items():
                bodies = [m["Body"] for m in peek_messages(sqs, url)]
                _write_atomically(self.root / "sqs" / f"{name}.json", json.dumps(bodies).encode())

    def _snapshot_bucket(self, s3: Any, bucket: str) -> None:
        folder = self.root / "s3" / bucket
        index_path = folder / "index.json"
        old = _read_json(index_path, {})
        new = {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for listed in page.get("Contents", []):
                key, etag = listed["Key"], listed["ETag"]
                if key in old and old[key]["etag"] == etag:
                    new[key] = old[key]
                    continue
                try:
                    obj = s3.get_object(Bucket=bucket, Key=key)
                except s3.exceptions.NoSuchKey:
                    continue  # deleted since the listing
                name = hashlib.sha256(key.encode()).hexdigest()
                _write_atomically(folder / "objects" / name, obj["Body"].read())
                new[key] = {"etag": etag, "file": name, **{h: obj[h] for h in _OBJECT_HEADERS if obj.get(h)}}
        _write_atomically(index_path, json.dumps(new, ensure_ascii=False).encode())
        kept = {entry["file"] for entry in new.values()}
        for path in (folder / "objects").glob("*"):
            if path.name not in kept and not path.name.endswith(".tmp"):
                path.unlink()

    def restore(self, s3: Any, dynamodb: Any, buckets: list[str], table: str,
                sqs: Any, queue_urls: dict[str, str]) -> int:
        """Put everything back; returns the number of objects restored."""
        count = 0
        for bucket in buckets:
            folder = self.root / "s3" / bucket
            for key, entry in _read_json(folder / "index.json", {}).items():
                body = (folder / "objects" / entry["file"]).read_bytes()
                s3.put_object(Bucket=bucket, Key=key, Body=body, **{h: entry[h] for h in _OBJECT_HEADERS if h in entry})
                count += 1
        items = _read_json(self.root / "dynamodb" / f"{table}.json", [])
        for start in range(0, len(items), 25):  # BatchWriteItem takes 25 items a call
            requests = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
            dynamodb.batch_write_item(RequestItems={table: requests})
        for name, url in queue_urls.items():
            for body in _read_json(self.root / "sqs" / f"{name}.json", []):
                sqs.send_message(QueueUrl=url, MessageBody=body)
        return count
