"""Focal points: POST /uploads `focus`, PATCH /images/{id}, and cover-only re-renders.

The picture is red on its left half and blue on its right, so where a cover
crop went shows in its pixels. PATCH's asynchronous invocation is recorded,
not sent: each test delivers the events itself, in the order it wants, and
pauses a re-render (inside process_image) to run the other side in between.
"""

import functools
import hashlib
import json

import pytest
from PIL import Image

import app as app_module
import chalicelib.pipeline as pipeline_module
from chalicelib.errors import ImageBusyError
from chalicelib.invoke import object_created_event
from chalicelib.pipeline import object_events
from tests import images
from tests.conftest import TEST_ENV

JSON = {"Content-Type": "application/json"}
WIDE = Image.new("RGB", (1600, 400), (220, 0, 0))
WIDE.paste((0, 0, 220), (800, 0, 1600, 400))
LEFT, RIGHT = {"x": 0.0, "y": 0.5}, {"x": 1.0, "y": 0.5}


class RecordedInvoker:
    """Lambda's async queue, held by the test: reprocess() only records the event."""

    def __init__(self) -> None:
        self.events: list[dict] = []

    def check(self) -> None:
        """A function to ask is there: the test is it."""

    def reprocess(self, bucket: str, key: str) -> None:
        self.events.append(object_created_event(bucket, key, 0))


@pytest.fixture
def invoker(monkeypatch):
    recorded = RecordedInvoker()
    monkeypatch.setattr(app_module.services, "invoker", functools.cache(lambda: recorded))
    monkeypatch.setenv("RENDITIONS", "thumb:160x160:cover,medium:640x640")
    monkeypatch.setenv("OUTPUT_FORMATS", "auto")
    return recorded


def deliver(event: dict) -> list:
    return app_module.get_pipeline().handle_event(event)


def uploaded(aws, client, focus: dict | None = None) -> tuple[str, str]:
    """An API upload, stored and processed: (image_id, source key)."""
    body = {"filename": "wide.png", "content_type": "image/png", **({"focus": focus} if focus else {})}
    response = client.http.post("/uploads", headers=JSON, body=json.dumps(body))
    assert response.status_code == 201, response.body
    image_id = response.json_body["image_id"]
    key = f"uploads/{image_id}/wide.png"
    aws.put(key, images.encode(WIDE, "PNG"))
    for event in aws.received_events():
        deliver(event)
    return image_id, key


def patch(client, image_id: str, body: object):
    return client.http.patch(f"/images/{image_id}", headers=JSON, body=json.dumps(body))


def record(client, image_id: str) -> dict:
    return client.http.get(f"/images/{image_id}").json_body


