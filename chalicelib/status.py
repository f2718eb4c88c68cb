"""DynamoDB status store: one item per image, moved forward by conditional writes.

Table layout (also in the README):

    partition key  image_id (S)
    GSI by-status  status (S) / created_at (S)      GET /images?status=...
    GSI by-created kind (S, always "image") / created_at (S)   GET /images
    GSI by-webhook webhook_due (S, "due") / webhook_next_at (S)   sparse: only records
                   with a notification (event or webhook) still to send; the sweeper
    TTL attribute  expires_at: set only on PENDING records and tombstones, so
                   uploads that never arrive, and deleted images' tombstones,
                   disappear a day after their URL expired

Every write after the first is conditional on `version`, the counter this
store increments on each change: a writer that read a stale record loses
instead of overwriting a newer state (optimistic concurrency).
"""

import re
import secrets
from collections.abc import Sequence
from datetime import datetime, timezone
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.errors import ImageBusyError, ImageDeletedError, InvalidRequestError

PENDING, PROCESSING, COMPLETE, FAILED = "PENDING", "PROCESSING", "COMPLETE", "FAILED"
STATUSES = (PENDING, PROCESSING, COMPLETE, FAILED)
# A tombstone: what DELETE /images/{id} leaves until `expires_at`, so that an
# invocation still working on the image, or an upload arriving late, finds it
# and removes what it wrote. Never listed nor returned by the API.
DELETED = "DELETED"
_KIND = "image"
_INTERNAL = ("version", "claim_token", "lease_until", "kind", "expires_at", "refuses_uploads",
             "stale_keys", "webhook_due", "webhook_next_at", "notified", "notify_token", "event_due")
_CLAIM_RETRIES = 5
# Every write of a final state also marks its notification due, in the same write:
# should the invocation die before it notifies, the sweeper still finds the record.
DUE = "due"
_NOTIFY_DUE = ", webhook_due = :due, webhook_next_at = :now"


@dataclass(frozen=True)
class Delivery:
    """The right to send what a final record still owes (notify.py), until its lease ends."""

    image_id: str
    token: str
    record: dict  # the public record, as it was leased
    event_due: dict | None  # {"attempts", "since"} while the event is still to be published
    webhook: dict | None  # the record's `webhook`, attempts reset for a new final state


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


