"""The status table's shape: its keys, indexes and TTL (`table_definition`, `create_table`),
and the values a record's `status` and index keys take.

Table layout (also in the README):

    partition key  image_id (S)
    GSI by-status  status (S) / created_at (S)      GET /images?status=...
    GSI by-created kind (S, always "image") / created_at (S)   GET /images
    GSI by-webhook webhook_due (S, "due") / webhook_next_at (S)   sparse: only records
                   with a notification (event or webhook) still to send; the sweeper
    TTL attribute  expires_at: set only on PENDING records and tombstones, so
                   uploads that never arrive, and deleted images' tombstones,
                   disappear a day after their URL expired
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

PENDING, PROCESSING, COMPLETE, FAILED = "PENDING", "PROCESSING", "COMPLETE", "FAILED"
STATUSES = (PENDING, PROCESSING, COMPLETE, FAILED)
# A tombstone: what DELETE /images/{id} leaves until `expires_at`, so that an
# invocation still working on the image, or an upload arriving late, finds it
# and removes what it wrote. Never listed nor returned by the API.
DELETED = "DELETED"

BY_STATUS, BY_CREATED, BY_WEBHOOK = "by-status", "by-created", "by-webhook"
KIND = "image"  # every listed record's `kind`: the by-created index's one partition
DUE = "due"  # `webhook_due` of a record whose notification is still to send: by-webhook's one partition
TTL_ATTRIBUTE = "expires_at"


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
            by(BY_STATUS, "status"), by(BY_CREATED, "kind"),
            # Sparse: only records whose event or webhook is still to be sent (the sweeper's work).
            by(BY_WEBHOOK, "webhook_due", "webhook_next_at"),
        ],
    }


def create_table(client: "DynamoDBClient", name: str) -> None:
    """Create the table with its TTL, and wait until it is usable."""
    client.create_table(**table_definition(name))
    client.get_waiter("table_exists").wait(TableName=name)
    client.update_time_to_live(
        TableName=name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
    )
