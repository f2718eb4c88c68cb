"""How the store reads and writes one record: a consistent read, and update_item under a
condition, where a failed condition is an answer (someone moved the record), not an error.

Every write after the first is conditional on `version`, the counter the store
increments on each change: a writer that read a stale record loses instead of
overwriting a newer state (optimistic concurrency).
"""

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import TypedDict, Unpack

    from mypy_boto3_dynamodb.literals import ReturnValueType
    from mypy_boto3_dynamodb.service_resource import Table
    from mypy_boto3_dynamodb.type_defs import TableAttributeValueTypeDef, UpdateItemOutputTableTypeDef

    class UpdateRequest(TypedDict, total=False):
        """update_item's arguments that the store uses, all but the Key."""

        UpdateExpression: str
        ConditionExpression: str
        ExpressionAttributeNames: Mapping[str, str]
        ExpressionAttributeValues: Mapping[str, TableAttributeValueTypeDef]
        ReturnValues: ReturnValueType

# How often a read-decide-write loop starts over when the record moved under it.
CLAIM_RETRIES = 5


def is_condition_failure(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class ConditionalWrites:
    """The table, and the reads and conditional writes every part of the store builds on."""

    def __init__(self, table: "Table", legacy_reads: bool = False) -> None:
        self._table = table
        # Queries go to the unsharded indexes of a table whose records are not all
        # migrated yet (STATUS_READS=legacy; docs/DATA-MODEL.md#migrating-a-table).
        self.legacy_reads = legacy_reads

    def _legacy_set(self, name: str, placeholder: str, value: str) -> tuple[str, dict]:
        """`, name = placeholder` and its value while the table migrates (STATUS_READS=legacy),
        nothing after the switch: the key attributes of the legacy indexes (`kind`,
        `webhook_due`) are then no longer written, so those indexes take no more writes."""
        return (f", {name} = {placeholder}", {placeholder: value}) if self.legacy_reads else ("", {})

    def _read(self, image_id: str) -> dict | None:
        """The item as it is now (a consistent read), bookkeeping included; None if absent."""
        return self._table.get_item(Key={"image_id": image_id}, ConsistentRead=True).get("Item")

    def _update(
        self, image_id: str, **request: "Unpack[UpdateRequest]"
    ) -> "UpdateItemOutputTableTypeDef | None":
        """update_item on one record; None when its ConditionExpression failed (the
        record is not as the caller expects: someone moved it meanwhile)."""
        try:
            return self._table.update_item(Key={"image_id": image_id}, **request)
        except ClientError as exc:
            if is_condition_failure(exc):
                return None
            raise

    def _update_seen(self, item: dict, update: str, values: dict, names: dict | None = None) -> bool:
        """An update of exactly the item we read (`version`); False when it changed meanwhile."""
        request: UpdateRequest = {
            "UpdateExpression": update, "ConditionExpression": "version = :seen",
            "ExpressionAttributeValues": {**values, ":seen": item["version"], ":one": 1},
        }
        if names:  # DynamoDB rejects an empty ExpressionAttributeNames
            request["ExpressionAttributeNames"] = names
        return self._update(item["image_id"], **request) is not None
