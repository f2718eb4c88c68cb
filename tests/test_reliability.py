"""Events and faults: duplicates, races, deletes, multipart, injected failures, the sweeper."""

import time

import boto3
import pytest
from botocore.exceptions import ClientError

import app as app_module
from chalicelib.errors import ImageBusyError
from chalicelib.pipeline import ImagePipeline
from chalicelib.status import COMPLETE, FAILED, PENDING, PROCESSING, DynamoStatusStore
from chalicelib.storage import S3Storage
from chalicelib.sweeper import sweep
from chalicelib.uploads import image_id_for_key
from tests import images
from tests.conftest import TEST_ENV, invoke_handler

INPUT = TEST_ENV["INPUT_BUCKET"]


def record_for(key):
    return app_module.get_status_store().get(image_id_for_key(key))


def deliver(aws, client):
    for event in aws.received_events():
        invoke_handler(client, event)


def fresh_pipeline() -> ImagePipeline:
    """A pipeline with its own clients, as a second Lambda instance would have."""
    settings = app_module.get_settings()
    s3 = boto3.client("s3", region_name="us-east-1")
    table = boto3.resource("dynamodb", region_name="us-east-1").Table(settings.status_table)
    return ImagePipeline(settings, S3Storage(s3, settings.input_bucket, settings.output_bucket),
                         DynamoStatusStore(table))


def count_calls(client, operation):
    calls = []
    client.meta.events.register(f"before-call.{client.meta.service_model.endpoint_prefix}.{operation}",
                                lambda **_: calls.append(1))
    return calls


def fail_once(client, operation, when=lambda params: True):
    """The next matching call fails as AWS does under load (500/throttling)."""
    state = {"failed": False}

    def hook(params, **_):
        if not state["failed"] and when(params):
            state["failed"] = True
            raise ClientError({"Error": {"Code": "InternalError", "Message": "We encountered an internal error."},
                               "ResponseMetadata": {"HTTPStatusCode": 500}}, operation)

    service = client.meta.service_model.endpoint_prefix
    client.meta.events.register(f"before-call.{service}.{operation}", hook)
    return state


def run_inside(pipeline, method: str, other) -> list:
    """Pause `pipeline` on its first call of storage.`method` and run `other` there.

    Two Lambda instances handling one event interleave like this; driving the
    interleaving by hand tests the claim logic, not moto's backend, which is not
    thread-safe (racing two threads on it can let both conditional writes win).
    """
    original, seen = getattr(pipeline.storage, method), []

    def paused(*args, **kwargs):
        if not seen:
            seen.append(other())
        return original(*args, **kwargs)

    setattr(pipeline.storage, method, paused)
    return seen


def outcome_of(pipeline, event) -> str:
    try:
        return pipeline.handle_event(event)[0].result
    except ImageBusyError:
        return "busy"


@pytest.mark.parametrize("pause_at,second_sees", [
    ("source_info", "COMPLETE"),     # before the first claims: the second does the work
    ("read_source", "busy"),         # right after the first claimed
    ("write_rendition", "busy"),     # while the first writes renditions
])
def test_concurrent_delivery_processes_once(aws, client, pause_at, second_sees):
    aws.put("race.jpg", images.jpeg(1600, 1200))
    event = aws.received_events()[-1]
    first, second = fresh_pipeline(), fresh_pipeline()
    puts = [count_calls(p.storage._s3, "PutObject") for p in (first, second)]
    seen = run_inside(first, pause_at, lambda: outcome_of(second, event))
    first_result = outcome_of(first, event)
    assert seen == [second_sees]
    assert first_result == ("duplicate" if second_sees == "COMPLETE" else "COMPLETE")
    assert sum(len(p) for p in puts) == 7  # one set of renditions, not two
    assert record_for("race.jpg")["status"] == COMPLETE
    assert outcome_of(fresh_pipeline(), event) == "duplicate"  # a third delivery does nothing