def iso_now(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def table_definition(name: str) -> dict:
    """CreateTable arguments for the status table (tests, local stack, docs)."""
    by = lambda index, hash_key, range_key="created_at": {  # noqa: E731
        "IndexName": index,
        "KeySchema": [
            {"AttributeName": hash_key, "KeyType": "HASH"},
            {"AttributeName": range_key, "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "ALL"},
    }
    return {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": name_, "AttributeType": "S"}
            for name_ in ("image_id", "status", "created_at", "kind", "webhook_due", "webhook_next_at")
        ],
        "KeySchema": [{"AttributeName": "image_id", "KeyType": "HASH"}],
        "GlobalSecondaryIndexes": [
            by("by-status", "status"), by("by-created", "kind"),
            # Sparse: only records whose event or webhook is still to be sent (the sweeper's work).
            by("by-webhook", "webhook_due", "webhook_next_at"),
        ],
    }


def create_table(client: Any, name: str) -> None:
    """Create the table with its TTL, and wait until it is usable."""
    client.create_table(**table_definition(name))
    client.get_waiter("table_exists").wait(TableName=name)
    client.update_time_to_live(
        TableName=name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"},
    )


def _plain(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal; the API speaks JSON."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def stored_focus(focus: dict) -> dict:
    """DynamoDB takes numbers as Decimal, never float."""
    return {axis: Decimal(str(value)) for axis, value in focus.items()}


def public_record(item: dict) -> dict:
    """The record as the API documents it, without bookkeeping attributes."""
    return {k: _plain(v) for k, v in item.items() if k not in _INTERNAL}


def _is_condition_failure(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


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
    index_key = {"status": status} if status else {"kind": _KIND}
    return {"image_id": image_id, "created_at": created_at, **index_key}


def _rerendering(item: dict, now_epoch: float) -> bool:
    """A COMPLETE record whose covers a live invocation is re-rendering
    (complete() removes claim_token but leaves lease_until behind)."""
    return "claim_token" in item and item.get("lease_until", 0) > now_epoch


def _rendition_keys(item: dict | None) -> tuple[str, ...]:
    """The keys a record's renditions (and earlier, unfinished results) occupy."""
    if not item:
        return ()
    keys = [r["key"] for r in item.get("renditions", []) if "key" in r] + list(item.get("stale_keys", []))
    return tuple(dict.fromkeys(keys))


class DynamoStatusStore:
    """Records and their transitions: PENDING → PROCESSING → COMPLETE | FAILED."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def _update(self, image_id: str, **request: Any) -> dict | None:
        """update_item on one record; None when its ConditionExpression failed (the
        record is not as the caller expects: someone moved it meanwhile)."""
        try:
            return self._table.update_item(Key={"image_id": image_id}, **request)
        except ClientError as exc:
            if _is_condition_failure(exc):
                return None
            raise

    def _update_seen(self, item: dict, update: str, values: dict, names: dict | None = None) -> bool:
        """An update of exactly the item we read (`version`); False when it changed meanwhile."""
        return self._update(
            item["image_id"], UpdateExpression=update, ConditionExpression="version = :seen",
            ExpressionAttributeValues={**values, ":seen": item["version"], ":one": 1},
            **({"ExpressionAttributeNames": names} if names else {}),
        ) is not None

    def get(self, image_id: str) -> dict | None:
        item = self._table.get_item(Key={"image_id": image_id}, ConsistentRead=True).get("Item")
        return public_record(item) if item else None

    def create_pending(
        self, image_id: str, bucket: str, key: str, now: str, expires_at: int, owner: str | None = None,
        focus: dict | None = None,
        callback_url: str | None = None,
    ) -> None:
        """The record of an upload the API has just issued a URL for."""
        self._table.put_item(
            Item={
                **({"owner": owner} if owner else {}),
                **({"focus": stored_focus(focus)} if focus else {}),
                **({"webhook": {"url": callback_url, "state": "pending", "attempts": []}}
                   if callback_url else {}),
                "image_id": image_id,
                "status": PENDING,
                "kind": _KIND,
                "source": {"bucket": bucket, "key": key},
                "created_at": now,
                "updated_at": now,
                "attempts": 0,
                "version": 1,
                "expires_at": expires_at,
            },
            # image ids are random; a collision must fail loudly, not overwrite.
            ConditionExpression="attribute_not_exists(image_id)",
        )

    def claim(
        self, image_id: str, source: dict, now: str, now_epoch: float, lease_seconds: int
    ) -> Claim | None:
        """Take the right to process `source` (bucket, key, bytes, etag).

        Returns None when this ETag is already COMPLETE or FAILED (a duplicate
        event: nothing to do). Raises ImageBusyError while another invocation
        holds a live lease, so that Lambda retries this event later, and
        ImageDeletedError on the tombstone of an image whose uploads it refuses.
        """
        for _ in range(_CLAIM_RETRIES):
            item = self._table.get_item(Key={"image_id": image_id}, ConsistentRead=True).get("Item")
            if item and not {"status", "version"} <= item.keys():
                # DynamoDB never shows a half-written item, but emulators (moto)
                # can under concurrency; never decide on one.
                raise ImageBusyError(f"{image_id} is being written by another invocation")
            if item and item["status"] == DELETED and item.get("refuses_uploads"):
                raise ImageDeletedError(f"{image_id} was deleted")
            same_etag = bool(item) and item.get("source", {}).get("etag") == source["etag"]
            if item and item["status"] in (COMPLETE, FAILED) and same_etag:
                return None
            if item and item["status"] == PROCESSING and item.get("lease_until", 0) > now_epoch:
                raise ImageBusyError(f"{image_id} is being processed by another invocation")
            if item and item["status"] == COMPLETE and _rerendering(item, now_epoch):
                raise ImageBusyError(f"{image_id} is having its covers re-rendered")
            attempts = int(item.get("attempts", 0)) + 1 if same_etag else 1
            token = secrets.token_hex(16)
            stale = _rendition_keys(item)
            lease_until = now_epoch + lease_seconds
            if not self._write_claim(item, image_id, source, now, lease_until, token, attempts, stale):
                continue  # someone else moved it between our read and write
            focus = _plain(item["focus"]) if item and "focus" in item else None
            return Claim(image_id, token, attempts, focus, stale)
        raise ImageBusyError(f"{image_id} keeps changing under us")

    def _write_claim(
        self, item: dict | None, image_id: str, source: dict, now: str, lease_until: float,
        token: str, attempts: int, stale_keys: tuple[str, ...],
    ) -> bool:
        values = {
            ":processing": PROCESSING,
            ":source": source,
            ":now": now,
            ":lease": int(lease_until),
            ":token": token,
            ":attempts": attempts,
            ":kind": _KIND,
            ":one": 1,
            # Kept until a result is recorded: a holder that dies must not lose them.
            ":stale": list(stale_keys),
        }
        if item:
            # The record is exactly as we read it: our decision still holds.
            condition = "version = :seen"
            values[":seen"] = item["version"]
        else:
            condition = "attribute_not_exists(image_id)"
        return self._update(
            image_id,
            UpdateExpression=(
                "SET #status = :processing, #source = :source, updated_at = :now,"
                " created_at = if_not_exists(created_at, :now), kind = :kind,"
                " lease_until = :lease, claim_token = :token, attempts = :attempts, stale_keys = :stale,"
                " version = if_not_exists(version, :one) + :one"
                " REMOVE expires_at, #error, renditions, refuses_uploads"
            ),
            ConditionExpression=condition,
            ExpressionAttributeNames={"#status": "status", "#source": "source", "#error": "error"},
            ExpressionAttributeValues=values,
        ) is not None

    def complete(self, claim: Claim, source: dict, renditions: list[dict], now: str) -> bool:
        """PROCESSING → COMPLETE, recording the focus the covers were made with;
        False if our lease was taken over meanwhile."""
        update = "SET #status = :status, #source = :source, renditions = :renditions"
        values = {":status": COMPLETE, ":source": source, ":renditions": renditions, ":due": DUE}
        if claim.focus:
            update += ", cover_focus = :focus"
            values[":focus"] = stored_focus(claim.focus)
        removes = ["stale_keys"] + ([] if claim.focus else ["cover_focus"])
        return self._finish(claim, now, update + _NOTIFY_DUE, values, removes)

    def fail(self, claim: Claim, code: str, message: str, now: str) -> bool:
        """PROCESSING → FAILED with a reason; False if our lease was taken over."""
        return self._finish(
            claim, now, "SET #status = :status, #error = :error" + _NOTIFY_DUE,
            {":status": FAILED, ":error": {"code": code, "message": message}, ":due": DUE}, ["stale_keys"],
        )

    def release(self, claim: Claim, now: str) -> bool:
        """Give up the lease early, so a retry can take over at once."""
        return self._finish(claim, now, "SET lease_until = :zero", {":zero": 0})

    def _finish(self, claim: Claim, now: str, sets: str, values: dict, removes: Sequence[str] = ()) -> bool:
        """`sets` (a SET clause) plus what every end of a claim writes, and REMOVEs `removes`."""
        removed = ", ".join(["claim_token", *removes])
        update = f"{sets}, updated_at = :now, version = version + :one REMOVE {removed}"
        # DynamoDB rejects names the expressions do not use.
        names = {k: v for k, v in {"#status": "status", "#source": "source", "#error": "error"}.items()
                 if k in update or k == "#status"}
        return self._update(
            claim.image_id,
            UpdateExpression=update,
            # Only the holder of the current claim may move the record on:
            # a late invocation whose lease expired must not overwrite the
            # result of the one that took over.
            ConditionExpression="#status = :processing AND claim_token = :token",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={
                **values, ":now": now, ":one": 1, ":processing": PROCESSING, ":token": claim.token,
            },
        ) is not None

    def set_focus(self, image_id: str, focus: dict, now: str) -> dict | None:
        """Record a new focal point on a COMPLETE record; the record as it now is,
        or None when it is not COMPLETE (any more)."""
        written = self._update(
            image_id,
            UpdateExpression="SET focus = :focus, updated_at = :now, version = version + :one",
            # COMPLETE only: a record still processing would record covers made with the
            # focus it read when it started, and forget this one. Each PATCH is its own
            # write (version + 1), so a later PATCH is never lost to an earlier one.
            ConditionExpression="#status = :complete",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":focus": stored_focus(focus), ":now": now, ":one": 1, ":complete": COMPLETE,
            },
            ReturnValues="ALL_NEW",
        )
        return public_record(written["Attributes"]) if written else None

    def claim_covers(self, image_id: str, etag: str, now_epoch: float, lease_seconds: int) -> Claim | None:
        """Take the right to re-render the cover renditions of a COMPLETE record of
        this ETag whose focus differs from the one its covers were made with.

        The status stays COMPLETE (the old covers are valid until replaced); the
        claim token and lease keep two re-renders, or a re-render and a new
        upload's processing, from interleaving. None when there is nothing to do;
        ImageBusyError while another re-render holds a live lease.
        """
        for _ in range(_CLAIM_RETRIES):
            item = self._table.get_item(Key={"image_id": image_id}, ConsistentRead=True).get("Item")
            if not item or item.get("status") != COMPLETE or item.get("source", {}).get("etag") != etag:
                return None
            if item.get("focus") == item.get("cover_focus"):
                return None
            if _rerendering(item, now_epoch):
                raise ImageBusyError(f"{image_id} is having its covers re-rendered")
            token = secrets.token_hex(16)
            # Exactly the record we read: the focus we will render is its focus.
            if not self._update_seen(
                item, "SET claim_token = :token, lease_until = :lease, version = version + :one",
                {":token": token, ":lease": int(now_epoch + lease_seconds)},
            ):
                continue
            return Claim(image_id, token, int(item.get("attempts", 1)), _plain(item.get("focus")),
                         _rendition_keys(item), tuple(_plain(item.get("renditions", []))))
        raise ImageBusyError(f"{image_id} keeps changing under us")

    def finish_covers(self, claim: Claim, renditions: list[dict], now: str) -> bool:
        """Record re-rendered covers and the focus they keep; False if the record
        changed hands meanwhile (deleted, re-uploaded, or the lease taken over)."""
        return self._update(
            claim.image_id,
            UpdateExpression="SET renditions = :renditions, cover_focus = :focus, updated_at = :now,"
            " version = version + :one REMOVE claim_token",
            ConditionExpression="#status = :complete AND claim_token = :token",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":renditions": renditions, ":focus": stored_focus(claim.focus or {}), ":now": now,
                ":one": 1, ":complete": COMPLETE, ":token": claim.token,
            },
        ) is not None

    def release_covers(self, claim: Claim) -> None:
        """Give up a re-render's lease early (it failed), so a retry can take over at once."""
        self._update(
            claim.image_id,
            UpdateExpression="SET lease_until = :zero REMOVE claim_token",
            ConditionExpression="claim_token = :token",
            ExpressionAttributeValues={":zero": 0, ":token": claim.token},
        )

    def expire_pending(self, image_id: str, message: str, now: str) -> bool:
        """PENDING → FAILED(upload_expired); False if the upload arrived meanwhile."""
        return self._update(
            image_id,
            UpdateExpression="SET #status = :failed, #error = :error, updated_at = :now,"
            " version = version + :one" + _NOTIFY_DUE,
            ConditionExpression="#status = :pending",  # an arriving upload wins
            ExpressionAttributeNames={"#status": "status", "#error": "error"},
            ExpressionAttributeValues={
                ":failed": FAILED, ":pending": PENDING, ":now": now, ":one": 1, ":due": DUE,
                ":error": {"code": "upload_expired", "message": message},
            },
        ) is not None

    def reopen(self, image_id: str, now: str) -> bool:
        """Forget the ETag a COMPLETE or FAILED record finished, so the next event
        for the same object is processed again (`imgpipe reprocess`, backfills).
        False for unknown ids and for records a live invocation holds."""
        return self._update(
            image_id,
            UpdateExpression="REMOVE #source.etag SET updated_at = :now, version = version + :one",
            ConditionExpression="#status IN (:complete, :failed)",
            ExpressionAttributeNames={"#source": "source", "#status": "status"},
            ExpressionAttributeValues={":complete": COMPLETE, ":failed": FAILED, ":now": now, ":one": 1},
        ) is not None

    def stuck(self, status: str, created_before: str, limit: int) -> list[dict]:
        """Up to `limit` records in `status` created before the given time, oldest first,
        with `lease_until` kept so the sweeper can tell a live claim from a dead one."""
        from boto3.dynamodb.conditions import Key

        query: dict[str, Any] = {
            "IndexName": "by-status",
            "KeyConditionExpression": Key("status").eq(status) & Key("created_at").lt(created_before),
        }
        items: list[dict] = []
        while len(items) < limit:
            page = self._table.query(**query, Limit=limit - len(items))
            items += [_plain(i) for i in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                break
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return items

    def tombstone(
        self, image_id: str, now: str, expires_at: int, refuses_uploads: bool
    ) -> tuple[dict, tuple[str, ...]] | None:
        """Replace a record by a DELETED tombstone; returns the record it replaced and
        every rendition key it occupied (an unfinished reprocess's earlier result
        included), None when there was none (or only a tombstone). With
        `refuses_uploads`, claim() refuses any later object for the image instead of
        starting over."""
        for _ in range(_CLAIM_RETRIES):
            item = self._table.get_item(Key={"image_id": image_id}, ConsistentRead=True).get("Item")
            if not item or item.get("status") == DELETED:
                return None
            # Exactly the record we read: its renditions are the ones the caller
            # removes; a holder finishing later fails its claim and cleans up itself.
            if not self._update_seen(
                item,
                "SET #status = :deleted, updated_at = :now, expires_at = :expires,"
                " refuses_uploads = :refuses, version = version + :one"
                " REMOVE kind, claim_token, lease_until, renditions, #error",
                {":deleted": DELETED, ":now": now, ":expires": expires_at, ":refuses": refuses_uploads},
                {"#status": "status", "#error": "error"},
            ):
                continue
            return public_record(item), _rendition_keys(item)
        raise ImageBusyError(f"{image_id} keeps changing under us")

    def delete(self, image_id: str) -> None:
        self._table.delete_item(Key={"image_id": image_id})

    def list(
        self, status: str | None, limit: int, cursor: str | None, owner: str | None = None
    ) -> tuple[list[dict], str | None]:
        """Newest first, one index query per page (never a table scan).

        With an owner, other owners' records are filtered out after the read,
        so a page can hold fewer than `limit` items; follow `next_cursor`.
        """
        from boto3.dynamodb.conditions import Attr, Key

        query: dict[str, Any] = {"Limit": limit, "ScanIndexForward": False}
        if status:
            query.update(IndexName="by-status", KeyConditionExpression=Key("status").eq(status))
        else:
            query.update(IndexName="by-created", KeyConditionExpression=Key("kind").eq(_KIND))
        if cursor is not None:  # an empty cursor is a bad one, not none
            query["ExclusiveStartKey"] = decode_cursor(cursor, status)
        if owner:
            query["FilterExpression"] = Attr("owner").eq(owner)
        page = self._table.query(**query)
        return [public_record(i) for i in page.get("Items", [])], encode_cursor(page.get("LastEvaluatedKey"))

    # Notifications: what a final state owes (chalicelib/notify.py), kept together here.
    # A final write marks the record due (webhook_due/webhook_next_at, the sparse
    # by-webhook index); `notified` is "STATUS ETAG" of the last final state notified,
    # so duplicates, re-renders and reprocessing of the same bytes never notify twice.

    def due_notifications(self, now: str, limit: int) -> "list[str]":
        """Ids of up to `limit` records whose notification is due at `now` or before, oldest first."""
        from boto3.dynamodb.conditions import Key

        page = self._table.query(
            IndexName="by-webhook", Limit=limit,
            KeyConditionExpression=Key("webhook_due").eq(DUE) & Key("webhook_next_at").lte(now),
        )
        return [item["image_id"] for item in page.get("Items", [])]

    def lease_notification(
        self, image_id: str, now: float, lease_seconds: int, events: bool
    ) -> Delivery | None:
        """The right to send what `image_id` owes, until now + lease_seconds.

        A final state not notified yet starts afresh: its event (with `events`) and its
        webhook, attempts reset. One already notified goes on with what is still pending,
        once due. None when nothing is owed (the due mark is then removed) or when
        another invocation holds the lease.
        """
        for _ in range(_CLAIM_RETRIES):
            item = self._table.get_item(Key={"image_id": image_id}, ConsistentRead=True).get("Item")
            if not item or "version" not in item:
                return None
            status, etag = item.get("status"), item.get("source", {}).get("etag")
            # A COMPLETE record without ETag was reopened for reprocessing: its new result notifies.
            final = status == FAILED or (status == COMPLETE and bool(etag))
            marker = f"{status} {etag or ''}".strip()
            webhook, event_due = _plain(item.get("webhook")), _plain(item.get("event_due"))
            if not final:
                webhook = event_due = None  # a new claim or a tombstone: its own final state notifies
            elif item.get("notified") != marker:
                event_due = {"attempts": 0, "since": int(now)} if events else None
                webhook = {**webhook, "state": "pending", "attempts": []} if webhook else None
            elif item.get("webhook_next_at", "") > iso_now(now):
                return None  # leased by another invocation, or not due yet
            owes_webhook = bool(webhook) and webhook.get("state") == "pending"
            if event_due is None and not owes_webhook:
                if "webhook_due" in item and not self._update_seen(
                    item, "REMOVE webhook_due, webhook_next_at, notify_token SET version = version + :one"
                    + (", notified = :marker" if final else ""), {":marker": marker} if final else {},
                ):
                    continue
                return None
            token = secrets.token_hex(16)
            values = {":marker": marker, ":token": token, ":due": DUE, ":lease": iso_now(now + lease_seconds)}
            update = ("SET notified = :marker, notify_token = :token, webhook_due = :due,"
                      " webhook_next_at = :lease, version = version + :one")
            if event_due is not None:
                update, values[":event"] = update + ", event_due = :event", event_due
            if webhook is not None:
                update, values[":webhook"] = update + ", webhook = :webhook", webhook
            if event_due is None:
                update += " REMOVE event_due"
            if not self._update_seen(item, update, values):
                continue
            return Delivery(image_id, token, public_record(item), event_due, webhook)
        return None

    def save_notification(
        self, delivery: Delivery, webhook: dict | None, event_due: dict | None, next_at: str | None
    ) -> bool:
        """Record what the holder of `delivery` sent; False if its lease was taken over
        (a newer final state started its own notification: this one's result is moot)."""
        sets, removes = ["version = version + :one"], ["notify_token"]
        values: dict[str, Any] = {":token": delivery.token, ":one": 1}
        if webhook is not None:
            sets.append("webhook = :webhook")
            values[":webhook"] = webhook
        if event_due is not None:
            sets.append("event_due = :event")
            values[":event"] = event_due
        else:
            removes.append("event_due")
        if next_at is not None:
            sets.append("webhook_due = :due, webhook_next_at = :next")
            values.update({":due": DUE, ":next": next_at})
        else:
            removes.append("webhook_due, webhook_next_at")
        return self._update(
            delivery.image_id,
            UpdateExpression=f"SET {', '.join(sets)} REMOVE {', '.join(removes)}",
            ConditionExpression="notify_token = :token",  # still ours: nobody started anew
            ExpressionAttributeValues=values,
        ) is not None

    def check(self) -> str:
        try:
            self._table.load()
        except ClientError as exc:
            return exc.response.get("Error", {}).get("Code", "error")
        return "ok"
