"""resize_image: real S3 notification JSON in, renditions and a final record out."""

import time
from urllib.parse import quote_plus

import pytest
from botocore.exceptions import ClientError

import app as app_module
from chalicelib.errors import ImageBusyError
from chalicelib.renditions import output_key
from chalicelib.status import COMPLETE, FAILED, PROCESSING
from chalicelib.storage import CACHE_CONTROL
from chalicelib.uploads import image_id_for_key
from tests import images
from tests.conftest import TEST_ENV, invoke_handler

INPUT = TEST_ENV["INPUT_BUCKET"]
OUTPUT = TEST_ENV["OUTPUT_BUCKET"]


def upload_and_handle(aws, client, key, body, **extra):
    """Put an object, then deliver the notification moto produced to the handler."""
    aws.put(key, body, **extra)
    events = aws.received_events()
    assert events, "moto sent no S3 notification"
    for event in events:
        invoke_handler(client, event)
    return events


def record_for(key):
    return app_module.get_status_store().get(image_id_for_key(key))


def test_real_notification_produces_every_rendition(aws, client):
    events = upload_and_handle(aws, client, "image.jpg", images.jpeg(1600, 1200))
    assert any(r["eventName"].startswith("ObjectCreated") for e in events for r in e.get("Records", []))
    assert aws.output_keys() == sorted([
        "processed-image.jpg",
        "renditions/image.jpg/thumb.jpg", "renditions/image.jpg/thumb.webp",
        "renditions/image.jpg/medium.jpg", "renditions/image.jpg/medium.webp",
        "renditions/image.jpg/large.jpg", "renditions/image.jpg/large.webp",
    ])
    body, obj = aws.output("processed-image.jpg")
    assert images.decode(body).size == (800, 600)
    assert obj["ContentType"] == "image/jpeg" and obj["CacheControl"] == CACHE_CONTROL
    _, webp = aws.output("renditions/image.jpg/thumb.webp")
    assert webp["ContentType"] == "image/webp"

    record = record_for("image.jpg")
    assert record["status"] == COMPLETE and record["attempts"] == 1
    source = record["source"]
    assert (source["bucket"], source["key"], source["format"], source["width"], source["height"]) == (
        INPUT, "image.jpg", "JPEG", 1600, 1200)
    assert source["bytes"] > 0 and source["etag"]
    by_name = {(r["name"], r["format"]): r for r in record["renditions"]}
    assert by_name[("default", "jpeg")]["key"] == "processed-image.jpg"
    assert (by_name[("large", "webp")]["width"], by_name[("large", "webp")]["height"]) == (1600, 1200)
    assert (by_name[("thumb", "jpeg")]["width"], by_name[("thumb", "jpeg")]["height"]) == (320, 320)
    for rendition in record["renditions"]:
        data, _ = aws.output(rendition["key"])
        assert rendition["bytes"] == len(data)


@pytest.mark.parametrize("key", ["my photos/summer day+1.jpg", "Ünïcödé/東京 タワー.jpg", "a%2Fb 100%.jpg"])
def test_keys_with_spaces_plus_and_unicode_survive(aws, client, key):
    upload_and_handle(aws, client, key, images.jpeg())
    assert f"processed-{key}" in aws.output_keys()
    assert record_for(key)["source"]["key"] == key


def test_aws_documentation_event_shape_with_several_records(aws, client):
    keys = ["holiday photo+1.jpg", "100% done.png"]
    aws.put(keys[0], images.jpeg())
    aws.put(keys[1], images.encode(images.quadrants(), "PNG"))
    aws.received_events()  # drop moto's own; send the documented shape instead
    event = {"Records": [
        {"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
         "eventTime": "2026-11-26T12:00:00.000Z", "eventName": "ObjectCreated:Put",
         "s3": {"s3SchemaVersion": "1.0", "configurationId": "resize",
                "bucket": {"name": INPUT, "arn": f"arn:aws:s3:::{INPUT}"},
                "object": {"key": quote_plus(key, safe="/"), "size": 1, "eTag": "x", "sequencer": "0A1B"}}}
        for key in keys
    ] + [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "someone-elses-bucket"},
                                                   "object": {"key": "x.jpg"}}},
         {"eventName": "ObjectRemoved:Delete", "s3": {"bucket": {"name": INPUT}, "object": {"key": keys[0]}}}]}
    invoke_handler(client, event)
    assert record_for(keys[0])["status"] == COMPLETE
    assert record_for(keys[1])["status"] == COMPLETE
    assert "processed-100% done.png" in aws.output_keys()