def test_removed_object_takes_its_renditions_and_record_along(aws, client):
    aws.put("bye.jpg", images.jpeg())
    deliver(aws, client)
    assert len(aws.output_keys()) == 4  # 7 renditions in 4 objects: medium and large share (README)
    aws.s3.delete_object(Bucket=INPUT, Key="bye.jpg")
    deliver(aws, client)
    assert aws.output_keys() == [] and record_for("bye.jpg") is None


def test_late_remove_event_after_a_reupload_changes_nothing(aws, client):
    aws.put("back.jpg", images.jpeg())
    deliver(aws, client)
    aws.s3.delete_object(Bucket=INPUT, Key="back.jpg")
    removed = aws.received_events()
    aws.put("back.jpg", images.jpeg(500, 500))
    deliver(aws, client)
    for event in removed:  # the delete's event arrives after the re-upload's
        invoke_handler(client, event)
    record = record_for("back.jpg")
    assert record["status"] == COMPLETE and record["source"]["width"] == 500
    assert "processed-back.jpg" in aws.output_keys()


def test_multipart_upload_is_processed(aws, client):
    body = images.jpeg(1200, 900) + b"\0" * (6 * 1024 * 1024)  # bytes after EOI are ignored
    upload = aws.s3.create_multipart_upload(Bucket=INPUT, Key="multi.jpg", ContentType="image/jpeg")
    parts = []
    for number, chunk in enumerate((body[: 5 * 1024 * 1024], body[5 * 1024 * 1024 :]), start=1):
        etag = aws.s3.upload_part(Bucket=INPUT, Key="multi.jpg", UploadId=upload["UploadId"],
                                  PartNumber=number, Body=chunk)["ETag"]
        parts.append({"PartNumber": number, "ETag": etag})
    aws.s3.complete_multipart_upload(Bucket=INPUT, Key="multi.jpg", UploadId=upload["UploadId"],
                                     MultipartUpload={"Parts": parts})
    events = aws.received_events()
    assert any(r["eventName"] == "ObjectCreated:CompleteMultipartUpload" for e in events for r in e.get("Records", []))
    for event in events:
        invoke_handler(client, event)
    record = record_for("multi.jpg")
    assert record["status"] == COMPLETE and record["source"]["etag"].endswith("-2")
    assert record["source"]["width"] == 1200


@pytest.mark.parametrize(
    "service,operation",
    [("s3", "GetObject"), ("s3", "HeadObject"), ("s3", "PutObject"),
     ("dynamodb", "GetItem"), ("dynamodb", "UpdateItem")],
)
def test_one_transient_fault_is_retried_to_complete(aws, client, service, operation):
    aws.put("fault.jpg", images.jpeg())
    event = aws.received_events()[-1]
    target = app_module.get_storage()._s3 if service == "s3" else \
        app_module.get_status_store()._table.meta.client
    state = fail_once(target, operation)
    with pytest.raises(ClientError):
        invoke_handler(client, event)
    assert state["failed"]
    invoke_handler(client, event)  # Lambda's retry
    record = record_for("fault.jpg")
    assert record["status"] == COMPLETE
    assert len(record["renditions"]) == 7 and len(aws.output_keys()) == 4  # shared objects (README)


def test_crash_between_renditions_and_complete_finishes_without_duplicates(aws, client):
    aws.put("crash.jpg", images.jpeg())
    event = aws.received_events()[-1]
    table_client = app_module.get_status_store()._table.meta.client
    fail_once(table_client, "UpdateItem", when=lambda p: ":renditions" in str(p))
    puts = count_calls(app_module.get_storage()._s3, "PutObject")
    with pytest.raises(ClientError):
        invoke_handler(client, event)
    assert len(aws.output_keys()) == 4 and record_for("crash.jpg")["status"] == PROCESSING
    invoke_handler(client, event)
    record = record_for("crash.jpg")
    assert record["status"] == COMPLETE and record["attempts"] == 2
    assert len(aws.output_keys()) == 4 and len(puts) == 8  # rewritten in place, same keys


