"""What the store hands out and takes in: the public record (bookkeeping removed, JSON
numbers), a Claim, the focus as DynamoDB stores it, the rendition keys a record occupies,
and page cursors.

Pure functions of items already read: nothing here talks to DynamoDB.
"""

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from chalicelib.errors import InvalidRequestError
from chalicelib.status.schema import KIND

# Bookkeeping attributes: never part of the record the API returns.
INTERNAL = ("version", "claim_token", "lease_until", "kind", "expires_at", "refuses_uploads",
            "stale_keys", "webhook_due", "webhook_next_at", "notified", "notify_token", "event_due")


@dataclass(frozen=True)
class Claim:
    """The right to process one ETag of an image until `lease_until`."""

    image_id: str
    token: str
    attempts: int
    # The record's focal point ({"x", "y"} or None): what the cover renditions keep in frame.
    focus: dict | None = None
    # Rendition keys of earlier results: whatever the new result does not reuse is deleted.
    stale_keys: tuple[str, ...] = ()
    # A cover claim's record entries as claimed: the covers are re-rendered in place.
    renditions: tuple[dict, ...] = ()


def plain(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal; the API speaks JSON."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def stored_focus(focus: dict) -> dict:
    """DynamoDB takes numbers as Decimal, never float."""
    return {axis: Decimal(str(value)) for axis, value in focus.items()}


def public_record(item: dict) -> dict:
    """The record as the API documents it, without bookkeeping attributes."""
    return {k: plain(v) for k, v in item.items() if k not in INTERNAL}


def rerendering(item: dict, now_epoch: float) -> bool:
    """A COMPLETE record whose covers a live invocation is re-rendering
    (complete() removes claim_token but leaves lease_until behind)."""
    return "claim_token" in item and item.get("lease_until", 0) > now_epoch


def rendition_keys(item: dict | None) -> tuple[str, ...]:
    """The keys a record's renditions (and earlier, unfinished results) occupy."""
    if not item:
        return ()
    keys = [r["key"] for r in item.get("renditions", []) if "key" in r] + list(item.get("stale_keys", []))
    return tuple(dict.fromkeys(keys))


# A page cursor is the position after which the next page starts, in the
# order every index shares: created_at, then image_id. Readable and checkable
# by a regex (docs/openapi.yaml has the same pattern), and index-independent:
# decode_cursor builds exactly the key attributes of the index it will be used on.
CURSOR_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{3})?Z~[0-9a-f]{32}$"


def encode_cursor(key: dict | None) -> str | None:
    if not key:
        return None
    return f"{key['created_at']}~{key['image_id']}"


def decode_cursor(cursor: str, status: str | None) -> dict:
    """ExclusiveStartKey for the `by-status` index (with `status`) or `by-created` (without)."""
    match = re.fullmatch(CURSOR_PATTERN, cursor)  # `$` as ECMA (JSON Schema) reads it
    if not match:
        raise InvalidRequestError("cursor is not one this API returned")
    created_at, image_id = match[0].split("~")
    index_key = {"status": status} if status else {"kind": KIND}
    return {"image_id": image_id, "created_at": created_at, **index_key}
