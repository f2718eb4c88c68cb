"""Sharded indexes: lists merged over 32 shards (every record once, newest first, `limit` a
page), the owner index, cursors, and the migration from the unsharded indexes."""

import boto3
import pytest

from chalicelib.errors import InvalidRequestError
from chalicelib.status import COMPLETE, PENDING, SHARDS, DynamoStatusStore, decode_cursor, shard_values
from chalicelib.status.schema import shard_of
from imgpipe.migrate import migrate_table

SOURCE = {"bucket": "in", "key": "k", "bytes": 1, "etag": "e"}


def table():
    return boto3.resource("dynamodb", region_name="us-east-1").Table("imgpipe-test-status")


@pytest.fixture
def store(aws):
    return DynamoStatusStore(table())


def at(n: int) -> str:
    return f"2026-01-01T00:{n // 60:02d}:{n % 60:02d}.000Z"


def add(store, n: int, created: str, owner: str | None = None) -> str:
    image_id = f"{n:032x}"
    store.create_pending(image_id, "in", f"uploads/{image_id}/a.jpg", created, 1, owner)
    return image_id


def every_page(store, limit, status=None, owner=None, between=None):
    """Each page's ids, following next_cursor to the end; `between(page_number)` runs between pages."""
    pages, cursor = [], None
    while True:
        items, cursor = store.list(status, limit, cursor, owner)
        pages.append([(i["created_at"], i["image_id"]) for i in items])
        if cursor is None:
            return pages
        if between:
            between(len(pages))


def newest_first(pairs):
    return sorted(pairs, reverse=True)


@pytest.mark.parametrize("limit", [2, 7, 100])
def test_pages_hold_every_record_once_newest_first_across_shards(store, limit):
    # 50 records over 32 shards; 15 of them share one created_at, across shards (ties).
    records = [(at(n if n < 35 else 20), add(store, n, at(n if n < 35 else 20))) for n in range(50)]
    assert len({shard_of(i) for _, i in records}) > SHARDS // 2
    pages = every_page(store, limit)
    listed = [pair for page in pages for pair in page]
    assert listed == newest_first(records)
    assert all(len(page) == limit for page in pages[:-1]) and 0 < len(pages[-1]) <= limit


def test_records_added_between_pages_do_not_break_the_order(store):
    old = [(at(n), add(store, n, at(n))) for n in range(40)]
    added = []

    def insert(page_number):  # new uploads, and one older than the page boundary (a slow clock)
        added.append((at(100 + page_number), add(store, 1000 + page_number, at(100 + page_number))))

    listed = [pair for page in every_page(store, 6, between=insert) for pair in page]
    assert listed == newest_first(old)  # none of the newer ones, every old one exactly once
    assert len(added) == 6


def test_status_listing_is_sharded_and_filtered(store):
    ids = [add(store, n, at(n)) for n in range(12)]
    for image_id in ids[:5]:
        claim = store.claim(image_id, {**SOURCE, "key": f"uploads/{image_id}/a.jpg"}, at(50), 1e9, 60)
        store.complete(claim, SOURCE, [], at(51))
    complete = [pair for page in every_page(store, 2, COMPLETE) for pair in page]
    assert [i for _, i in complete] == ids[:5][::-1]
    pending = [pair for page in every_page(store, 4, PENDING) for pair in page]
    assert [i for _, i in pending] == ids[5:][::-1]


def test_owner_index_lists_one_owners_records_only(store):
    mine = [add(store, n, at(n), owner="alice") for n in range(0, 30, 2)]
    theirs = [add(store, n, at(n), owner="bob") for n in range(1, 30, 2)]
    pages = every_page(store, 4, owner="alice")
    assert [i for page in pages for _, i in page] == mine[::-1]
    assert all(len(page) == 4 for page in pages[:-1])
    assert [i["image_id"] for i in store.list(None, 100, None, "bob")[0]] == theirs[::-1]
    store.tombstone(mine[-1], at(99), 1, refuses_uploads=True)
    assert [i["image_id"] for i in store.list(None, 100, None, "alice")[0]] == mine[-2::-1]
    item = table().get_item(Key={"image_id": mine[-1]})["Item"]
    assert shard_values(item) == {k: None for k in ("kind_shard", "status_shard", "owner_shard")} | {
        "due_shard": None} and not {"kind_shard", "status_shard", "owner_shard"} & item.keys()


@pytest.mark.parametrize("cursor", [
    "", "e30", f"2026-01-01T00:00:00.000Z~{'a' * 32}~*0000000",  # a mask of 7 digits
    f"2026-01-01T00:00:00.000Z~{'a' * 32}~X00000000", f"2026-01-01T00:00:00.000Z~{'A' * 32}~*00000000",
    f"2026-01-01~{'a' * 32}~*00000000", f"2026-01-01T00:00:00.000Z~{'a' * 32}~*00000000~",
])
def test_forged_cursors_are_refused(store, cursor):
    with pytest.raises(InvalidRequestError):
        store.list(None, 5, cursor)


