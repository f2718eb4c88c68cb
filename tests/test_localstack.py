"""End to end through `python -m imgpipe run`: API, presigned POST, S3 events, worker, restart."""

import io
import os
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import pytest
import requests
from PIL import Image

from tests import images
from imgpipe.stackprocess import StackProcess, free_port
from tests.stack import run_cli


def upload(stack: StackProcess, name: str, data: bytes, content_type: str, **issue) -> str:
    """POST /uploads (with any more fields in `issue`, e.g. callback_url), then the presigned POST."""
    issued = requests.post(f"{stack.api}/uploads", timeout=10,
                           json={"filename": name, "content_type": content_type, "size": len(data), **issue})
    assert issued.status_code == 201, issued.text
    body = issued.json()
    posted = requests.post(body["upload"]["url"], data=body["upload"]["fields"],
                           files={"file": (name, data, content_type)}, timeout=30)
    assert posted.status_code == 204, posted.text
    return body["image_id"]


def record_for_key(stack: StackProcess, key: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        items = requests.get(f"{stack.api}/images", params={"key": key}, timeout=10).json()["items"]
        if items and items[0]["status"] in ("COMPLETE", "FAILED") or time.monotonic() > deadline:
            assert items, f"no record for {key!r}"
            return items[0]
        time.sleep(0.25)


def check_renditions(record: dict) -> None:
    assert record["status"] == "COMPLETE", record
    for rendition in record["renditions"]:
        got = requests.get(rendition["url"], timeout=10)
        assert got.status_code == 200
        with Image.open(io.BytesIO(got.content)) as image:
            assert image.size == (rendition["width"], rendition["height"])
            assert image.format.lower() == rendition["format"]


def test_health_reports_every_part(local_stack):
    health = requests.get(f"{local_stack.api}/health", timeout=10)
    assert health.status_code == 200
    assert health.json()["checks"] == {
        "input_bucket": "ok", "output_bucket": "ok", "status_table": "ok", "event_worker": "ok"}


def test_upload_through_api_and_presigned_post(local_stack):
    image_id = upload(local_stack, "holiday photo.jpg", images.jpeg(1200, 900), "image/jpeg")
    record = local_stack.wait_final(image_id)
    check_renditions(record)
    assert record["source"]["width"] == 1200
    assert {r["name"] for r in record["renditions"]} == {"default", "thumb", "medium", "large"}


@pytest.mark.parametrize("key", ["plain.jpg", "dir/with space+plus.jpg", "fotos/größe ünïcödé 写真.jpg"])
def test_objects_put_straight_into_the_bucket(local_stack, key):
    s3 = local_stack.client("s3")
    s3.put_object(Bucket="imgpipe-local-input", Key=key, Body=images.jpeg(640, 480), ContentType="image/jpeg")
    record = record_for_key(local_stack, key)
    check_renditions(record)
    assert record["source"]["key"] == key
    default = s3.get_object(Bucket="imgpipe-local-output", Key=f"processed-{key}")
    assert Image.open(io.BytesIO(default["Body"].read())).size == (640, 480)


def test_deleting_a_source_removes_its_renditions_and_record(local_stack):
    s3 = local_stack.client("s3")
    key = "to-delete/old photo.jpg"
    s3.put_object(Bucket="imgpipe-local-input", Key=key, Body=images.jpeg(), ContentType="image/jpeg")
    check_renditions(record_for_key(local_stack, key))
    s3.delete_object(Bucket="imgpipe-local-input", Key=key)
    deadline = time.monotonic() + 30
    while requests.get(f"{local_stack.api}/images", params={"key": key}, timeout=10).json()["items"]:
        assert time.monotonic() < deadline, "the record outlived its source"
        time.sleep(0.25)
    left = s3.list_objects_v2(Bucket="imgpipe-local-output", Prefix=f"renditions/{key}/")
    assert left.get("KeyCount", 0) == 0
    assert "Contents" not in s3.list_objects_v2(Bucket="imgpipe-local-output", Prefix=f"processed-{key}")


def test_bad_image_fails_with_reason(local_stack):
    image_id = upload(local_stack, "broken.png", images.truncated(images.png_with_alpha()), "image/png")
    record = local_stack.wait_final(image_id)
    assert record["status"] == "FAILED"
    assert record["error"]["code"] == "corrupt_image"


def test_bucket_cors_admits_the_page_origin_only(local_stack):
    def preflight(origin: str) -> requests.Response:
        return requests.options(f"{local_stack.aws_url}/imgpipe-local-input", timeout=10, headers={
            "Origin": origin, "Access-Control-Request-Method": "POST"})

    assert preflight(local_stack.api).headers.get("Access-Control-Allow-Origin") == local_stack.api
    assert "Access-Control-Allow-Origin" not in preflight("http://evil.example").headers


def test_fifty_uploads_at_once(local_stack):
    def one(n: int) -> str:
        data = images.encode(Image.new("RGB", (64 + n, 48), (n * 5, 100, 200)), "JPEG")
        return upload(local_stack, f"burst-{n}.jpg", data, "image/jpeg")

    with ThreadPoolExecutor(max_workers=16) as pool:
        ids = list(pool.map(one, range(50)))
    assert len(set(ids)) == 50
    records = [local_stack.wait_final(i, timeout=120) for i in ids]
    assert [r["status"] for r in records] == ["COMPLETE"] * 50
    assert sorted(r["source"]["width"] for r in records) == list(range(64, 114))


def test_event_that_keeps_failing_lands_in_dead_letter_queue(local_stack):
    sqs = local_stack.client("sqs")
    url = sqs.get_queue_url(QueueName="imgpipe-local-input-events")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="this is not an S3 event")
    deadline = time.monotonic() + 30
    while True:
        shown = run_cli("status", "--dead", "--aws-port", str(local_stack.aws_port))
        if "this is not an S3 event" in shown.stdout or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert shown.returncode == 0, shown.stderr
    assert "this is not an S3 event" in shown.stdout


