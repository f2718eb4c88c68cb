"""Renditions are written to S3 while the others are still encoding (chalicelib/writer.py).

The interleavings are driven, not raced: the last encode waits until a write
has happened (or fails then), and only the writer thread talks to moto meanwhile.
"""

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

import app as app_module
from chalicelib.config import Settings
from chalicelib.imaging import plan, process_image, rendition_outputs
from chalicelib.imaging import pool as imaging_pool
from chalicelib.status import COMPLETE, FAILED
from chalicelib.uploads import image_id_for_key
from tests import images
from tests.conftest import invoke_handler

OUTPUTS = rendition_outputs(Settings("in", "out", "table"))  # default, thumb, medium, large × auto, webp
KEY = "uploads/early/photo.jpg"
SOURCE = (1200, 900)  # `large` is the picture itself: its encode job is the last one submitted


@pytest.fixture
def pool(monkeypatch):
    """Encoders on two threads, whatever this machine's CPU count."""
    with ThreadPoolExecutor(2) as executor:
        monkeypatch.setattr(imaging_pool, "_POOL", executor)
        yield executor


@pytest.mark.parametrize("threads", [0, 2])
def test_each_stored_rendition_is_handed_over_once_under_the_name_that_stores_it(monkeypatch, threads):
    if threads:
        monkeypatch.setattr(imaging_pool, "_POOL", ThreadPoolExecutor(threads))
    handed = []
    # A 300x200 PNG: medium and large (visited first, the larger box) share default's size;
    # the object is stored under the first output in OUTPUTS order that makes it.
    result = process_image(images.encode(images.quadrants(300, 200), "PNG"), OUTPUTS, 10**8, None,
                           handed.append)
    stored = [(r.name, r.format, r.data) for r in result.renditions if r.same_as is None]
    assert Counter((r.name, r.format, r.data) for r in handed) == Counter(stored)
    assert {(r.name, r.format) for r in handed} == {
        ("default", "png"), ("thumb", "jpeg"), ("thumb", "webp"), ("medium", "jpeg"), ("medium", "webp")}


def _block_last_encode(monkeypatch, then=None) -> threading.Event:
    """The WebP of `large` waits (up to 10 s) until a rendition has been written to S3,
    then runs `then` (to fail) or encodes. Returns the event the first write sets."""
    written = threading.Event()
    storage = app_module.get_storage()
    real_write, real_encode = storage.write_rendition, plan.encode

    def write(key, data, content_type):
        real_write(key, data, content_type)
        written.set()

    def encode(picture, fmt):
        if fmt == "webp" and picture.size == SOURCE:
            written.wait(10)
            if then:
                then()
        return real_encode(picture, fmt)

    monkeypatch.setattr(storage, "write_rendition", write)
    monkeypatch.setattr(plan, "encode", encode)
    return written


def test_renditions_are_written_while_the_last_one_is_still_encoding(aws, client, monkeypatch, pool):
    written_early = _block_last_encode(monkeypatch)
    aws.put(KEY, images.jpeg(*SOURCE))
    for event in aws.received_events():
        invoke_handler(client, event)
    record = app_module.get_status_store().get(image_id_for_key(KEY))
    assert record["status"] == COMPLETE
    assert written_early.is_set()  # set before the last encode ran: writes do not wait for it
    assert aws.output_keys() == sorted({r["key"] for r in record["renditions"]})


def test_a_rendering_that_fails_takes_back_what_it_wrote(aws, client, monkeypatch, pool):
    def broken():
        raise OSError("the encoder broke")

    written_early = _block_last_encode(monkeypatch, then=broken)
    aws.put(KEY, images.jpeg(*SOURCE))
    for event in aws.received_events():
        invoke_handler(client, event)
    record = app_module.get_status_store().get(image_id_for_key(KEY))
    assert written_early.is_set()
    assert record["status"] == FAILED and record["error"]["code"] == "internal_error"
    assert aws.output_keys() == []  # nothing the FAILED record does not know of
