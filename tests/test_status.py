"""status.py: the record's transitions are conditional and only go forward."""

import pytest

from chalicelib.errors import ImageBusyError, InvalidRequestError
from chalicelib.status import COMPLETE, FAILED, PENDING, PROCESSING, DynamoStatusStore

ID = "0" * 31 + "1"
SOURCE = {"bucket": "in", "key": "uploads/x/a.jpg", "bytes": 10, "etag": "etag-1"}
NOW = 1_800_000_000.0


@pytest.fixture
def store(aws):
    import boto3

    return DynamoStatusStore(boto3.resource("dynamodb", region_name="us-east-1").Table("imgpipe-test-status"))


def claim(store, source=SOURCE, now=NOW, lease=60):
    return store.claim(ID, source, "t", now, lease)


def test_pending_record_then_claim_then_complete(store):
    store.create_pending(ID, "in", SOURCE["key"], "2026-01-01T00:00:00Z", 123)
    assert store.get(ID)["status"] == PENDING
    first = claim(store)
    record = store.get(ID)
    assert record["status"] == PROCESSING and record["attempts"] == 1
    assert "expires_at" not in record and "claim_token" not in record  # bookkeeping stays private
    assert store.complete(first, {**SOURCE, "width": 1}, [{"name": "default"}], "t2")
    record = store.get(ID)
    assert record["status"] == COMPLETE and record["renditions"] == [{"name": "default"}]
    assert record["created_at"] == "2026-01-01T00:00:00Z" and record["updated_at"] == "t2"


def test_pending_id_collision_fails_instead_of_overwriting(store):
    from botocore.exceptions import ClientError

    store.create_pending(ID, "in", "k", "t", 1)
    with pytest.raises(ClientError):
        store.create_pending(ID, "in", "k2", "t", 1)


def test_duplicate_of_a_finished_etag_does_no_work(store):
    assert store.complete(claim(store), SOURCE, [], "t")
    assert claim(store) is None
    other = {**SOURCE, "etag": "etag-2"}
    second = claim(store, other)
    assert second is not None and second.attempts == 1
    assert store.fail(second, "corrupt_image", "bad", "t")
    assert claim(store, other) is None
    assert store.get(ID)["error"] == {"code": "corrupt_image", "message": "bad"}


def test_live_lease_makes_a_concurrent_claim_retry_later(store):
    claim(store)
    with pytest.raises(ImageBusyError):
        claim(store, now=NOW + 30)
    with pytest.raises(ImageBusyError):  # a new ETag waits too: outputs share keys
        claim(store, {**SOURCE, "etag": "etag-2"}, now=NOW + 30)


def test_expired_lease_is_taken_over_and_the_old_holder_cannot_finish(store):
    stale = claim(store)
    fresh = claim(store, now=NOW + 61)
    assert fresh.attempts == 2
    assert not store.complete(stale, SOURCE, [], "late")
    assert not store.fail(stale, "internal_error", "late", "late")
    assert store.get(ID)["status"] == PROCESSING
    assert store.complete(fresh, SOURCE, [], "t")
    assert store.get(ID)["status"] == COMPLETE


def test_release_lets_a_retry_take_over_at_once(store):
    first = claim(store)
    assert store.release(first, "t")
    assert claim(store, now=NOW + 1).attempts == 2


def test_failed_record_has_no_stale_renditions_after_a_new_upload(store):
    store.complete(claim(store), SOURCE, [{"name": "default"}], "t")
    claim(store, {**SOURCE, "etag": "etag-2"})
    assert "renditions" not in store.get(ID)


def test_listing_is_newest_first_paginated_and_filtered(store):
    ids = []
    for n in range(5):
        image_id = f"{n:032x}"
        ids.append(image_id)
        store.create_pending(image_id, "in", f"k{n}", f"2026-01-0{n + 1}T00:00:00Z", 1)
    done = store.claim(ids[1], {**SOURCE, "key": "k1"}, "2026-02-01T00:00:00Z", NOW, 60)
    store.complete(done, SOURCE, [], "t")
    page, cursor = store.list(None, 2, None)
    assert [r["image_id"] for r in page] == [ids[4], ids[3]] and cursor
    page2, cursor2 = store.list(None, 2, cursor)
    assert [r["image_id"] for r in page2] == [ids[2], ids[1]]
    page3, cursor3 = store.list(None, 2, cursor2)
    assert [r["image_id"] for r in page3] == [ids[0]] and cursor3 is None
    assert [r["image_id"] for r in store.list(COMPLETE, 10, None)[0]] == [ids[1]]
    assert len(store.list(PENDING, 10, None)[0]) == 4
    assert store.list(FAILED, 10, None) == ([], None)


@pytest.mark.parametrize("cursor", ["not-base64!", "e30", "WzFd", "eyJhIjogMX0"])
def test_bad_cursors_are_a_client_error(store, cursor):
    with pytest.raises(InvalidRequestError):
        store.list(None, 10, cursor)


def test_reopen_forgets_a_finished_etag_but_not_a_live_claim(store):
    assert not store.reopen(ID, "t")  # unknown id
    live = claim(store)
    assert not store.reopen(ID, "t")  # a live invocation holds it
    store.complete(live, SOURCE, [], "t")
    assert claim(store) is None  # finished: a duplicate does nothing
    assert store.reopen(ID, "t2")
    again = claim(store, now=NOW + 1)
    assert again is not None and again.attempts == 1
