"""Renditions that come out identical are encoded, stored and paid for once:
a 300×200 PNG fits `medium` and `large` (and `default`) unchanged."""

from collections import Counter

import app as app_module
from chalicelib.config import Settings
from chalicelib.imaging import plan, process_image, rendition_outputs
from chalicelib.status import COMPLETE
from chalicelib.uploads import image_id_for_key
from tests import images
from tests.conftest import TEST_ENV, invoke_handler
from tests.test_api import new_upload

OUTPUTS = rendition_outputs(Settings("in", "out", "table"))  # default, thumb, medium, large × auto, webp


def test_same_size_same_format_is_encoded_once(monkeypatch):
    calls = Counter()
    real = plan.encode

    def counting(picture, fmt):
        calls[fmt, picture.size] += 1
        return real(picture, fmt)

    monkeypatch.setattr(plan, "encode", counting)
    result = process_image(images.encode(images.quadrants(300, 200), "PNG"), OUTPUTS, 100_000_000)
    by_name = {(r.name, r.format): r for r in result.renditions}
    assert set(calls.values()) == {1}, calls  # no picture was encoded twice in one format
    # default (png) and the `auto` JPEGs and WebPs of medium and large are all 300×200.
    assert by_name["medium", "jpeg"].same_as is None
    index = {(r.name, r.format): i for i, r in enumerate(result.renditions)}
    assert by_name["large", "jpeg"].same_as == index["medium", "jpeg"]
    assert by_name["large", "webp"].same_as == index["medium", "webp"]
    assert by_name["large", "webp"].data == by_name["medium", "webp"].data
    assert by_name["thumb", "webp"].same_as is None and by_name["default", "png"].same_as is None


def test_a_shared_object_is_stored_once_and_deleted_with_the_image(aws, client):
    key = "uploads/abc/small.png"
    aws.put(key, images.encode(images.quadrants(300, 200), "PNG"))
    for event in aws.received_events():
        invoke_handler(client, event)
    image_id = image_id_for_key(key)
    record = app_module.get_status_store().get(image_id)
    assert record["status"] == COMPLETE and len(record["renditions"]) == 7
    keys = {r["key"] for r in record["renditions"]}
    assert aws.output_keys() == sorted(keys) and len(keys) == 5  # 7 entries, 5 objects
    large = next(r for r in record["renditions"] if (r["name"], r["format"]) == ("large", "webp"))
    assert large["key"] == f"renditions/{key}/medium.webp"
    body, obj = aws.output(large["key"])
    assert obj["ContentType"] == "image/webp" and images.decode(body).size == (300, 200)

    aws.s3.delete_object(Bucket=TEST_ENV["INPUT_BUCKET"], Key=key)
    for event in aws.received_events():
        invoke_handler(client, event)  # the ObjectRemoved event deletes every key once
    assert aws.output_keys() == []
    assert app_module.get_status_store().get(image_id) is None


def test_the_api_delete_removes_shared_objects_once(aws, client):
    image_id = new_upload(client, "small.png", "image/png")["image_id"]
    key = f"uploads/{image_id}/small.png"
    aws.put(key, images.encode(images.quadrants(300, 200), "PNG"))
    for event in aws.received_events():
        invoke_handler(client, event)
    assert len(aws.output_keys()) == 5
    assert client.http.delete(f"/images/{image_id}").status_code == 204
    assert aws.output_keys() == []