def test_s3_test_event_is_ignored(aws, client):
    test_event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-11-26T12:00:00.000Z",
                  "Bucket": INPUT, "RequestId": "1", "HostId": "2"}
    assert invoke_handler(client, test_event).payload is None
    assert aws.output_keys() == []


def test_duplicate_event_does_no_work(aws, client):
    events = upload_and_handle(aws, client, "dup.jpg", images.jpeg())
    before = record_for("dup.jpg")
    for event in events:
        invoke_handler(client, event)
    assert record_for("dup.jpg") == before


def test_out_of_order_events_end_with_the_newest_object(aws, client):
    aws.put("same.jpg", images.jpeg(640, 480))
    first = aws.received_events()
    aws.put("same.jpg", images.jpeg(1200, 400))
    second = aws.received_events()
    for event in second + first:  # the newer event arrives first
        invoke_handler(client, event)
    record = record_for("same.jpg")
    assert record["status"] == COMPLETE and record["attempts"] == 1
    assert (record["source"]["width"], record["source"]["height"]) == (1200, 400)
    assert images.decode(aws.output("processed-same.jpg")[0]).size == (800, 267)


def test_new_upload_to_the_same_key_is_processed_again(aws, client):
    upload_and_handle(aws, client, "again.jpg", images.jpeg(640, 480))
    upload_and_handle(aws, client, "again.jpg", images.jpeg(300, 600))
    record = record_for("again.jpg")
    assert record["status"] == COMPLETE and (record["source"]["width"], record["source"]["height"]) == (300, 600)


def test_concurrent_duplicate_raises_so_lambda_retries(aws, client):
    aws.put("busy.jpg", images.jpeg())
    events = aws.received_events()
    store = app_module.get_status_store()
    info = app_module.get_storage().source_info("busy.jpg")
    source = {"bucket": INPUT, "key": "busy.jpg", "bytes": info.size, "etag": info.etag}
    store.claim(image_id_for_key("busy.jpg"), source, "t", time.time(), 90)  # a live holder
    with pytest.raises(ImageBusyError):
        for event in events:
            invoke_handler(client, event)
    assert record_for("busy.jpg")["status"] == PROCESSING
    assert aws.output_keys() == []


def test_expired_lease_is_taken_over(aws, client):
    aws.put("stuck.jpg", images.jpeg())
    events = aws.received_events()
    info = app_module.get_storage().source_info("stuck.jpg")
    source = {"bucket": INPUT, "key": "stuck.jpg", "bytes": info.size, "etag": info.etag}
    # A holder that crashed ten minutes ago with a 90 s lease.
    app_module.get_status_store().claim(image_id_for_key("stuck.jpg"), source, "t", time.time() - 600, 90)
    for event in events:
        invoke_handler(client, event)
    record = record_for("stuck.jpg")
    assert record["status"] == COMPLETE and record["attempts"] == 2


def fail_puts(times):
    """Make the app's next `times` PutObject calls fail as S3 does under load."""
    calls = {"n": 0}

    def hook(**_):
        calls["n"] += 1
        if calls["n"] <= times:
            raise ClientError({"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."},
                               "ResponseMetadata": {"HTTPStatusCode": 503}}, "PutObject")

    app_module.get_storage()._s3.meta.events.register("before-call.s3.PutObject", hook)
    return calls


def test_transient_failure_raises_then_the_retry_completes(aws, client):
    aws.put("flaky.jpg", images.jpeg())
    events = aws.received_events()
    fail_puts(1)
    with pytest.raises(ClientError):
        invoke_handler(client, events[-1])
    assert record_for("flaky.jpg")["status"] == PROCESSING  # lease released, not stuck
    invoke_handler(client, events[-1])  # Lambda's retry
    record = record_for("flaky.jpg")
    assert record["status"] == COMPLETE and record["attempts"] == 2
    # 7 entries, 4 objects: a 400×300 JPEG's medium and large share stored renditions (README)
    assert len(record["renditions"]) == 7 and len(aws.output_keys()) == 4


def test_persistent_failure_ends_failed_after_the_last_attempt(aws, client):
    aws.put("broken-s3.jpg", images.jpeg())
    events = aws.received_events()
    fail_puts(100)
    for _ in range(3):  # the first delivery and Lambda's two retries
        with pytest.raises(ClientError):
            invoke_handler(client, events[-1])
    record = record_for("broken-s3.jpg")
    assert record["status"] == FAILED and record["error"]["code"] == "internal_error"
    invoke_handler(client, events[-1])  # a late duplicate does nothing more
    assert record_for("broken-s3.jpg")["attempts"] == 3


