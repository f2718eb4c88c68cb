"""The status table's shape: its keys, indexes and TTL (`table_definition`, `create_table`),
and the values a record's `status` and index keys take.

Table layout (docs/DATA-MODEL.md has the table and the migration):

    partition key      image_id (S)
    GSI by-created-sharded  kind_shard (S, "image#NN") / created_at   GET /images
    GSI by-status-sharded   status_shard (S, "COMPLETE#NN") / created_at   ?status=, the sweeper
    GSI by-owner            owner_shard (S, "OWNER#NN") / created_at   a caller's own images
    GSI by-webhook-sharded  due_shard (S, "due#NN") / webhook_next_at   sparse: records with a
                            notification still to send (the sweeper)
    TTL attribute      expires_at: set only on PENDING records and tombstones

Each partition value carries a shard suffix NN (SHARDS of them) derived from the image id,
so no index has a partition value that every record writes to: DynamoDB serves about
1,000 write units a second per partition value. Queries fan out over the shards
(fanout.py). The legacy indexes (by-created on `kind`, by-status on `status`, by-webhook
on `webhook_due`: one or four partition values, projection ALL) are read only while a
table migrates (STATUS_READS=legacy, imgpipe migrate-indexes); see DRAINING_INDEXES.
"""

import zlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

PENDING, PROCESSING, COMPLETE, FAILED = "PENDING", "PROCESSING", "COMPLETE", "FAILED"
STATUSES = (PENDING, PROCESSING, COMPLETE, FAILED)
# A tombstone: what DELETE /images/{id} leaves until `expires_at`, so that an
# invocation still working on the image, or an upload arriving late, finds it
# and removes what it wrote. Never listed nor returned by the API.
DELETED = "DELETED"

BY_STATUS, BY_CREATED, BY_WEBHOOK = "by-status", "by-created", "by-webhook"  # legacy, one partition each
BY_STATUS_SHARDED, BY_CREATED_SHARDED = "by-status-sharded", "by-created-sharded"
BY_WEBHOOK_SHARDED, BY_OWNER = "by-webhook-sharded", "by-owner"
KIND = "image"  # every listed record's `kind`: the legacy by-created index's one partition
DUE = "due"  # `webhook_due` of a record whose notification is still to send
TTL_ATTRIBUTE = "expires_at"

# 32 shards: at 5,000 images a second the busiest sharded partition value (PROCESSING#NN,
# a put and a delete per image) takes 5,000 × 2 / 32 ≈ 310 writes a second, under a third
# of DynamoDB's 1,000 (bench/scale.py prints the model). Changing it re-shards every
# record: run `imgpipe migrate-indexes` again with reads on the legacy indexes meanwhile.
SHARDS = 32
# The outbox's marks come and go several times per image (marked, leased, cleared: four
# index writes), so due#NN has twice the shards; only the sweeper reads it.
DUE_SHARDS = 64
KIND_SHARD, STATUS_SHARD, OWNER_SHARD, DUE_SHARD = "kind_shard", "status_shard", "owner_shard", "due_shard"
SHARD_ATTRIBUTES = (KIND_SHARD, STATUS_SHARD, OWNER_SHARD, DUE_SHARD)
# What the sweeper reads from by-status-sharded without a second read: the source key and
# the lease (stuck()). Every other index holds keys only: a list reads its page's records
# with one BatchGetItem, so a record's updates rewrite no index unless an index key changes.
STATUS_INDEX_ATTRIBUTES = ["source", "lease_until"]


def shard_count(value: str) -> int:
    return DUE_SHARDS if value == DUE else SHARDS


def shard_of(image_id: str, shards: int = SHARDS) -> int:
    """The image's shard: CRC-32 of its id, uniform over random and hashed ids alike."""
    return zlib.crc32(image_id.encode()) % shards


def sharded(value: str, image_id: str) -> str:
    """`value#NN`: a partition value spread over its shards by the image id."""
    return f"{value}#{shard_of(image_id, shard_count(value)):02d}"


def partitions(value: str) -> list[str]:
    """Every shard's partition value of `value`: what a query fans out over."""
    return [f"{value}#{n:02d}" for n in range(shard_count(value))]


def _index(name: str, hash_key: str, range_key: str, projection: dict) -> dict:
    return {
        "IndexName": name,
        "KeySchema": [
            {"AttributeName": hash_key, "KeyType": "HASH"},
            {"AttributeName": range_key, "KeyType": "RANGE"},
        ],
        "Projection": projection,
    }


KEYS_ONLY = {"ProjectionType": "KEYS_ONLY"}
SHARDED_INDEXES = [
    _index(BY_CREATED_SHARDED, KIND_SHARD, "created_at", KEYS_ONLY),
    _index(BY_STATUS_SHARDED, STATUS_SHARD, "created_at",
           {"ProjectionType": "INCLUDE", "NonKeyAttributes": STATUS_INDEX_ATTRIBUTES}),
    _index(BY_OWNER, OWNER_SHARD, "created_at", KEYS_ONLY),
    # Sparse: only records whose event or webhook is still to be sent (the sweeper's work).
    _index(BY_WEBHOOK_SHARDED, DUE_SHARD, "webhook_next_at", KEYS_ONLY),
]
# The unsharded indexes, read only while a table migrates (STATUS_READS=legacy). Their
# key attributes, `kind` and `webhook_due`, are written only then: afterwards they take
# no writes, and a later release drops them.
DRAINING_INDEXES = [
    _index(BY_CREATED, "kind", "created_at", {"ProjectionType": "ALL"}),
    _index(BY_WEBHOOK, "webhook_due", "webhook_next_at", {"ProjectionType": "ALL"}),
]
# On tables created before the sharded indexes only: keyed on `status`, which every record
# writes, so it cannot drain; the deploy paths drop it (legacy lists filter by-created instead).
LEGACY_STATUS_INDEX = _index(BY_STATUS, "status", "created_at", {"ProjectionType": "ALL"})


def table_definition(name: str, legacy: bool = False) -> dict:
    """CreateTable arguments for the status table (tests, local stack, docs); with
    `legacy`, as a table created before the sharded indexes was (tests of the migration)."""
    indexes = DRAINING_INDEXES + ([LEGACY_STATUS_INDEX] if legacy else SHARDED_INDEXES)
    key_attributes = {"image_id"} | {k["AttributeName"] for i in indexes for k in i["KeySchema"]}
    return {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": a, "AttributeType": "S"} for a in sorted(key_attributes)],
        "KeySchema": [{"AttributeName": "image_id", "KeyType": "HASH"}],
        "GlobalSecondaryIndexes": indexes,
    }


def create_table(client: "DynamoDBClient", name: str, legacy: bool = False) -> None:
    """Create the table with its TTL, and wait until it is usable."""
    client.create_table(**table_definition(name, legacy))
    client.get_waiter("table_exists").wait(TableName=name)
    client.update_time_to_live(
        TableName=name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
    )


def shard_values(item: dict) -> dict[str, str | None]:
    """The shard attributes `item` should carry (None: absent), from the attributes they
    spread: what every write keeps in step, and what migrate-indexes adds to old records."""
    image_id, status, owner = item["image_id"], item.get("status"), item.get("owner")
    return {
        KIND_SHARD: sharded(KIND, image_id) if status in STATUSES else None,
        STATUS_SHARD: sharded(status, image_id) if status in STATUSES else None,
        OWNER_SHARD: sharded(owner, image_id) if owner and status in STATUSES else None,
        DUE_SHARD: sharded(DUE, image_id) if "webhook_due" in item or DUE_SHARD in item else None,
    }
