"""s3events.py: the S3 notification records the handler and the CLI read."""

from chalicelib.s3events import ObjectRecord, object_events, object_records


def _record(name: str, bucket: str, key: str | None) -> dict:
    target = {"key": key} if key is not None else {}
    return {"eventName": name, "s3": {"bucket": {"name": bucket}, "object": target}}


def test_records_keep_every_kind_and_bucket_with_keys_decoded():
    event = {"Records": [_record("ObjectCreated:Put", "in", "uploads/a+b%C3%A9.jpg"),
                         _record("s3:TestEvent", "other", None)]}
    assert object_records(event) == [ObjectRecord("ObjectCreated", "in", "uploads/a bé.jpg"),
                                     ObjectRecord("s3", "other", None)]


def test_a_test_event_has_no_records():
    assert object_records({"Service": "Amazon S3", "Event": "s3:TestEvent"}) == []
    assert object_events({"Records": None}, "in") == []


def test_object_events_keep_created_and_removed_records_of_the_bucket_only():
    event = {"Records": [_record("ObjectCreated:Put", "in", "uploads/a.jpg"),
                         _record("ObjectRemoved:Delete", "in", "uploads/b.jpg"),
                         _record("ObjectRestore:Completed", "in", "uploads/c.jpg"),
                         _record("ObjectCreated:Copy", "out", "uploads/d.jpg"),
                         _record("ObjectCreated:Put", "in", None)]}
    assert object_events(event, "in") == [("ObjectCreated", "uploads/a.jpg"), ("ObjectRemoved", "uploads/b.jpg")]

