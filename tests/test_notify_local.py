"""Events and webhooks end to end through `python -m imgpipe run`: a real upload, a receiver on
127.0.0.1, the bus's queue through the CLI, and a retry by the stack's own sweeper."""

import re
import time
from pathlib import Path

import pytest
import requests

from imgpipe.stackprocess import StackProcess
from tests import images
from tests.receiver import Receiver
from tests.stack import run_cli
from tests.test_localstack import upload as post_file

README = Path(__file__).resolve().parents[1] / "docs" / "EVENTS.md"  # the receiver code moved there from README.md
SECRET_NAME = "imgpipe-local-webhook-secret"  # WEBHOOK_SECRET_ARN of the local stage


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """Its own stack: the sweeper every half second, so a due retry goes out at once."""
    with StackProcess(tmp_path_factory.mktemp("notify-stack") / "state", "--sweep-every", "0.5") as stack:
        yield stack


def readme_verifier():
    """The receiver's verification code exactly as the README shows it."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text("utf-8"), re.S)
    [code] = [block for block in blocks if "def verify_imgpipe_signature" in block]
    scope: dict = {}
    exec(code, scope)  # noqa: S102 (our own README)
    return scope["verify_imgpipe_signature"]


def wait_for(check, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)
    return found


def webhook_of(stack: StackProcess, image_id: str) -> dict:
    return requests.get(f"{stack.api}/images/{image_id}", timeout=10).json().get("webhook", {})


def test_an_upload_with_a_callback_gets_a_signed_post_and_an_event(stack):
    secret = stack.client("secretsmanager").get_secret_value(SecretId=SECRET_NAME)["SecretString"]
    verify = readme_verifier()
    with Receiver(204) as receiver:
        image_id = post_file(stack, "hook.jpg", images.jpeg(320, 240), "image/jpeg",
                             callback_url=receiver.url)
        wait_for(lambda: receiver.received)
        record = wait_for(lambda: webhook_of(stack, image_id).get("state") == "delivered"
                          and stack.wait_final(image_id))
    [(path, headers, body)] = receiver.received
    assert path == "/hooks/imgpipe?tenant=7" and headers["X-Imgpipe-Event"] == "Image Completed"
    assert verify(secret, headers, body)
    assert not verify(secret, headers, body.replace(b"COMPLETE", b"FAILED"))
    assert not verify("another secret", headers, body)
    assert record["webhook"]["attempts"][0]["status"] == 204
    shown = wait_for(lambda: (out := run_cli("events", "--aws-port", str(stack.aws_port))).returncode == 0
                     and image_id in out.stdout and out)
    [line] = [line for line in shown.stdout.splitlines() if image_id in line]
    assert "Image Completed" in line and "7 renditions of a 320×240 JPEG image" in line
    assert "{" not in line and "Traceback" not in shown.stderr


def test_a_failed_image_shows_as_image_failed(stack):
    image_id = post_file(stack, "broken.jpg", b"not an image at all", "image/jpeg")
    assert stack.wait_final(image_id)["status"] == "FAILED"
    shown = wait_for(lambda: image_id in (out := run_cli("events", "--aws-port", str(stack.aws_port))).stdout
                     and out)
    [line] = [line for line in shown.stdout.splitlines() if image_id in line]
    assert "Image Failed" in line and "unsupported_format: Not an accepted image format" in line


def test_a_receiver_that_answers_500_then_200_is_retried_by_the_sweeper(stack):
    with Receiver(500, 200) as receiver:
        image_id = post_file(stack, "retry.jpg", images.jpeg(64, 48), "image/jpeg", callback_url=receiver.url)
        first = wait_for(lambda: (hook := webhook_of(stack, image_id)).get("attempts") and hook)
        assert first["state"] == "pending" and first["attempts"][0]["status"] == 500
        assert first["attempts"][0]["retry"]  # due a minute later: move the clock, not wait
        assert len(receiver.received) == 1
        stack.client("dynamodb").update_item(
            TableName="imgpipe-local-status", Key={"image_id": {"S": image_id}},
            UpdateExpression="SET webhook_next_at = :then",
            ConditionExpression="attribute_exists(due_shard)",  # the due mark (by-webhook-sharded)
            ExpressionAttributeValues={":then": {"S": "2000-01-01T00:00:00.000Z"}})
        hook = wait_for(lambda: (hook := webhook_of(stack, image_id))["state"] == "delivered" and hook)
    assert [a["status"] for a in hook["attempts"]] == [500, 200] and len(receiver.received) == 2


def test_events_follow_shows_a_new_event_and_stops_on_ctrl_c(stack):
    import queue
    import signal
    import subprocess
    import sys
    import threading

    from imgpipe.stackprocess import ROOT
    from tests.stack import cli_env

    follower = subprocess.Popen([sys.executable, "-m", "imgpipe", "events", "--follow", "--aws-port",
                                 str(stack.aws_port)], cwd=ROOT, env=cli_env(COLUMNS="200"),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in follower.stdout], daemon=True)
    reader.start()
    try:
        image_id = post_file(stack, "followed.jpg", images.jpeg(64, 48), "image/jpeg")
        assert stack.wait_final(image_id)["status"] == "COMPLETE"
        while image_id not in (line := lines.get(timeout=60)):  # what the follower prints, as it prints it
            pass
        assert "Image Completed" in line
        follower.send_signal(signal.SIGINT)
        assert follower.wait(30) == 0
        assert "Traceback" not in follower.stderr.read()
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait()
        reader.join(10)
