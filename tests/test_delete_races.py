"""DELETE /images/{id} against an image the pipeline is still working on, or whose
upload arrives after the delete: each order ends with nothing left.

The interleavings are driven by hand (the pipeline is paused at a storage call
and the DELETE runs there), never raced on moto's non-thread-safe backend.
"""

import pytest

from chalicelib.uploads import image_id_for_key
from tests import images
from tests.conftest import TEST_ENV, invoke_handler
from tests.test_api import new_upload
from tests.test_reliability import fresh_pipeline, run_inside


def input_keys(aws) -> list[str]:
    listing = aws.s3.list_objects_v2(Bucket=TEST_ENV["INPUT_BUCKET"])
    return [o["Key"] for o in listing.get("Contents", [])]


def assert_nothing_left(aws, client, image_id):
    for event in aws.received_events():  # the ObjectRemoved events of the deletes
        invoke_handler(client, event)
    assert aws.output_keys() == [] and input_keys(aws) == []
    assert client.http.get(f"/images/{image_id}").status_code == 404
    listed = client.http.get("/images?limit=100").json_body["items"]
    assert image_id not in [i["image_id"] for i in listed]
    for status in ("PENDING", "PROCESSING", "COMPLETE", "FAILED"):
        listed = client.http.get(f"/images?status={status}").json_body["items"]
        assert image_id not in [i["image_id"] for i in listed]
    assert client.http.delete(f"/images/{image_id}").status_code == 404  # a tombstone is no image


@pytest.mark.parametrize("pause_at,result", [
    ("read_source", "superseded"),  # claimed, source not read yet: the read finds it gone
    ("write_rendition", "deleted"),  # renditions being written: complete() finds the tombstone
])
def test_delete_while_processing_leaves_nothing(aws, client, pause_at, result):
    image_id = new_upload(client)["image_id"]
    aws.put(f"uploads/{image_id}/cat.jpg", images.jpeg(640, 480))
    event = aws.received_events()[-1]
    pipeline = fresh_pipeline()
    deleted = run_inside(pipeline, pause_at, lambda: client.http.delete(f"/images/{image_id}").status_code)
    assert pipeline.handle_event(event)[0].result == result
    assert deleted == [204]
    assert_nothing_left(aws, client, image_id)


def test_upload_after_a_delete_while_pending_leaves_nothing(aws, client):
    image_id = new_upload(client)["image_id"]
    assert client.http.delete(f"/images/{image_id}").status_code == 204
    for event in aws.received_events():
        invoke_handler(client, event)
    aws.put(f"uploads/{image_id}/cat.jpg", images.jpeg(640, 480))  # the presigned URL is used anyway
    events = aws.received_events()
    assert fresh_pipeline().handle_event(events[-1])[0].result == "deleted"
    assert_nothing_left(aws, client, image_id)


def test_a_key_put_straight_into_the_bucket_can_be_put_again_after_a_delete(aws, client):
    """Only API upload keys belong to one image; a bucket key may be reused."""
    key = "direct/again.jpg"
    for _ in range(2):
        aws.put(key, images.jpeg(320, 240))
        for event in aws.received_events():
            invoke_handler(client, event)
        image_id = image_id_for_key(key)
        assert client.http.get(f"/images/{image_id}").json_body["status"] == "COMPLETE"
        assert client.http.delete(f"/images/{image_id}").status_code == 204
        assert_nothing_left(aws, client, image_id)


def test_delete_during_a_reprocess_removes_the_earlier_result_too(aws, client):
    """A new upload's claim moves the earlier result's keys out of `renditions` (to
    stale_keys): the DELETE must remove them too, whatever the reprocess does next
    (here it finds its source gone and lets go). A bucket key: an API upload key takes
    only its first file since issue 18 (test_reuse.py)."""
    key = "direct/reprocessed.jpg"
    image_id = image_id_for_key(key)
    aws.put(key, images.jpeg(640, 480))
    for event in aws.received_events():
        invoke_handler(client, event)
    assert aws.output_keys()  # the first result
    aws.put(key, images.jpeg(800, 600))  # the same key again, other bytes: a reprocess
    event = aws.received_events()[-1]
    pipeline = fresh_pipeline()
    deleted = run_inside(pipeline, "read_source", lambda: client.http.delete(f"/images/{image_id}").status_code)
    assert pipeline.handle_event(event)[0].result == "superseded"
    assert deleted == [204]
    assert_nothing_left(aws, client, image_id)
