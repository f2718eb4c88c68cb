"""Logs carry the image id; metrics go out as EMF with the failure reason."""

import io
import json
import threading
from urllib.parse import quote_plus

import pytest

import app as app_module

from chalicelib.observability import NAMESPACE, bind_image, logger, observe_invocation
from chalicelib.uploads import image_id_for_key
from tests.conftest import TEST_ENV, invoke_handler
from tests.images import jpeg


@pytest.fixture
def log_lines():
    """A function returning the Powertools JSON log lines written so far."""
    handler = logger.registered_handler
    stream = io.StringIO()
    previous = handler.setStream(stream)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    handler.setStream(previous)


def emf_documents(text: str) -> list[dict]:
    docs = [json.loads(line) for line in text.splitlines() if line.startswith('{"_aws"')]
    return [d for d in docs if d["_aws"]["CloudWatchMetrics"][0]["Namespace"] == NAMESPACE]


def metric_names(doc: dict) -> set[str]:
    return {m["Name"] for m in doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]}


def put_and_process(aws, client, key: str, body: bytes) -> None:
    aws.put(key, body)
    event = client.events.generate_s3_event(bucket=TEST_ENV["INPUT_BUCKET"], key=quote_plus(key, safe="/"))
    invoke_handler(client, event)


def test_success_logs_the_image_id_and_emits_size_and_time_metrics(aws, client, capsys, log_lines):
    capsys.readouterr()
    put_and_process(aws, client, "holiday/beach photo.jpg", jpeg(1600, 1200))
    docs = emf_documents(capsys.readouterr().out)
    lines = log_lines()

    image_id = image_id_for_key("holiday/beach photo.jpg")
    assert lines, "the handler logged nothing"
    assert all(line.get("image_id") == image_id for line in lines)
    assert any(line["message"] == "image processed" for line in lines)

    (doc,) = [d for d in docs if "ImagesProcessed" in metric_names(d)]
    assert {"ProcessingTime", "BytesIn", "BytesOut", "BytesSaved"} <= metric_names(doc)
    assert doc["ImagesProcessed"] == [1.0]  # Powertools writes values as lists
    assert doc["BytesIn"][0] > doc["BytesSaved"][0] > 0  # a 1600 px JPEG shrinks to 800 px


def test_bytes_out_counts_a_shared_rendition_once(aws, client, capsys):
    """A 400x300 JPEG: every rendition larger than it is the same object, stored once."""
    capsys.readouterr()
    put_and_process(aws, client, "small.jpg", jpeg(400, 300))
    (doc,) = [d for d in emf_documents(capsys.readouterr().out) if "ImagesProcessed" in metric_names(d)]
    record = app_module.get_status_store().get(image_id_for_key("small.jpg"))
    stored = {r["key"]: r["bytes"] for r in record["renditions"]}
    assert len(stored) < len(record["renditions"])  # the case under test: some entries share a key
    assert doc["BytesOut"][0] == sum(stored.values())


def test_failure_emits_the_failure_metric_with_its_reason(aws, client, capsys, log_lines):
    capsys.readouterr()
    put_and_process(aws, client, "notes.jpg", b"this is not an image at all")
    docs = emf_documents(capsys.readouterr().out)
    lines = log_lines()

    (failed,) = [d for d in docs if "ImagesFailed" in metric_names(d)]
    assert failed["ImagesFailed"] in (1.0, [1.0])
    assert failed["reason"] in ("corrupt_image", "unsupported_format")
    assert ["reason"] in [dims[-1:] for dims in failed["_aws"]["CloudWatchMetrics"][0]["Dimensions"]]
    assert not [d for d in docs if "ImagesProcessed" in metric_names(d)]
    assert any(failed["reason"] in line["message"] for line in lines)
    assert all(line.get("image_id") == image_id_for_key("notes.jpg") for line in lines)


def test_the_image_id_does_not_leak_into_the_next_invocation(aws, client, log_lines):
    put_and_process(aws, client, "a.jpg", jpeg())
    logger.info("after the invocation")
    assert "image_id" not in log_lines()[-1]


def test_each_thread_logs_its_own_image(log_lines):
    """Two worker threads (the local stack runs two): each line names the image of its own thread.

    The interleaving is driven: A binds, then B binds and logs, then A logs.
    With keys shared between threads, A's line would carry B's image id.
    """
    a_bound, b_done = threading.Event(), threading.Event()

    def worker_a() -> None:
        with observe_invocation():
            bind_image("a" * 32, "a.jpg")
            a_bound.set()
            b_done.wait(10)
            logger.info("image processed")

    def worker_b() -> None:
        a_bound.wait(10)
        with observe_invocation():
            bind_image("b" * 32, "b.jpg")
            logger.info("image processed")
        b_done.set()

    threads = [threading.Thread(target=worker_a), threading.Thread(target=worker_b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    logger.info("after both invocations")

    lines = log_lines()
    assert [(line["message"], line.get("image_id"), line.get("key")) for line in lines] == [
        ("image processed", "b" * 32, "b.jpg"),
        ("image processed", "a" * 32, "a.jpg"),
        ("after both invocations", None, None),
    ]