def test_refuses_a_port_that_is_taken(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("run", "--port", str(port), "--aws-port", str(free_port()),
                         "--state-dir", str(tmp_path / "state"), timeout=60)
    assert result.returncode == 2
    assert f"Port {port}" in result.stderr and "taken" in result.stderr
    assert "Traceback" not in result.stderr


def test_state_survives_restart_and_stop_leaves_no_process(tmp_path):
    state = tmp_path / "state"
    stack = StackProcess(state)
    stack.start()
    try:
        image_id = upload(stack, "keep me.png", images.png_with_alpha(), "image/png")
        stack.client("s3").put_object(Bucket="imgpipe-local-input", Key="kept/dir é+x.jpg", Body=images.jpeg())
        assert stack.wait_final(image_id)["status"] == "COMPLETE"
        assert record_for_key(stack, "kept/dir é+x.jpg")["status"] == "COMPLETE"
        assert stack.stop() == 0
    finally:
        stack.kill()
    with pytest.raises(ProcessLookupError):
        os.killpg(stack.process.pid, 0)  # nothing left in its process group
    for port in (stack.port, stack.aws_port):
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is fine, a listener not
            probe.bind(("127.0.0.1", port))  # no listener is left behind

    again = StackProcess(state)
    again.start()
    try:
        check_renditions(again.wait_final(image_id, timeout=5))
        check_renditions(record_for_key(again, "kept/dir é+x.jpg", timeout=5))
        assert again.stop() == 0
    finally:
        again.kill()


def test_api_serves_a_request_while_another_is_held_open(local_stack):
    """One client sends half a request and waits; another is answered meanwhile.

    Deterministic: the held request cannot finish until the test sends its last
    line, so a server taking one request at a time would time out the second.
    """
    with socket.create_connection(("127.0.0.1", local_stack.port), timeout=10) as held:
        held.sendall(b"GET /images?limit=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # headers not finished
        other = requests.get(f"{local_stack.api}/health", timeout=5)
        assert other.status_code == 200
        held.sendall(b"Connection: close\r\n\r\n")
        answer = b""
        while chunk := held.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200") and b'"items"' in answer


def test_acknowledged_upload_survives_sigkill(tmp_path):
    """The POST got its 204, then the stack is killed at once: after a restart the upload ends COMPLETE."""
    state = tmp_path / "state"
    stack = StackProcess(state)
    stack.start()
    try:
        image_id = upload(stack, "acknowledged.jpg", images.jpeg(640, 480), "image/jpeg")
    finally:
        stack.kill()  # SIGKILL to the whole group, right after the 204: no snapshot, no goodbye
    again = StackProcess(state)
    again.start()
    try:
        record = again.wait_final(image_id)
        check_renditions(record)
        assert record["source"]["key"] == f"uploads/{image_id}/acknowledged.jpg"
        assert again.stop() == 0
    finally:
        again.kill()


def test_sweeper_runs_on_its_schedule_and_expires_an_unused_upload(tmp_path):
    """An upload URL that is never used ends FAILED / upload_expired, and the expired form is refused."""
    stack = StackProcess(tmp_path / "state", "--sweep-every", "0.5", env={"UPLOAD_URL_TTL": "1"})
    stack.start()
    try:
        issued = requests.post(f"{stack.api}/uploads", timeout=10,
                               json={"filename": "never.jpg", "content_type": "image/jpeg"}).json()
        image_id = issued["image_id"]
        # The sweeper allows 60 s of clock skew past the URL's expiry: issue it 2 minutes ago, not wait.
        long_ago = datetime.fromtimestamp(time.time() - 120, timezone.utc).isoformat(timespec="milliseconds")
        stack.client("dynamodb").update_item(
            TableName="imgpipe-local-status", Key={"image_id": {"S": image_id}},
            UpdateExpression="SET created_at = :then",
            ExpressionAttributeValues={":then": {"S": long_ago.replace("+00:00", "Z")}})
        record = stack.wait_final(image_id, timeout=30)
        assert record["status"] == "FAILED", record
        assert record["error"]["code"] == "upload_expired"

        expires = datetime.fromisoformat(issued["expires_at"]).timestamp()
        time.sleep(max(0.0, expires + 1 - time.time()))  # the 1-s URL really has expired now
        late = requests.post(issued["upload"]["url"], data=issued["upload"]["fields"], timeout=10,
                             files={"file": ("never.jpg", images.jpeg(), "image/jpeg")})
        assert late.status_code == 403
        assert "<Message>Invalid according to Policy: Policy expired.</Message>" in late.text
        assert stack.stop() == 0
    finally:
        stack.kill()
