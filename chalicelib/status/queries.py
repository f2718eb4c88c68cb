"""Index queries, never a table scan: the API's pages of records (`list`) and the
sweeper's records stuck in a status (`stuck`).

Reads go to the sharded indexes (fanout.py merges their shards), or, on a table still
being migrated (STATUS_READS=legacy), to the unsharded ones as before.
"""

from __future__ import annotations  # `list` below is a method name too

import builtins
from typing import TYPE_CHECKING, Any

from chalicelib.status.fanout import ShardedQuery
from chalicelib.status.records import decode_cursor, encode_cursor, legacy_cursor, plain, public_record
from chalicelib.status.schema import (
    BY_CREATED,
    BY_CREATED_SHARDED,
    BY_OWNER,
    BY_STATUS_SHARDED,
    DELETED,
    KIND,
    KIND_SHARD,
    OWNER_SHARD,
    STATUS_SHARD,
    partitions,
)
from chalicelib.status.writes import ConditionalWrites

# Index entries a page may look at beyond its `limit` before it is handed out short (a
# listing by owner and status reads the owner's entries and keeps those in the status).
MAX_EXAMINED = 1000
# Pages of by-created a sweep reads for one status while a table migrates (1 MB each at most).
LEGACY_PAGES = 10

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import QueryInputTableQueryTypeDef


class IndexQueries(ConditionalWrites):
    """Reads over many records, through the sharded indexes (or the legacy ones)."""

    def stuck(self, status: str, created_before: str, limit: int) -> list[dict]:
        """Up to `limit` records in `status` created before the given time, oldest first,
        with `source` and `lease_until` kept so the sweeper can tell a live claim from a dead one."""
        if self.legacy_reads:
            return self._stuck_legacy(status, created_before, limit)
        merged = ShardedQuery(self._table, BY_STATUS_SHARDED, STATUS_SHARD, "created_at", partitions(status),
                              newest_first=False, expected=limit,
                              range_condition=lambda key: key.lt(created_before))
        return [plain(i) for i in merged.take(limit)]

    def _stuck_legacy(self, status: str, created_before: str, limit: int) -> list[dict]:
        """by-created, oldest first, filtered by status: only while a table migrates, and
        at most LEGACY_PAGES pages a sweep (the next sweep goes on from the oldest again)."""
        from boto3.dynamodb.conditions import Attr, Key

        query: QueryInputTableQueryTypeDef = {
            "IndexName": BY_CREATED, "FilterExpression": Attr("status").eq(status),
            "KeyConditionExpression": Key("kind").eq(KIND) & Key("created_at").lt(created_before),
        }
        items: list[dict] = []
        for _ in range(LEGACY_PAGES):
            page = self._table.query(**query)
            items += [plain(i) for i in page.get("Items", [])]
            if "LastEvaluatedKey" not in page or len(items) >= limit:
                break
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return items[:limit]

    def list(
        self, status: str | None, limit: int, cursor: str | None, owner: str | None = None
    ) -> tuple[list[dict], str | None]:
        """Newest first, `limit` records a page (fewer only on the last page, or when a
        listing by owner and status looked at MAX_EXAMINED entries without filling it).

        The index entries are keys: the page's records are read with one BatchGetItem.
        A record deleted or moved on between the two reads is left out, and the page
        filled from the next entries.
        """
        if self.legacy_reads:
            return self._list_legacy(status, limit, cursor, owner)
        start = decode_cursor(cursor, status) if cursor is not None else None  # "" is a bad cursor
        if owner:
            index, hash_attr, values = BY_OWNER, OWNER_SHARD, partitions(owner)
        elif status:
            index, hash_attr, values = BY_STATUS_SHARDED, STATUS_SHARD, partitions(status)
        else:
            index, hash_attr, values = BY_CREATED_SHARDED, KIND_SHARD, partitions(KIND)
        merged = ShardedQuery(self._table, index, hash_attr, "created_at", values, newest_first=True,
                              expected=limit, start=start)
        records: list[dict] = []
        examined = 0
        while len(records) < limit and examined < limit + MAX_EXAMINED:
            keys = merged.take(limit - len(records))
            if not keys:
                break
            examined += len(keys)
            found = self._read_many([k["image_id"] for k in keys])
            for key in keys:
                item = found.get(key["image_id"])
                if item is None or item.get("status") == DELETED:
                    continue
                if (status and item.get("status") != status) or (owner and item.get("owner") != owner):
                    continue
                records.append(public_record(item))
        return records, encode_cursor(merged.position(), status)

    def _list_legacy(
        self, status: str | None, limit: int, cursor: str | None, owner: str | None
    ) -> tuple[builtins.list[dict], str | None]:
        """One query of the unsharded by-created index; with a status or an owner, other
        records are filtered out after the read, so a page can hold fewer than `limit` items."""
        from boto3.dynamodb.conditions import Attr, Key

        query: QueryInputTableQueryTypeDef = {"Limit": limit, "ScanIndexForward": False, "IndexName": BY_CREATED,
                                 "KeyConditionExpression": Key("kind").eq(KIND)}
        if cursor is not None:  # an empty cursor is a bad one, not none
            created_at, image_id = decode_cursor(cursor, status).at
            query["ExclusiveStartKey"] = {"image_id": image_id, "created_at": created_at, "kind": KIND}
        filters = ([Attr("status").eq(status)] if status else []) + ([Attr("owner").eq(owner)] if owner else [])
        if filters:
            query["FilterExpression"] = filters[0] if len(filters) == 1 else filters[0] & filters[1]
        page = self._table.query(**query)
        return [public_record(i) for i in page.get("Items", [])], legacy_cursor(page.get("LastEvaluatedKey"))

    def _read_many(self, image_ids: builtins.list[str]) -> dict[str, dict]:
        """The records of up to 100 ids (one BatchGetItem, and again for any it left unprocessed)."""
        # The resource's client: it takes and gives Python values, as the Table does.
        # Typed as the low-level client, but the resource's own one converts values both ways.
        client: Any = self._table.meta.client
        name = self._table.name
        request = {name: {"Keys": [{"image_id": i} for i in dict.fromkeys(image_ids)]}}
        found: dict[str, dict] = {}
        for _ in range(8):
            answer = client.batch_get_item(RequestItems=request)
            for item in answer.get("Responses", {}).get(name, []):
                found[item["image_id"]] = item
            request = answer.get("UnprocessedKeys") or {}
            if not request:
                return found
        raise RuntimeError("DynamoDB kept some of a page's records unprocessed; try again")