def unsigned(value: object) -> object:
    """The record with each presigned URL cut at its query: the signature carries the
    second it was made, so two reads a second apart differ there and nowhere else."""
    if isinstance(value, dict):
        return {k: unsigned(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unsigned(v) for v in value]
    if isinstance(value, str) and value.startswith("http"):
        return value.split("?", 1)[0]
    return value


def rendition(rec: dict, name: str) -> dict:
    return next(r for r in rec["renditions"] if r["name"] == name)


def colour_of(aws, rec: dict, name: str) -> str:
    """"red" or "blue": the half of the picture a rendition shows."""
    data, _ = aws.output(rendition(rec, name)["key"])
    red, _, blue = images.decode(data).convert("RGB").resize((1, 1), Image.BOX).getpixel((0, 0))
    assert abs(red - blue) > 150, (red, blue)  # wholly one half: the crop kept the point in frame
    return "red" if red > blue else "blue"


@pytest.mark.parametrize("focus,colour", [(LEFT, "red"), (RIGHT, "blue")])
def test_focus_given_at_upload_decides_the_cover_crop(aws, client, invoker, focus, colour):
    image_id, _ = uploaded(aws, client, focus)
    rec = record(client, image_id)
    assert rec["status"] == "COMPLETE" and rec["focus"] == focus and rec["cover_focus"] == focus
    assert colour_of(aws, rec, "thumb") == colour


@pytest.mark.parametrize("focus", [
    None, [0.5, 0.5], {"x": 0.5}, {"x": 0.5, "y": 0.5, "z": 1}, {"x": "0.5", "y": 0.5}, {"x": True, "y": 0.5},
    {"x": -0.01, "y": 0.5}, {"x": 0.5, "y": 1.5}, {"x": 1e999, "y": 0.5},
])
def test_a_focus_of_any_other_shape_is_a_400(client, invoker, focus):
    body = {"filename": "a.png", "content_type": "image/png", "focus": focus}
    response = client.http.post("/uploads", headers=JSON, body=json.dumps(body))
    assert response.status_code == 400 and response.json_body["error"]["code"] == "bad_request"
    assert "focus" in response.json_body["error"]["message"]
    raw = '{"filename": "a.png", "content_type": "image/png", "focus": {"x": NaN, "y": 0.5}}'
    assert client.http.post("/uploads", headers=JSON, body=raw).status_code == 400


def test_every_rendition_has_the_version_of_its_stored_bytes(aws, client, invoker, monkeypatch):
    image_id, _ = uploaded(aws, client)
    rec = record(client, image_id)
    for entry in rec["renditions"]:
        data, _ = aws.output(entry["key"])
        assert entry["version"] == hashlib.md5(data).hexdigest()[:16]
    # Renditions that share one object share its version.
    monkeypatch.setenv("RENDITIONS", "a:320x320,b:320x400")  # the same 320x80 picture twice
    app_module.get_settings.cache_clear(), app_module.get_pipeline.cache_clear()
    second, _ = uploaded(aws, client)
    a, b = rendition(record(client, second), "a"), rendition(record(client, second), "b")
    assert a["key"] == b["key"] and a["version"] == b["version"]


def test_patch_rerenders_only_the_covers(aws, client, invoker):
    image_id, key = uploaded(aws, client, LEFT)
    before = record(client, image_id)
    assert colour_of(aws, before, "thumb") == "red"
    response = patch(client, image_id, {"focus": RIGHT})
    assert response.status_code == 202
    assert response.json_body["focus"] == RIGHT and response.json_body["cover_focus"] == LEFT
    assert response.json_body["status"] == "COMPLETE"
    assert object_events(invoker.events[0], TEST_ENV["INPUT_BUCKET"]) == [("ObjectCreated", key)]

    assert [o.result for o in deliver(invoker.events[0])] == ["covers"]
    after = record(client, image_id)
    assert after["status"] == "COMPLETE" and after["cover_focus"] == RIGHT
    assert colour_of(aws, after, "thumb") == "blue"
    old_thumb, new_thumb = rendition(before, "thumb"), rendition(after, "thumb")
    assert new_thumb["key"] == old_thumb["key"] and new_thumb["version"] != old_thumb["version"]
    for name in ("default", "medium"):  # fit renditions: same entry, same object
        assert rendition(after, name) == {**rendition(before, name), "url": rendition(after, name)["url"]}
    assert after["attempts"] == before["attempts"] == 1
    # The same event again (Lambda's at-least-once delivery): nothing left to do.
    assert [o.result for o in deliver(invoker.events[0])] == ["duplicate"]


def test_patch_refuses_what_it_cannot_do(aws, client, invoker, monkeypatch):
    assert patch(client, "0" * 32, {"focus": LEFT}).status_code == 404
    assert patch(client, "not-an-id", {"focus": LEFT}).status_code == 400
    pending = client.http.post("/uploads", headers=JSON,
                               body=json.dumps({"filename": "a.png", "content_type": "image/png"}))
    response = patch(client, pending.json_body["image_id"], {"focus": LEFT})
    assert response.status_code == 409 and response.json_body["error"]["code"] == "conflict"
    assert "COMPLETE" in response.json_body["error"]["message"]
    image_id, _ = uploaded(aws, client)
    for body in ({}, {"focus": LEFT, "other": 1}, {"focus": {"x": 2, "y": 0}}, [LEFT], "x"):
        assert patch(client, image_id, body).status_code == 400
    monkeypatch.setattr(app_module, "_owner", lambda: "someone-else")
    assert patch(client, image_id, {"focus": LEFT}).status_code == 404
    monkeypatch.setattr(app_module, "_owner", lambda: None)
    assert client.http.delete(f"/images/{image_id}").status_code == 204
    assert patch(client, image_id, {"focus": LEFT}).status_code == 404
    assert invoker.events == []  # nothing refused was sent to the resize function


def pause_rerender(monkeypatch, during) -> None:
    """Run `during()` once, inside the next process_image call: the re-render holds its claim."""
    real, calls = pipeline_module.process_image, []

    def paused(*args, **kwargs):
        if not calls:
            calls.append(1)
            during()
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline_module, "process_image", paused)


def test_a_patch_during_a_rerender_is_rendered_next_and_wins(aws, client, invoker, monkeypatch):
    image_id, _ = uploaded(aws, client)
    assert patch(client, image_id, {"focus": LEFT}).status_code == 202
    seen = {}

    def second_patch():
        seen["status"] = record(client, image_id)["status"]  # GET during the re-render
        assert patch(client, image_id, {"focus": RIGHT}).status_code == 202
        with pytest.raises(ImageBusyError):  # the second event meets the first re-render's lease
            deliver(invoker.events[1])

    pause_rerender(monkeypatch, second_patch)
    assert [o.result for o in deliver(invoker.events[0])] == ["covers"]
    after = record(client, image_id)
    assert seen["status"] == "COMPLETE"
    assert after["focus"] == after["cover_focus"] == RIGHT and colour_of(aws, after, "thumb") == "blue"
    assert [o.result for o in deliver(invoker.events[1])] == ["duplicate"]  # its retry: already done


