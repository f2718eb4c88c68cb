"""S3 event notifications, read: the object records an event (or an SQS message's body) holds.

Pure: dicts in, values out, no boto3. The resize handler (pipeline) and the CLI's
dead-letter view both read records here; invoke.object_created_event writes one.
"""

from dataclasses import dataclass
from urllib.parse import unquote_plus

CREATED, REMOVED = "ObjectCreated", "ObjectRemoved"


@dataclass(frozen=True)
class ObjectRecord:
    """One record of a notification."""

    kind: str  # the event type's family: "ObjectCreated", "ObjectRemoved", or another
    bucket: str | None
    key: str | None  # decoded; None when the record names no object


def object_records(event: dict) -> list[ObjectRecord]:
    """Every record of an S3 notification, in order. A TestEvent has no Records.

    Keys arrive URL-encoded with `+` for spaces, hence unquote_plus.
    """
    found = []
    for record in event.get("Records") or []:
        s3 = record.get("s3") or {}
        kind = str(record.get("eventName", "")).split(":")[0]
        target = s3.get("object", {})
        key = unquote_plus(target["key"]) if "key" in target else None
        found.append(ObjectRecord(kind, s3.get("bucket", {}).get("name"), key))
    return found


def object_events(event: dict, bucket: str) -> list[tuple[str, str]]:
    """(kind, decoded key) of the ObjectCreated/ObjectRemoved records for `bucket`;
    other event types and buckets are skipped."""
    return [(r.kind, r.key) for r in object_records(event)
            if r.kind in (CREATED, REMOVED) and r.bucket == bucket and r.key is not None]