@pytest.mark.parametrize(
    "key,body,code",
    [
        ("empty.jpg", b"", "empty_file"),
        ("text.jpg", b"just some text, not a picture\n" * 10, "unsupported_format"),
        ("page.png", b"<!doctype html><script>alert(1)</script>", "unsupported_format"),
        ("cut.jpg", images.truncated(images.jpeg(800, 600)), "corrupt_image"),
        ("bomb.png", images.png_declaring(50_000, 50_000), "too_many_pixels"),
    ],
)
def test_bad_images_end_failed_and_the_invocation_returns(aws, client, key, body, code):
    upload_and_handle(aws, client, key, body)
    record = record_for(key)
    assert record["status"] == FAILED and record["error"]["code"] == code
    assert record["error"]["message"] and "Traceback" not in record["error"]["message"]
    assert aws.output_keys() == []


def test_size_limit_is_checked_again_without_reading_the_object(aws, client, monkeypatch):
    monkeypatch.setenv("MAX_UPLOAD_BYTES", "1000")
    app_module.get_settings.cache_clear()
    app_module.get_pipeline.cache_clear()
    reads = []
    app_module.get_storage()._s3.meta.events.register("before-call.s3.GetObject", lambda **_: reads.append(1))
    upload_and_handle(aws, client, "big.jpg", images.jpeg(800, 600))
    record = record_for("big.jpg")
    assert record["status"] == FAILED and record["error"]["code"] == "file_too_large"
    assert reads == [] and aws.output_keys() == []


def test_event_for_a_deleted_object_is_ignored(aws, client):
    aws.put("gone.jpg", images.jpeg())
    events = aws.received_events()
    aws.s3.delete_object(Bucket=INPUT, Key="gone.jpg")
    for event in events:
        invoke_handler(client, event)
    assert record_for("gone.jpg") is None and aws.output_keys() == []


def test_own_outputs_are_never_processed_when_buckets_are_shared(aws, client, monkeypatch):
    monkeypatch.setenv("OUTPUT_BUCKET", INPUT)
    app_module.get_settings.cache_clear()
    app_module.get_storage.cache_clear()
    app_module.get_pipeline.cache_clear()
    upload_and_handle(aws, client, "processed-x.jpg", images.jpeg())
    upload_and_handle(aws, client, "renditions/x.jpg/thumb.jpg", images.jpeg())
    assert record_for("processed-x.jpg") is None and record_for("renditions/x.jpg/thumb.jpg") is None


def test_transparent_png_gets_png_renditions(aws, client):
    upload_and_handle(aws, client, "logo.png", images.png_with_alpha(600, 400))
    keys = aws.output_keys()
    assert "renditions/logo.png/thumb.png" in keys and "renditions/logo.png/thumb.webp" in keys
    out = images.decode(aws.output("processed-logo.png")[0])
    assert out.mode == "RGBA" and out.getpixel((590, 10))[3] == 0


def test_an_animated_gif_default_is_a_webp_under_a_webp_key(aws, client, monkeypatch):
    # An image processed before keys said their format: its default at `processed-anim.gif`.
    monkeypatch.setattr("chalicelib.pipeline.output_key",
                        lambda key, name, fmt: f"processed-{key}" if name == "default" else output_key(key, name, fmt))
    upload_and_handle(aws, client, "anim.gif", images.animation("GIF", frames=3))
    assert "processed-anim.gif" in aws.output_keys()
    monkeypatch.undo()
    upload_and_handle(aws, client, "anim.gif", images.animation("GIF", frames=4))
    keys = aws.output_keys()
    assert "processed-anim.gif" not in keys  # the record knew the old key: no orphan
    assert keys == sorted({r["key"] for r in record_for("anim.gif")["renditions"]})
    data, obj = aws.output("processed-anim.gif.webp")
    assert obj["ContentType"] == "image/webp" and data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    assert images.decode(data).n_frames == 4


def test_gps_and_comments_never_reach_stored_renditions(aws, client):
    upload_and_handle(aws, client, "secret.jpg", images.jpeg_with_metadata())
    for key in aws.output_keys():
        data, _ = aws.output(key)
        assert b"SecretCam" not in data and b"SECRET" not in data
        assert not images.decode(data).getexif()
