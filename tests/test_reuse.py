"""An upload link is for one file: a second object POSTed with the same presigned form is
not processed, and the record says so (chalicelib/reuse.py)."""

from tests import images
from tests.conftest import invoke_handler
from tests.test_api import new_upload


def test_a_second_file_on_one_upload_link_is_not_processed_and_the_record_says_so(aws, client):
    image_id = new_upload(client)["image_id"]
    key = f"uploads/{image_id}/cat.jpg"
    aws.put(key, images.jpeg(640, 480))
    for event in aws.received_events():
        invoke_handler(client, event)
    first = client.http.get(f"/images/{image_id}").json_body
    outputs = aws.output_keys()
    aws.put(key, images.jpeg(800, 600))  # the same form, posted again with other bytes
    for event in aws.received_events():
        invoke_handler(client, event)
    record = client.http.get(f"/images/{image_id}").json_body
    assert record["status"] == "COMPLETE" and record["source"]["width"] == 640
    assert [r["key"] for r in record["renditions"]] == [r["key"] for r in first["renditions"]]
    assert aws.output_keys() == outputs
    assert record["reused_upload"]["code"] == "upload_reused"
    assert "only the first file" in record["reused_upload"]["message"]
    assert record["reused_upload"]["etag"] != first["source"]["etag"]


def test_the_same_file_again_is_a_duplicate_not_a_reuse(aws, client):
    image_id = new_upload(client)["image_id"]
    key = f"uploads/{image_id}/cat.jpg"
    for _ in range(2):
        aws.put(key, images.jpeg(640, 480))
        for event in aws.received_events():
            invoke_handler(client, event)
    assert "reused_upload" not in client.http.get(f"/images/{image_id}").json_body


def test_every_deployed_stage_gives_an_upload_link_five_minutes():
    import json
    from pathlib import Path

    stages = json.loads((Path(__file__).resolve().parents[1] / ".chalice" / "config.json").read_text())["stages"]
    stages.pop("local")  # `make run` keeps the code's default, so a test's UPLOAD_URL_TTL reaches it
    assert {name: s["environment_variables"]["UPLOAD_URL_TTL"] for name, s in stages.items()} == \
        dict.fromkeys(stages, "300")
