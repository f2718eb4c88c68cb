"""Hostile and broken files: each ends in the right state, fast, in bounded memory."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import app as app_module
from chalicelib.status import COMPLETE, FAILED
from chalicelib.uploads import image_id_for_key
from tests import hostile
from tests.conftest import invoke_handler
from tests.test_image_properties import INTERNALS

ROOT = Path(__file__).resolve().parents[1]
CASES = hostile.cases()
MEMORY_LIMIT = 1024**3  # address space of the decoding process: 1 GiB


@pytest.mark.parametrize("name,data,expected", CASES, ids=[c[0] for c in CASES])
def test_hostile_file_ends_in_the_right_state(aws, client, name, data, expected):
    key = f"hostile/{name}"
    aws.put(key, data)
    for event in aws.received_events():
        invoke_handler(client, event)  # returns normally: no retry for a bad file
    record = app_module.get_status_store().get(image_id_for_key(key))
    if expected == COMPLETE:
        assert record["status"] == COMPLETE, record.get("error")
        for rendition in record["renditions"]:
            body, _ = aws.output(rendition["key"])
            for payload in hostile.PAYLOADS:
                assert payload not in body, (rendition["key"], payload)
    else:
        assert record["status"] == FAILED and record["error"]["code"] == expected
        assert aws.output_keys() == []
        # A sentence for a person: no file objects, addresses or tracebacks (those go to the log).
        assert not INTERNALS.search(record["error"]["message"]), record["error"]["message"]


_DECODE_ALL = """
import json, resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
from chalicelib.errors import ImgpipeError
from chalicelib.imaging import process_image
from chalicelib.imaging import rendition_outputs
from chalicelib.config import load_settings
from tests import hostile
settings = load_settings({{"INPUT_BUCKET": "i", "OUTPUT_BUCKET": "o", "STATUS_TABLE": "t"}})
outputs = rendition_outputs(settings)
results = {{}}
for name, data, _ in hostile.cases() + [("compressed-bomb-100mp.png", hostile.compressed_png_bomb(), None)]:
    started = time.monotonic()
    try:
        process_image(data, outputs, settings.max_pixels)
        code = "COMPLETE"
    except ImgpipeError as exc:
        code = exc.code
    results[name] = {{"code": code, "seconds": time.monotonic() - started}}
print(json.dumps({{
    "results": results,
    "plugins": sorted(m for m in sys.modules if m.startswith("PIL.") and m.endswith("ImagePlugin")),
    "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}}))
"""


def test_every_hostile_file_decodes_in_bounded_memory_and_time():
    """All cases in one process whose address space is capped at 1 GiB,
    including a 10000×10000 PNG (exactly MAX_PIXELS) that compresses to ~100 KB."""
    env = {**os.environ, "MALLOC_ARENA_MAX": "2"}
    done = subprocess.run(
        [sys.executable, "-c", _DECODE_ALL.format(limit=MEMORY_LIMIT)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    expected = {name: code for name, _, code in CASES} | {"compressed-bomb-100mp.png": COMPLETE}
    assert {n: r["code"] for n, r in report["results"].items()} == expected
    slow = {n: r["seconds"] for n, r in report["results"].items() if r["seconds"] > 10}
    assert not slow, f"hostile files must be dealt with within seconds: {slow}"
    # PSD, EPS (which would run Ghostscript) and FITS never even get a decoder.
    for plugin in ("PIL.EpsImagePlugin", "PIL.PsdImagePlugin", "PIL.FitsImagePlugin"):
        assert plugin not in report["plugins"]
    assert report["peak_rss_mib"] < MEMORY_LIMIT / 1024**2
