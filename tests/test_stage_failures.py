"""A deterministic failure is not retried: an unexpected exception while
decoding, resizing or encoding ends FAILED at once, `internal_error`, with a
message naming the stage; the traceback goes to the log."""

import pytest

import app as app_module
from chalicelib.errors import ImageProcessingError
from chalicelib.imaging import plan, process_image
from chalicelib.renditions import RenditionSpec
from chalicelib.status import COMPLETE, FAILED
from chalicelib.uploads import image_id_for_key
from tests import images
from tests.conftest import invoke_handler

SMALL = RenditionSpec("small", 200, 200)


def encoder_that_fails_for(fmt: str):
    real = plan.encode

    def encode(picture, wanted):
        if wanted == fmt:
            raise ValueError(f"injected {fmt} encoder bug at 0xdeadbeef")
        return real(picture, wanted)

    return encode


def handle(aws, client, key: str, body: bytes) -> dict:
    aws.put(key, body)
    for event in aws.received_events():
        invoke_handler(client, event)  # returns normally: nothing to retry
    return app_module.get_status_store().get(image_id_for_key(key))


def test_an_encoder_bug_ends_failed_at_once_naming_the_stage(aws, client, monkeypatch, caplog):
    monkeypatch.setattr(plan, "encode", encoder_that_fails_for("webp"))
    record = handle(aws, client, "photo.jpg", images.jpeg())
    assert record["status"] == FAILED and record["attempts"] == 1
    assert record["error"] == {"code": "internal_error", "message": "Encoding the webp rendition failed."}
    assert aws.output_keys() == []
    # The person reads the stage; the log has Pillow's words and the traceback.
    assert "Traceback" in caplog.text and "injected webp encoder bug" in caplog.text


@pytest.mark.parametrize("target,stage", [
    ("fit", "Resizing the image failed."),
    ("normalise", "Decoding the image failed."),
    ("make_placeholder", "Making the placeholder failed."),
])
def test_every_stage_is_named(monkeypatch, target, stage):
    def broken(*args, **kwargs):
        raise RuntimeError("injected")

    monkeypatch.setattr(plan, target, broken)
    with pytest.raises(ImageProcessingError) as info:
        process_image(images.jpeg(), [(SMALL, "jpeg")], 100_000_000)
    assert info.value.code == "internal_error" and info.value.message == stage


def test_the_macos_screenshot_completes_on_the_first_delivery(aws, client):
    """Once retried three times before ending internal_error (`mode mismatch`)."""
    record = handle(aws, client, "Screenshot 2026-11-30 at 01.12.00.png", images.screenshot_png())
    assert record["status"] == COMPLETE and record["attempts"] == 1
