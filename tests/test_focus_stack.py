"""PATCH /images/{id} end to end through `python -m imgpipe run`: the API invokes the resize
function through Lambda's Invoke API (answered by the emulator), the worker delivers the
event, the handler re-renders the covers, and the presigned URLs serve the new bytes."""

import hashlib
import io
import time

import requests
from PIL import Image

from tests import images
from tests.test_localstack import upload

LEFT, RIGHT = {"x": 0.0, "y": 0.5}, {"x": 1.0, "y": 0.5}


def half_picture() -> bytes:
    """Red on the left, blue on the right: a cover crop's colour says where it went."""
    picture = Image.new("RGB", (1200, 300), (220, 0, 0))
    picture.paste((0, 0, 220), (600, 0, 1200, 300))
    return images.encode(picture, "PNG")


def served(rendition: dict) -> bytes:
    got = requests.get(rendition["url"], timeout=10)
    assert got.status_code == 200
    return got.content


def colour(data: bytes) -> str:
    red, _, blue = Image.open(io.BytesIO(data)).convert("RGB").resize((1, 1), Image.BOX).getpixel((0, 0))
    return "red" if red > blue else "blue"


def test_patch_focus_rerenders_the_covers_through_the_local_stack(local_stack):
    image_id = upload(local_stack, "halves.png", half_picture(), "image/png")
    before = local_stack.wait_final(image_id)
    assert before["status"] == "COMPLETE" and "cover_focus" not in before
    url = f"{local_stack.api}/images/{image_id}"
    patched = requests.patch(url, json={"focus": LEFT}, timeout=10)
    assert patched.status_code == 202, patched.text
    assert patched.json()["focus"] == LEFT and patched.json()["status"] == "COMPLETE"
    deadline = time.monotonic() + 60
    while (after := requests.get(url, timeout=10).json()).get("cover_focus") != LEFT:
        assert after["status"] == "COMPLETE"  # the old covers stay served meanwhile
        assert time.monotonic() < deadline, after
        time.sleep(0.1)
    assert requests.patch(url, json={"focus": RIGHT}, timeout=10).status_code == 202
    while (final := requests.get(url, timeout=10).json()).get("cover_focus") != RIGHT:
        assert final["status"] == "COMPLETE" and time.monotonic() < deadline, final
        time.sleep(0.1)

    old = {(r["name"], r["format"]): r for r in before["renditions"]}
    for entry in final["renditions"]:
        data, previous = served(entry), old[(entry["name"], entry["format"])]
        assert entry["key"] == previous["key"]
        assert entry["version"] == hashlib.md5(data).hexdigest()[:16]
        if entry["name"] == "thumb":  # the default `cover` rendition: new bytes, new version
            assert entry["version"] not in (previous["version"], after_version(after, entry))
            assert colour(data) == "blue"
        else:  # fit renditions: untouched
            assert entry["version"] == previous["version"] and entry["bytes"] == previous["bytes"]


def after_version(record: dict, entry: dict) -> str:
    """The version the same rendition had in `record`."""
    return next(r["version"] for r in record["renditions"]
                if (r["name"], r["format"]) == (entry["name"], entry["format"]))


def test_patch_fuzz_shapes_never_reach_a_500(local_stack):
    image_id = upload(local_stack, "fuzz.png", half_picture(), "image/png")
    url = f"{local_stack.api}/images/{image_id}"
    for body in (b"", b"null", b"[]", b'{"focus": null}', b'{"focus": {"x": 1e400, "y": 0}}', b"{" * 3000):
        response = requests.patch(url, data=body, headers={"Content-Type": "application/json"}, timeout=10)
        assert response.status_code == 400, (body[:40], response.text)
    missing = requests.patch(f"{local_stack.api}/images/{'f' * 32}", json={"focus": LEFT}, timeout=10)
    assert missing.status_code == 404