def test_two_patches_before_any_rerender_end_with_the_last(aws, client, invoker):
    image_id, _ = uploaded(aws, client)
    patch(client, image_id, {"focus": RIGHT})
    patch(client, image_id, {"focus": LEFT})
    assert [o.result for o in deliver(invoker.events[1])] == ["covers"]
    assert [o.result for o in deliver(invoker.events[0])] == ["duplicate"]
    after = record(client, image_id)
    assert after["cover_focus"] == LEFT and colour_of(aws, after, "thumb") == "red"


def test_a_delete_during_a_rerender_leaves_no_object_behind(aws, client, invoker, monkeypatch):
    image_id, _ = uploaded(aws, client)
    patch(client, image_id, {"focus": RIGHT})
    pause_rerender(monkeypatch, lambda: client.http.delete(f"/images/{image_id}"))
    assert [o.result for o in deliver(invoker.events[0])] == ["deleted"]
    assert aws.output_keys() == []


def test_a_new_upload_waits_for_a_rerender_then_keeps_the_focus(aws, client, invoker, monkeypatch):
    image_id, key = uploaded(aws, client)
    patch(client, image_id, {"focus": LEFT})
    flipped = WIDE.transpose(Image.Transpose.FLIP_LEFT_RIGHT)  # blue left, red right
    upload_events = []

    def reupload():
        aws.put(key, images.encode(flipped, "PNG"))
        upload_events.extend(aws.received_events())
        with pytest.raises(ImageBusyError):  # Lambda retries it later
            deliver(upload_events[0])

    pause_rerender(monkeypatch, reupload)
    assert [o.result for o in deliver(invoker.events[0])] == ["covers"]  # of the bytes it had read
    assert [o.result for o in deliver(upload_events[0])] == ["COMPLETE"]  # the retry
    after = record(client, image_id)
    assert after["cover_focus"] == LEFT and colour_of(aws, after, "thumb") == "blue"


def test_a_reprocess_deletes_renditions_the_new_result_does_not_have(aws, client, invoker, monkeypatch):
    image_id, key = uploaded(aws, client)
    keys_before = set(aws.output_keys())
    assert any("/medium." in k for k in keys_before)
    monkeypatch.setenv("RENDITIONS", "thumb:160x160:cover,small:200x200")
    app_module.get_settings.cache_clear(), app_module.get_pipeline.cache_clear()
    assert app_module.get_status_store().reopen(image_id, "t")
    assert [o.result for o in deliver(object_created_event(TEST_ENV["INPUT_BUCKET"], key, 0))] == ["COMPLETE"]
    keys_after = set(aws.output_keys())
    assert keys_after == {r["key"] for r in record(client, image_id)["renditions"]}
    assert not any("/medium." in k for k in keys_after) and any("/small." in k for k in keys_after)


def test_a_focus_is_kept_to_a_millionth(aws, client, invoker):
    """DynamoDB refuses numbers under 1e-130 (schemathesis sent 2.2e-311 and got a 500)."""
    focus = {"x": 2.225073858507e-311, "y": 0.1234567}
    body = {"filename": "a.png", "content_type": "image/png", "focus": focus}
    response = client.http.post("/uploads", headers=JSON, body=json.dumps(body))
    assert response.status_code == 201, response.body
    assert record(client, response.json_body["image_id"])["focus"] == {"x": 0, "y": 0.123457}


@pytest.mark.parametrize("key", ["a b+c.jpg", "dir/ünï cödé (1).png", "100%.gif"])
def test_the_invoked_event_names_the_key_as_s3_would(key):
    event = object_created_event("bucket", key, 0)
    assert object_events(event, "bucket") == [("ObjectCreated", key)]


def test_a_patch_after_renditions_changed_rerenders_all_under_the_claim(aws, client, invoker, monkeypatch):
    """The record no longer matches RENDITIONS: covers cannot be swapped in alone, so every
    rendition is made again (still COMPLETE throughout), and the dropped ones are deleted."""
    image_id, _ = uploaded(aws, client)
    monkeypatch.setenv("RENDITIONS", "thumb:160x160:cover,small:200x200")
    app_module.get_settings.cache_clear(), app_module.get_pipeline.cache_clear()
    patch(client, image_id, {"focus": RIGHT})
    assert [o.result for o in deliver(invoker.events[0])] == ["covers"]
    after = record(client, image_id)
    assert sorted(r["name"] for r in after["renditions"]) == ["default", "small", "thumb"]
    assert set(aws.output_keys()) == {r["key"] for r in after["renditions"]}
    assert colour_of(aws, after, "thumb") == "blue" and after["status"] == "COMPLETE"


def test_without_a_resize_function_a_patch_changes_nothing(aws, client):
    """RESIZE_FUNCTION unset (a misdeployed stage): the PATCH fails before it records the
    focus, so the record never claims a focus its covers do not show."""
    image_id, _ = uploaded(aws, client)
    before = record(client, image_id)
    assert patch(client, image_id, {"focus": LEFT}).status_code == 500
    assert unsigned(record(client, image_id)) == unsigned(before)
