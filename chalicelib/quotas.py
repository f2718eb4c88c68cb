"""Per-user daily limits on uploads and bytes: a counter item per owner per UTC day.

Counted when POST /uploads issues a link, not when the file arrives: a link is
the cost (a PENDING record, a resize when used). The bytes are the declared
size, or MAX_UPLOAD_BYTES when none is declared, since the presigned policy
then admits that much. The items live in the status table under keys no image
id can take (`usage#DAY#OWNER`, image ids are 32 hex digits), carry no `kind`
or `status` (so no index lists them) and expire with DynamoDB's TTL.
"""

import time
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from chalicelib.errors import QuotaExceededError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

KEEP_SECONDS = 2 * 24 * 3600


def usage_key(owner: str, now: float) -> str:
    return f"usage#{time.strftime('%Y-%m-%d', time.gmtime(now))}#{owner}"


class DailyUsage:
    def __init__(self, table: "Table", uploads_per_day: int, bytes_per_day: int) -> None:
        self._table = table
        self.uploads_per_day = uploads_per_day
        self.bytes_per_day = bytes_per_day

    def spend(self, owner: str, size: int, now: float) -> None:
        """Count one upload of `size` bytes for `owner` today, or raise QuotaExceededError (nothing counted)."""
        if self.bytes_per_day and size > self.bytes_per_day:
            raise QuotaExceededError(
                f"This upload ({size} bytes) is larger than the {self.bytes_per_day} bytes a user may upload in a day.")
        conditions, values = [], {":one": 1, ":size": size, ":expires": int(now) + KEEP_SECONDS}
        # The condition is the limit: the counters only move while both stay within it, so two
        # requests at once cannot both take the last upload of the day.
        if self.uploads_per_day:
            conditions.append("(attribute_not_exists(uploads) OR uploads < :max_uploads)")
            values[":max_uploads"] = self.uploads_per_day
        if self.bytes_per_day:
            conditions.append("(attribute_not_exists(#bytes) OR #bytes <= :room)")
            values[":room"] = self.bytes_per_day - size
        if not conditions:
            return
        try:
            self._table.update_item(
                Key={"image_id": usage_key(owner, now)},
                UpdateExpression="ADD uploads :one, #bytes :size SET expires_at = if_not_exists(expires_at, :expires)",
                ConditionExpression=" AND ".join(conditions),
                ExpressionAttributeNames={"#bytes": "bytes"},
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            raise QuotaExceededError(
                f"You have reached today's upload limit ({self.uploads_per_day} uploads or "
                f"{self.bytes_per_day} bytes a day); it starts again at midnight UTC.") from None
