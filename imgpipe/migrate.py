"""`python -m imgpipe migrate-indexes`: give every status record the shard attributes the
sharded indexes are keyed on (docs/DATA-MODEL.md#migrating-a-table).

One pass of Scan over the table; each record whose shard attributes are missing or wrong
gets them in one conditional update (on `version`: a record the pipeline changed
meanwhile is read again, and the pipeline's own write has set them already). `version`
is left as it is, so no invocation loses a write to the migration. Safe to run again.
"""

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.status import shard_values
from chalicelib.status.writes import is_condition_failure

# The legacy indexes' key attributes, removed with --drop-legacy once reads are sharded.
LEGACY_KEYS = ("kind", "webhook_due")


def changes(item: dict, drop_legacy: bool) -> tuple[dict[str, str], list[str]]:
    """(attributes to set, attributes to remove) to bring `item` to the sharded layout."""
    sets, removes = {}, []
    for name, value in shard_values(item).items():
        if value is None and name in item:
            removes.append(name)
        elif value is not None and item.get(name) != value:
            sets[name] = value
    if drop_legacy:
        removes += [name for name in LEGACY_KEYS if name in item]
    return sets, removes


def migrate_record(table: Any, item: dict, drop_legacy: bool, retries: int = 3) -> str:
    """"migrated", or "current" when the record needed nothing (any more)."""
    for _ in range(retries):
        sets, removes = changes(item, drop_legacy)
        if not sets and not removes:
            return "current"
        names = {f"#a{n}": name for n, name in enumerate([*sets, *removes])}
        by_name = {v: k for k, v in names.items()}
        parts = []
        if sets:
            parts.append("SET " + ", ".join(f"{by_name[name]} = :v{n}" for n, name in enumerate(sets)))
        if removes:
            parts.append("REMOVE " + ", ".join(by_name[name] for name in removes))
        values: dict[str, Any] = {f":v{n}": value for n, value in enumerate(sets.values())}
        if "version" in item:
            condition, values[":seen"] = "version = :seen", item["version"]
        else:
            condition = "attribute_exists(image_id) AND attribute_not_exists(version)"
        try:
            table.update_item(Key={"image_id": item["image_id"]}, UpdateExpression=" ".join(parts),
                              ConditionExpression=condition, ExpressionAttributeNames=names,
                              **({"ExpressionAttributeValues": values} if values else {}))
            return "migrated"
        except ClientError as exc:
            if not is_condition_failure(exc):
                raise
        item = table.get_item(Key={"image_id": item["image_id"]}, ConsistentRead=True).get("Item")
        if item is None:
            return "current"  # deleted meanwhile
    return "busy"


def scan(table: Any, segment: int, segments: int) -> Iterator[dict]:
    query: dict[str, Any] = {"Segment": segment, "TotalSegments": segments} if segments > 1 else {}
    while True:
        page = table.scan(**query)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def migrate_table(table: Any, check: bool = False, drop_legacy: bool = False, segment: int = 0,
                  segments: int = 1, progress: Callable[[Counter], None] | None = None) -> Counter:
    """Count of records by outcome: migrated, current, busy (changing throughout: run
    again), or with `check`, `to migrate` (nothing written)."""
    counts: Counter = Counter()
    for item in scan(table, segment, segments):
        if check:
            counts["to migrate" if any(changes(item, drop_legacy)) else "current"] += 1
        else:
            counts[migrate_record(table, item, drop_legacy)] += 1
        if progress and sum(counts.values()) % 1000 == 0:
            progress(counts)
    return counts


def migrate_local_table(endpoint_url: str, region: str, table: str) -> Counter:
    """The local stack's table after a restart, its legacy attributes dropped (STATUS_READS=sharded)."""
    import boto3

    dynamodb = boto3.session.Session().resource("dynamodb", endpoint_url=endpoint_url, region_name=region)
    return migrate_table(dynamodb.Table(table), drop_legacy=True)
