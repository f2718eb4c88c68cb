"""Index queries, never a table scan: the API's pages of records (`list`) and the
sweeper's records stuck in a status (`stuck`).
"""

from typing import TYPE_CHECKING

from chalicelib.status.records import decode_cursor, encode_cursor, plain, public_record
from chalicelib.status.schema import BY_CREATED, BY_STATUS, KIND
from chalicelib.status.writes import ConditionalWrites

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import QueryInputTableQueryTypeDef


class IndexQueries(ConditionalWrites):
    """Reads over many records, through the by-status and by-created indexes."""

    def stuck(self, status: str, created_before: str, limit: int) -> list[dict]:
        """Up to `limit` records in `status` created before the given time, oldest first,
        with `lease_until` kept so the sweeper can tell a live claim from a dead one."""
        from boto3.dynamodb.conditions import Key

        query: QueryInputTableQueryTypeDef = {
            "IndexName": BY_STATUS,
            "KeyConditionExpression": Key("status").eq(status) & Key("created_at").lt(created_before),
        }
        items: list[dict] = []
        while len(items) < limit:
            query["Limit"] = limit - len(items)
            page = self._table.query(**query)
            items += [plain(i) for i in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                break
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return items

    def list(
        self, status: str | None, limit: int, cursor: str | None, owner: str | None = None
    ) -> tuple[list[dict], str | None]:
        """Newest first, one index query per page (never a table scan).

        With an owner, other owners' records are filtered out after the read,
        so a page can hold fewer than `limit` items; follow `next_cursor`.
        """
        from boto3.dynamodb.conditions import Attr, Key

        query: QueryInputTableQueryTypeDef = {"Limit": limit, "ScanIndexForward": False}
        if status:
            query.update({"IndexName": BY_STATUS, "KeyConditionExpression": Key("status").eq(status)})
        else:
            query.update({"IndexName": BY_CREATED, "KeyConditionExpression": Key("kind").eq(KIND)})
        if cursor is not None:  # an empty cursor is a bad one, not none
            query["ExclusiveStartKey"] = decode_cursor(cursor, status)
        if owner:
            query["FilterExpression"] = Attr("owner").eq(owner)
        page = self._table.query(**query)
        return [public_record(i) for i in page.get("Items", [])], encode_cursor(page.get("LastEvaluatedKey"))
