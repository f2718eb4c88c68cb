"""The notification outbox: what a final state owes (chalicelib/notify.py), kept on the record.

A final write marks the record due (due_shard/webhook_next_at, the sparse
by-webhook-sharded index; webhook_due too while the table migrates); `notified` is "STATUS ETAG" of the last final state notified,
so duplicates, re-renders and reprocessing of the same bytes never notify twice.
"""

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chalicelib.clock import iso_now
from chalicelib.status.fanout import ShardedQuery
from chalicelib.status.records import plain, public_record
from chalicelib.status.schema import (
    BY_WEBHOOK,
    BY_WEBHOOK_SHARDED,
    COMPLETE,
    DUE,
    DUE_SHARD,
    FAILED,
    STATUS_SHARD,
    partitions,
    sharded,
)
from chalicelib.status.writes import CLAIM_RETRIES, ConditionalWrites

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TableAttributeValueTypeDef


def marked_due(item: dict) -> bool:
    """The record carries a due mark: due_shard, or webhook_due on a record not migrated yet."""
    return DUE_SHARD in item or "webhook_due" in item


@dataclass(frozen=True)
class Delivery:
    """The right to send what a final record still owes (notify.py), until its lease ends."""

    image_id: str
    token: str
    record: dict  # the public record, as it was leased
    event_due: dict | None  # {"attempts", "since"} while the event is still to be published
    webhook: dict | None  # the record's `webhook`, attempts reset for a new final state


class NotificationOutbox(ConditionalWrites):
    """Records due a notification: found (due_notifications), leased, then saved."""

    def _final_marks(self, image_id: str, status: str) -> tuple[str, dict]:
        """What every write of a final state sets besides the status: the status's shard and the
        due mark, in the same write: should the invocation die before it notifies, the sweeper
        still finds the record (by-webhook-sharded, due_shard "due#NN"). Uses `:now`."""
        legacy, values = self._legacy_set("webhook_due", ":due", DUE)
        return (f", {STATUS_SHARD} = :status_shard, webhook_next_at = :now, {DUE_SHARD} = :due_shard{legacy}",
                {**values, ":status_shard": sharded(status, image_id), ":due_shard": sharded(DUE, image_id)})

    def due_notifications(self, now: str, limit: int) -> "list[str]":
        """Ids of up to `limit` records whose notification is due at `now` or before, oldest first."""
        from boto3.dynamodb.conditions import Key

        if not self.legacy_reads:
            merged = ShardedQuery(self._table, BY_WEBHOOK_SHARDED, DUE_SHARD, "webhook_next_at", partitions(DUE),
                                  newest_first=False, expected=limit, range_condition=lambda key: key.lte(now))
            return [item["image_id"] for item in merged.take(limit)]
        page = self._table.query(
            IndexName=BY_WEBHOOK, Limit=limit,
            KeyConditionExpression=Key("webhook_due").eq(DUE) & Key("webhook_next_at").lte(now),
        )
        return [str(item["image_id"]) for item in page.get("Items", [])]  # the key: always a string

    def lease_notification(
        self, image_id: str, now: float, lease_seconds: int, events: bool
    ) -> Delivery | None:
        """The right to send what `image_id` owes, until now + lease_seconds.

        A final state not notified yet starts afresh: its event (with `events`) and its
        webhook, attempts reset. One already notified goes on with what is still pending,
        once due. None when nothing is owed (the due mark is then removed) or when
        another invocation holds the lease.
        """
        for _ in range(CLAIM_RETRIES):
            item = self._read(image_id)
            if not item or "version" not in item:
                return None
            status, etag = item.get("status"), item.get("source", {}).get("etag")
            # A COMPLETE record without ETag was reopened for reprocessing: its new result notifies.
            final = status == FAILED or (status == COMPLETE and bool(etag))
            marker = f"{status} {etag or ''}".strip()
            webhook, event_due = plain(item.get("webhook")), plain(item.get("event_due"))
            if not final:
                webhook = event_due = None  # a new claim or a tombstone: its own final state notifies
            elif item.get("notified") != marker:
                event_due = {"attempts": 0, "since": int(now)} if events else None
                webhook = {**webhook, "state": "pending", "attempts": []} if webhook else None
            elif item.get("webhook_next_at", "") > iso_now(now):
                return None  # leased by another invocation, or not due yet
            owes_webhook = bool(webhook) and webhook.get("state") == "pending"
            if event_due is None and not owes_webhook:
                if marked_due(item) and not self._update_seen(
                    item, f"REMOVE webhook_due, webhook_next_at, {DUE_SHARD}, notify_token SET version = version + :one"
                    + (", notified = :marker" if final else ""), {":marker": marker} if final else {},
                ):
                    continue
                return None
            token = secrets.token_hex(16)
            legacy, legacy_values = self._legacy_set("webhook_due", ":due", DUE)
            values = {":marker": marker, ":token": token, ":lease": iso_now(now + lease_seconds),
                      ":due_shard": sharded(DUE, image_id), **legacy_values}
            update = ("SET notified = :marker, notify_token = :token,"
                      f" webhook_next_at = :lease, {DUE_SHARD} = :due_shard{legacy}, version = version + :one")
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
        values: dict[str, TableAttributeValueTypeDef] = {":token": delivery.token, ":one": 1}
        if webhook is not None:
            sets.append("webhook = :webhook")
            values[":webhook"] = webhook
        if event_due is not None:
            sets.append("event_due = :event")
            values[":event"] = event_due
        else:
            removes.append("event_due")
        if next_at is not None:
            legacy, legacy_values = self._legacy_set("webhook_due", ":due", DUE)
            sets.append(f"webhook_next_at = :next, {DUE_SHARD} = :due_shard{legacy}")
            values.update({":next": next_at, ":due_shard": sharded(DUE, delivery.image_id), **legacy_values})
        else:
            removes.append(f"webhook_due, webhook_next_at, {DUE_SHARD}")
        return self._update(
            delivery.image_id,
            UpdateExpression=f"SET {', '.join(sets)} REMOVE {', '.join(removes)}",
            ConditionExpression="notify_token = :token",  # still ours: nobody started anew
            ExpressionAttributeValues=values,
        ) is not None
