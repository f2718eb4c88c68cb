"""`python -m imgpipe events`: the local stack's completion events, one readable line each.

The local bus's rule sends every imgpipe event to a queue (localstack.py); the
queue is peeked, not drained, so each run shows every event still on it.
"""

import json
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from imgpipe.state import peek_messages

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef


def describe(body: str) -> str:
    """One line for one event: when, what, which image, and the outcome in words."""
    try:
        event = json.loads(body)
        detail = event["detail"]
        source = detail.get("source", {})
        if detail.get("status") == "COMPLETE":
            outcome = f"{len(detail.get('renditions', []))} renditions"
            if "width" in source:
                outcome += f" of a {source['width']}×{source['height']} {source.get('format', '')}".rstrip() + " image"
        else:
            error = detail.get("error") or {}
            outcome = f"{error.get('code', 'unknown')}: {error.get('message', '')}".rstrip(": ")
        what = f"{event['detail-type']:<15}  {detail['image_id']}  {source.get('key', '')}"
        return f"{event['time']}  {what}  {outcome}"
    except (ValueError, KeyError, TypeError, AttributeError):
        return f"(not an imgpipe event) {body[:120]}"


def _sent_at(message: "MessageTypeDef") -> int:
    return int(message.get("Attributes", {}).get("SentTimestamp", 0))


def watch(sqs: "SQSClient", queue_url: str, follow: bool, poll_seconds: float = 2.0) -> Iterator[str]:
    """Lines for the events on the queue, oldest first; with `follow`, then each new one
    (each look reads the whole queue, which no one drains: every `poll_seconds`)."""
    seen: set[str] = set()
    while True:
        fresh = [m for m in peek_messages(sqs, queue_url) if m["MessageId"] not in seen]
        for message in sorted(fresh, key=_sent_at):
            seen.add(message["MessageId"])
            yield describe(message["Body"])
        if not follow:
            return
        time.sleep(poll_seconds)
