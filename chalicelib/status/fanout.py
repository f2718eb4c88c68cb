"""One ordered stream out of an index's shards: a query per shard partition value, merged.

Each shard is read lazily, a few keys at a time, so a page of `limit` records reads about
`limit` index entries plus one small query per shard, whatever the table holds. The
stream hands out items in (range key, image_id) order, newest or oldest first, and knows
after each item where every shard stands (`position`), which is what a cursor keeps.
"""

import math
from collections import deque
from typing import Any

from chalicelib.status.records import Position


class ShardedQuery:
    """Items of `index` whose `hash_attr` is one of `partitions`, merged by (`range_attr`, image_id)."""

    def __init__(
        self, table: Any, index: str, hash_attr: str, range_attr: str, partitions: list[str],
        newest_first: bool, expected: int, start: Position | None = None, range_condition: Any = None,
    ) -> None:
        self._table, self._index, self._hash, self._range = table, index, hash_attr, range_attr
        self._newest_first, self._range_condition = newest_first, range_condition
        # Enough per query that a page rarely needs a second round trip to any shard.
        self._batch = max(4, 2 * math.ceil(expected / len(partitions)))
        done = start.done if start else frozenset()
        self._shards = {n: p for n, p in enumerate(partitions) if n not in done}
        self._done = set(done)
        self._buffers: dict[int, deque] = {n: deque() for n in self._shards}
        # ExclusiveStartKey of each shard's next query; None: it has not been read yet.
        self._next: dict[int, dict | None] = {n: self._start_key(p, start) for n, p in self._shards.items()}
        self._read: set[int] = set()
        self._last: tuple[str, str] | None = start.at if start else None
        self.queries = 0

    def _start_key(self, partition: str, start: Position | None) -> dict | None:
        if start is None:
            return None
        return {self._hash: partition, self._range: start.at[0], "image_id": start.at[1]}

    def _fill(self, n: int) -> None:
        """Read shard n's next few entries, unless it has none left; marks it done when so."""
        from boto3.dynamodb.conditions import Key

        condition = Key(self._hash).eq(self._shards[n])
        if self._range_condition is not None:
            condition = condition & self._range_condition(Key(self._range))
        query: dict[str, Any] = {"IndexName": self._index, "KeyConditionExpression": condition,
                                 "ScanIndexForward": not self._newest_first, "Limit": self._batch}
        if self._next[n] is not None:
            query["ExclusiveStartKey"] = self._next[n]
        page = self._table.query(**query)
        self.queries += 1
        self._read.add(n)
        self._buffers[n].extend(page.get("Items", []))
        self._next[n] = page.get("LastEvaluatedKey")
        if self._next[n] is None:
            self._done.add(n)  # nothing past what is buffered

    def _head(self, n: int) -> dict | None:
        while not self._buffers[n] and n not in self._done:
            self._fill(n)
        return self._buffers[n][0] if self._buffers[n] else None

    def _order(self, item: dict) -> tuple[str, str]:
        return item[self._range], item["image_id"]

    def next(self) -> dict | None:
        """The next item in order across every shard; None when all are exhausted."""
        best, best_n = None, -1
        for n in self._shards:
            head = self._head(n)
            if head is None:
                continue
            if best is None or (self._order(head) > self._order(best)) == self._newest_first:
                best, best_n = head, n
        if best is None:
            return None
        self._buffers[best_n].popleft()
        self._last = self._order(best)
        return best

    def take(self, count: int) -> list[dict]:
        items: list[dict] = []
        while len(items) < count and (item := self.next()) is not None:
            items.append(item)
        return items

    @property
    def exhausted(self) -> bool:
        return all(n in self._done and not self._buffers[n] for n in self._shards)

    def position(self) -> Position | None:
        """Where the stream stands (a cursor's content); None when it has nothing left."""
        if self.exhausted or self._last is None:
            return None
        return Position(self._last, frozenset(n for n in self._done if not self._buffers.get(n)))
