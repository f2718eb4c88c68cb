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
from chalicelib.status.schema import SHARD_ATTRIBUTES, SHARDS

# Bookkeeping attributes: never part of the record the API returns.
INTERNAL = ("version", "claim_token", "lease_until", "kind", "expires_at", "refuses_uploads",
            "stale_keys", "webhook_due", "webhook_next_at", "notified", "notify_token", "event_due",
            *SHARD_ATTRIBUTES)


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


# A page cursor is where the next page starts in the order every listing shares (created_at,
# then image_id, newest first), for every shard of the index the listing fans out over.
# The merge hands out records in that order, so every shard still holding records resumes
# after the last record handed out: what a shard holds past it is older than everything
# listed. Shards with nothing left are `done` and never queried again.
#
#     2026-11-30T06:00:00.000Z~3f0c…e3f~C0000a401
#     created_at ~ image_id ~ listing (* or the status' initial), done shards (32-bit mask)
#
# Readable and checked by one pattern (docs/openapi.yaml has the same), like the cursors of
# the unsharded indexes, which are its first two parts and still taken: a client paging
# while the stage switches indexes goes on where it was. Every cursor the pattern admits is
# a position, so none is refused once it matches; one from another listing keeps only its
# position (its done shards are another index's).
CURSOR_PATTERN = (r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{3})?Z~[0-9a-f]{32}"
                  r"(~[*PRCF][0-9a-f]{8})?$")


@dataclass(frozen=True)
class Position:
    """Where a listing goes on: after `at` (created_at, image_id) in every shard but `done`."""

    at: tuple[str, str]
    done: frozenset[int] = frozenset()


_TAGS = {None: "*", "PENDING": "P", "PROCESSING": "R", "COMPLETE": "C", "FAILED": "F"}


def listing_tag(status: str | None) -> str:
    return _TAGS.get(status, "*")


def encode_cursor(position: Position | None, status: str | None) -> str | None:
    if position is None:
        return None
    mask = sum(1 << n for n in position.done)
    return f"{position.at[0]}~{position.at[1]}~{listing_tag(status)}{mask:08x}"


def legacy_cursor(key: dict | None) -> str | None:
    """The cursor of a page read from an unsharded index (reads still on the legacy indexes)."""
    return f"{key['created_at']}~{key['image_id']}" if key else None


def decode_cursor(cursor: str, status: str | None) -> Position:
    """The position a cursor this API returned stands for, in the listing of `status`."""
    if not re.fullmatch(CURSOR_PATTERN, cursor):  # `$` as ECMA (JSON Schema) reads it
        raise InvalidRequestError("cursor is not one this API returned")
    created_at, image_id, *rest = cursor.split("~")
    if not rest or rest[0][0] != listing_tag(status):
        return Position((created_at, image_id))
    mask = int(rest[0][1:], 16)
    return Position((created_at, image_id), frozenset(n for n in range(SHARDS) if mask >> n & 1))
