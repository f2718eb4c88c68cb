"""Cover claims: re-rendering the cover renditions of a COMPLETE record in place after
its focal point changed, under a claim token and lease of their own.
"""

import secrets

from chalicelib.errors import ImageBusyError
from chalicelib.status.records import Claim, plain, rendition_keys, rerendering, stored_focus
from chalicelib.status.schema import COMPLETE
from chalicelib.status.writes import CLAIM_RETRIES, ConditionalWrites


class CoverClaims(ConditionalWrites):
    """claim_covers → finish_covers | release_covers, while the record stays COMPLETE."""

    def claim_covers(self, image_id: str, etag: str, now_epoch: float, lease_seconds: int) -> Claim | None:
        """Take the right to re-render the cover renditions of a COMPLETE record of
        this ETag whose focus differs from the one its covers were made with.

        The status stays COMPLETE (the old covers are valid until replaced); the
        claim token and lease keep two re-renders, or a re-render and a new
        upload's processing, from interleaving. None when there is nothing to do;
        ImageBusyError while another re-render holds a live lease.
        """
        for _ in range(CLAIM_RETRIES):
            item = self._read(image_id)
            if not item or item.get("status") != COMPLETE or item.get("source", {}).get("etag") != etag:
                return None
            if item.get("focus") == item.get("cover_focus"):
                return None
            if rerendering(item, now_epoch):
                raise ImageBusyError(f"{image_id} is having its covers re-rendered")
            token = secrets.token_hex(16)
            # Exactly the record we read: the focus we will render is its focus.
            if not self._update_seen(
                item, "SET claim_token = :token, lease_until = :lease, version = version + :one",
                {":token": token, ":lease": int(now_epoch + lease_seconds)},
            ):
                continue
            return Claim(image_id, token, int(item.get("attempts", 1)), plain(item.get("focus")),
                         rendition_keys(item), tuple(plain(item.get("renditions", []))))
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