def test_poison_image_that_kills_every_attempt_ends_failed(aws, client, monkeypatch):
    """An invocation cut short (timeout, out of memory) leaves its claim behind;
    after MAX_ATTEMPTS takeovers the image is given up on."""
    aws.put("poison.jpg", images.jpeg())
    event = aws.received_events()[-1]
    clock = {"now": time.time()}
    pipeline = app_module.get_pipeline()
    monkeypatch.setattr(pipeline, "clock", lambda: clock["now"])
    monkeypatch.setattr(pipeline.storage, "read_source", lambda *a: (_ for _ in ()).throw(SystemExit("killed")))
    for _ in range(3):
        with pytest.raises(SystemExit):
            pipeline.handle_event(event)
        clock["now"] += 120  # the lease of the dead attempt expires
    monkeypatch.undo()
    monkeypatch.setattr(pipeline, "clock", lambda: clock["now"])
    pipeline.handle_event(event)
    record = record_for("poison.jpg")
    assert record["status"] == FAILED and record["error"]["code"] == "internal_error"
    assert record["attempts"] == 4 and aws.output_keys() == []


def test_sweeper_resolves_stuck_records(aws, client, monkeypatch):
    pipeline = app_module.get_pipeline()
    store = pipeline.store
    later = time.time() + 3600  # every upload URL and lease has expired by then

    # 1. An upload URL that was never used.
    never = client.http.post("/uploads", headers={"Content-Type": "application/json"},
                             body='{"filename": "never.jpg", "content_type": "image/jpeg"}').json_body
    # 2. An upload that arrived, but whose event was lost.
    lost = client.http.post("/uploads", headers={"Content-Type": "application/json"},
                            body='{"filename": "lost.jpg", "content_type": "image/jpeg"}').json_body
    aws.put(lost["upload"]["fields"]["key"], images.jpeg())
    # 3. A claim whose holder died.
    aws.put("orphan.jpg", images.jpeg())
    info = pipeline.storage.source_info("orphan.jpg")
    store.claim(image_id_for_key("orphan.jpg"), {"bucket": INPUT, "key": "orphan.jpg", "bytes": info.size,
                                                  "etag": info.etag}, "2026-01-01T00:00:00.000Z", time.time(), 90)
    aws.received_events()  # these events are "lost"
    # 4. A fresh PENDING upload that must be left alone.
    assert store.get(never["image_id"])["status"] == PENDING

    monkeypatch.setattr(pipeline, "clock", lambda: later)
    outcomes = sweep(pipeline, later)
    assert sorted(o.result for o in outcomes) == ["COMPLETE", "COMPLETE", "expired"]
    expired = store.get(never["image_id"])
    assert expired["status"] == FAILED and expired["error"]["code"] == "upload_expired"
    assert store.get(lost["image_id"])["status"] == COMPLETE
    assert record_for("orphan.jpg")["status"] == COMPLETE
    assert sweep(pipeline, later) == []  # nothing left to do


def test_sweeper_leaves_live_work_alone(aws, client):
    pipeline = app_module.get_pipeline()
    fresh = client.http.post("/uploads", headers={"Content-Type": "application/json"},
                             body='{"filename": "soon.jpg", "content_type": "image/jpeg"}').json_body
    aws.put("working.jpg", images.jpeg())
    info = pipeline.storage.source_info("working.jpg")
    pipeline.store.claim(image_id_for_key("working.jpg"), {"bucket": INPUT, "key": "working.jpg",
                                                            "bytes": info.size, "etag": info.etag},
                         "2026-01-01T00:00:00.000Z", time.time(), 90)
    assert sweep(pipeline, time.time()) == []
    assert pipeline.store.get(fresh["image_id"])["status"] == PENDING
    assert record_for("working.jpg")["status"] == PROCESSING


def test_scheduled_sweeper_is_wired(client):
    assert "sweep_stuck_images" in app_module.app.handler_map
    event = client.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event",
                                            detail={}, resources=[])
    client.lambda_.invoke("sweep_stuck_images", event)
