"""The status store: one item per image, moved forward by conditional writes
(PENDING → PROCESSING → COMPLETE | FAILED, and the DELETED tombstone).

This module holds the claim lifecycle; DynamoStatusStore also takes in the cover
claims (covers.py), the index queries (queries.py) and the notification outbox
(outbox.py), which share its table and its conditional writes (writes.py).
"""

import secrets
from collections.abc import Sequence
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from chalicelib.errors import ImageBusyError, ImageDeletedError
from chalicelib.status.covers import CoverClaims
from chalicelib.status.outbox import NotificationOutbox
from chalicelib.status.queries import IndexQueries
from chalicelib.status.records import Claim, plain, public_record, rendition_keys, rerendering, stored_focus
from chalicelib.status.schema import (
    COMPLETE,
    DELETED,
    FAILED,
    KIND,
    KIND_SHARD,
    OWNER_SHARD,
    PENDING,
    PROCESSING,
    STATUS_SHARD,
    sharded,
)
from chalicelib.status.writes import CLAIM_RETRIES

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TableAttributeValueTypeDef


class DynamoStatusStore(CoverClaims, IndexQueries, NotificationOutbox):
    """Records and their transitions: PENDING → PROCESSING → COMPLETE | FAILED."""

    def get(self, image_id: str) -> dict | None:
        item = self._read(image_id)
        return public_record(item) if item else None

    def create_pending(
        self, image_id: str, bucket: str, key: str, now: str, expires_at: int, owner: str | None = None,
        focus: dict | None = None,
        callback_url: str | None = None,
    ) -> None:
        """The record of an upload the API has just issued a URL for."""
        self._table.put_item(
            Item={
                **({"owner": owner, OWNER_SHARD: sharded(owner, image_id)} if owner else {}),
                **({"focus": stored_focus(focus)} if focus else {}),
                **({"webhook": {"url": callback_url, "state": "pending", "attempts": []}}
                   if callback_url else {}),
                "image_id": image_id,
                "status": PENDING,
                **({"kind": KIND} if self.legacy_reads else {}),  # legacy by-created, while migrating
                KIND_SHARD: sharded(KIND, image_id),
                STATUS_SHARD: sharded(PENDING, image_id),
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
        for _ in range(CLAIM_RETRIES):
            item = self._read(image_id)
            if item and not {"status", "version"} <= item.keys():
                # DynamoDB never shows a half-written item, but emulators (moto)
                # can under concurrency; never decide on one.
                raise ImageBusyError(f"{image_id} is being written by another invocation")
            if item and item["status"] == DELETED and item.get("refuses_uploads"):
                raise ImageDeletedError(f"{image_id} was deleted")
            same_etag = bool(item and item.get("source", {}).get("etag") == source["etag"])
            if item and item["status"] in (COMPLETE, FAILED) and same_etag:
                return None
            if item and item["status"] == PROCESSING and item.get("lease_until", 0) > now_epoch:
                raise ImageBusyError(f"{image_id} is being processed by another invocation")
            if item and item["status"] == COMPLETE and rerendering(item, now_epoch):
                raise ImageBusyError(f"{image_id} is having its covers re-rendered")
            attempts = int(item.get("attempts", 0)) + 1 if item and same_etag else 1
            token = secrets.token_hex(16)
            stale = rendition_keys(item)
            lease_until = now_epoch + lease_seconds
            if not self._write_claim(item, image_id, source, now, lease_until, token, attempts, stale):
                continue  # someone else moved it between our read and write
            focus = plain(item["focus"]) if item and "focus" in item else None
            return Claim(image_id, token, attempts, focus, stale)
        raise ImageBusyError(f"{image_id} keeps changing under us")

    def _write_claim(
        self, item: dict | None, image_id: str, source: dict, now: str, lease_until: float,
        token: str, attempts: int, stale_keys: tuple[str, ...],
    ) -> bool:
        values: dict[str, TableAttributeValueTypeDef] = {
            ":processing": PROCESSING,
            ":source": source,
            ":now": now,
            ":lease": int(lease_until),
            ":token": token,
            ":attempts": attempts,
            ":kind_shard": sharded(KIND, image_id),
            ":status_shard": sharded(PROCESSING, image_id),
            ":one": 1,
            # Kept until a result is recorded: a holder that dies must not lose them.
            ":stale": list(stale_keys),
        }
        kind, kind_value = self._legacy_set("kind", ":kind", KIND)
        values.update(kind_value)
        owner_shard = ""
        if item and item.get("owner"):  # a record written before by-owner existed gets its key here too
            owner_shard, values[":owner_shard"] = f", {OWNER_SHARD} = :owner_shard", sharded(item["owner"], image_id)
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
                f" created_at = if_not_exists(created_at, :now){kind},"
                f" {KIND_SHARD} = :kind_shard, {STATUS_SHARD} = :status_shard{owner_shard},"
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
        marks, values = self._final_marks(claim.image_id, COMPLETE)
        update = "SET #status = :status, #source = :source, renditions = :renditions"
        values.update({":status": COMPLETE, ":source": source, ":renditions": renditions})
        if claim.focus:
            update += ", cover_focus = :focus"
            values[":focus"] = stored_focus(claim.focus)
        removes = ["stale_keys"] + ([] if claim.focus else ["cover_focus"])
        return self._finish(claim, now, update + marks, values, removes)

    def fail(self, claim: Claim, code: str, message: str, now: str) -> bool:
        """PROCESSING → FAILED with a reason; False if our lease was taken over."""
        marks, values = self._final_marks(claim.image_id, FAILED)
        return self._finish(
            claim, now, "SET #status = :status, #error = :error" + marks,
            {**values, ":status": FAILED, ":error": {"code": code, "message": message}}, ["stale_keys"],
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

    def expire_pending(self, image_id: str, message: str, now: str) -> bool:
        """PENDING → FAILED(upload_expired); False if the upload arrived meanwhile."""
        marks, values = self._final_marks(image_id, FAILED)
        return self._update(
            image_id,
            UpdateExpression="SET #status = :failed, #error = :error, updated_at = :now,"
            " version = version + :one" + marks,
            ConditionExpression="#status = :pending",  # an arriving upload wins
            ExpressionAttributeNames={"#status": "status", "#error": "error"},
            ExpressionAttributeValues={
                **values, ":failed": FAILED, ":pending": PENDING, ":now": now, ":one": 1,
                ":error": {"code": "upload_expired", "message": message},
            },
        ) is not None

    def note_reused_upload(self, image_id: str, first_etag: str, note: dict) -> bool:
        """Say on the record that a later object sent with its upload link was refused; False when
        the record no longer holds the first object (the condition: a note never lands on a record
        that moved on). No version bump: the note changes no state the pipeline acts on."""
        return self._update(
            image_id,
            UpdateExpression="SET reused_upload = :note",
            ConditionExpression="#source.etag = :first",
            ExpressionAttributeNames={"#source": "source"},
            ExpressionAttributeValues={":first": first_etag, ":note": note},
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

    def tombstone(
        self, image_id: str, now: str, expires_at: int, refuses_uploads: bool
    ) -> tuple[dict, tuple[str, ...]] | None:
        """Replace a record by a DELETED tombstone; returns the record it replaced and
        every rendition key it occupied (an unfinished reprocess's earlier result
        included), None when there was none (or only a tombstone). With
        `refuses_uploads`, claim() refuses any later object for the image instead of
        starting over."""
        for _ in range(CLAIM_RETRIES):
            item = self._read(image_id)
            if not item or item.get("status") == DELETED:
                return None
            # Exactly the record we read: its renditions are the ones the caller
            # removes; a holder finishing later fails its claim and cleans up itself.
            if not self._update_seen(
                item,
                "SET #status = :deleted, updated_at = :now, expires_at = :expires,"
                " refuses_uploads = :refuses, version = version + :one"
                " REMOVE kind, claim_token, lease_until, renditions, #error,"
                f" {KIND_SHARD}, {STATUS_SHARD}, {OWNER_SHARD}",  # a tombstone is in no list
                {":deleted": DELETED, ":now": now, ":expires": expires_at, ":refuses": refuses_uploads},
                {"#status": "status", "#error": "error"},
            ):
                continue
            return public_record(item), rendition_keys(item)
        raise ImageBusyError(f"{image_id} keeps changing under us")

    def delete(self, image_id: str) -> None:
        self._table.delete_item(Key={"image_id": image_id})

    def check(self) -> str:
        """The table's health (GET /health): "ok", or the error code reading it gave."""
        try:
            self._table.load()
        except ClientError as exc:
            return exc.response.get("Error", {}).get("Code", "error")
        return "ok"