def test_a_cursor_keeps_its_done_shards_in_its_own_listing_only(store):
    ids = [add(store, n, at(n)) for n in range(40)]
    items, cursor = store.list(None, 30, None)
    assert cursor.endswith(tuple("0123456789abcdef")) and cursor.split("~")[2][0] == "*"
    done = decode_cursor(cursor, None).done
    # Shards whose last read showed nothing more (a full read may not know yet).
    assert done and done <= set(range(SHARDS)) - {shard_of(i) for i in ids[:10]}
    assert decode_cursor(cursor, COMPLETE).done == frozenset()  # another index's shards: position only
    rest, last = store.list(None, 30, cursor)
    assert [i["image_id"] for i in items + rest] == ids[::-1] and last is None


def test_a_cursor_of_the_unsharded_indexes_goes_on_where_it_was(store):
    ids = [add(store, n, at(n)) for n in range(10)]
    items, _ = store.list(None, 3, f"{at(6)}~{ids[6]}")
    assert [i["image_id"] for i in items] == [ids[5], ids[4], ids[3]]


def old_record(n: int, status: str = COMPLETE, **extra) -> dict:
    """A record as the code before the sharded indexes wrote it."""
    image_id = f"{n:032x}"
    return {"image_id": image_id, "status": status, "kind": "image", "created_at": at(n), "updated_at": at(n),
            "source": {"bucket": "in", "key": f"uploads/{image_id}/a.jpg", "etag": "e"}, "attempts": 1,
            "version": 2, **extra}


def test_migration_old_records_stay_listed_then_move_to_the_sharded_indexes(aws):
    for n in range(6):
        table().put_item(Item=old_record(n, webhook_due="due", webhook_next_at=at(n)) if n == 0 else old_record(n))
    table().put_item(Item=old_record(6, PENDING, owner="alice"))
    legacy = DynamoStatusStore(table(), legacy_reads=True)
    # During the change: new records are written with both shapes, reads use the old indexes.
    new_id = add(legacy, 7, at(7), owner="alice")
    assert table().get_item(Key={"image_id": new_id})["Item"]["kind"] == "image"
    everything = [f"{n:032x}" for n in range(7, -1, -1)]
    assert [i["image_id"] for i in legacy.list(None, 100, None)[0]] == everything
    assert [i["image_id"] for i in legacy.list(COMPLETE, 100, None)[0]] == everything[2:]
    assert legacy.due_notifications(at(59), 10) == [f"{0:032x}"]
    assert [r["image_id"] for r in legacy.stuck(PENDING, at(59), 10)] == [f"{6:032x}", new_id]
    sharded = DynamoStatusStore(table())
    assert len(sharded.list(None, 100, None)[0]) == 1  # only the record written during the change

    assert migrate_table(table(), check=True)["to migrate"] == 7
    assert migrate_table(table())["migrated"] == 7
    assert migrate_table(table(), check=True) == {"current": 8}
    assert [i["image_id"] for i in sharded.list(None, 100, None)[0]] == everything
    assert [i["image_id"] for i in sharded.list(None, 3, None, owner="alice")[0]] == [new_id, f"{6:032x}"]
    assert sharded.due_notifications(at(59), 10) == [f"{0:032x}"]
    assert [r["source"]["key"] for r in sharded.stuck(PENDING, at(59), 10)] == [
        f"uploads/{6:032x}/a.jpg", f"uploads/{new_id}/a.jpg"]
    # After the switch: the old indexes' keys go, and no write puts them back.
    assert migrate_table(table(), drop_legacy=True)["migrated"] == 8
    assert not any("kind" in i or "webhook_due" in i for i in table().scan()["Items"])
    add(sharded, 8, at(8))
    assert "kind" not in table().get_item(Key={"image_id": f"{8:032x}"})["Item"]


def test_migration_loses_no_concurrent_write(aws):
    table().put_item(Item=old_record(1))
    item = table().get_item(Key={"image_id": f"{1:032x}"})["Item"]
    store = DynamoStatusStore(table())
    store.tombstone(item["image_id"], at(9), 1, refuses_uploads=False)  # between the scan and the update
    from imgpipe.migrate import migrate_record

    assert migrate_record(table(), item, drop_legacy=False) == "current"
    after = table().get_item(Key={"image_id": item["image_id"]})["Item"]
    assert after["status"] == "DELETED" and "status_shard" not in after


def test_migration_keeps_the_due_mark_of_a_record_written_after_the_switch(store):
    image_id = add(store, 1, at(1))
    claim = store.claim(image_id, {**SOURCE, "key": f"uploads/{image_id}/a.jpg"}, at(2), 1e9, 60)
    store.complete(claim, SOURCE, [], at(3))
    item = table().get_item(Key={"image_id": image_id})["Item"]
    assert "due_shard" in item and "webhook_due" not in item and "kind" not in item
    assert migrate_table(table(), check=True, drop_legacy=True) == {"current": 1}
    assert store.due_notifications(at(9), 10) == [image_id]
