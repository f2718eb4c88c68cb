"""Variant renders in their own function (chalicelib/render.py): the /v/ route invokes
`render_variant` synchronously, maps its answer back, and the API process never loads Pillow."""

import functools
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

import app as app_module
from chalicelib import variants as v
from chalicelib.ondemand import VariantService
from chalicelib.render import LambdaRenderer
from tests import images

SECRET = b"s3cret-for-tests"
ROOT = Path(__file__).resolve().parents[1]


class FakeLambda:
    """Lambda's Invoke: runs app.render_variant in this process (or answers as a crashed function)."""

    def __init__(self, crash: bool = False, throttled: bool = False) -> None:
        self.calls: list[dict] = []
        self.crash, self.throttled = crash, throttled

    def invoke(self, **params: object) -> dict:
        self.calls.append(params)
        if self.throttled:  # every slot of its reserved concurrency taken
            from botocore.exceptions import ClientError

            raise ClientError({"Error": {"Code": "TooManyRequestsException", "Message": "Rate Exceeded."}}, "Invoke")
        if self.crash:
            body = {"errorMessage": "Runtime exited with error: signal: killed", "errorType": "Runtime.ExitError"}
            return {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": io.BytesIO(json.dumps(body).encode())}
        answer = app_module.render_variant(json.loads(params["Payload"]), None)  # type: ignore[arg-type]
        return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(answer).encode())}


@pytest.fixture
def stage(aws, monkeypatch):
    import boto3

    boto3.client("secretsmanager", region_name="us-east-1").create_secret(
        Name="imgpipe/test/variants", SecretString=SECRET.decode())
    monkeypatch.setenv("VARIANT_SECRET_ARN", "imgpipe/test/variants")
    app_module.get_settings.cache_clear()
    aws.put("photo.jpg", images.jpeg(1600, 1200))
    outcome = app_module.get_pipeline().process_object("photo.jpg")
    assert outcome.result == "COMPLETE"
    return outcome.image_id


def through(function: FakeLambda, monkeypatch) -> None:
    api = app_module.get_variants()
    render = LambdaRenderer(function, "imgpipe-test-render_variant").render  # type: ignore[arg-type]
    service = VariantService(api.settings, api.storage, api.store, api.secret, render=render)
    monkeypatch.setattr(app_module.services, "variants", functools.cache(lambda: service))


def _get(client, image_id: str, options: str):
    return client.http.get(f"/v/{v.sign(SECRET, image_id, options)}/{image_id}/{options}",
                           headers={"Accept": "image/webp"})


def test_the_route_invokes_the_render_function_synchronously_once(client, aws, stage, monkeypatch):
    function = FakeLambda()
    through(function, monkeypatch)
    first = _get(client, stage, "w_320")
    assert first.status_code == 302 and first.headers["X-Imgpipe-Variant"] == "rendered"
    [call] = function.calls
    assert call["FunctionName"] == "imgpipe-test-render_variant" and call["InvocationType"] == "RequestResponse"
    payload = json.loads(call["Payload"])
    assert payload["image_id"] == stage and payload["options"] == "w_320,f_webp"  # concrete, canonical
    assert _get(client, stage, "w_320").headers["X-Imgpipe-Variant"] == "stored"
    assert len(function.calls) == 1  # stored: no second invoke


def test_the_render_function_answers_map_back_to_the_api_errors(client, aws, stage, monkeypatch):
    through(FakeLambda(crash=True), monkeypatch)
    crashed = _get(client, stage, "w_64")  # out of memory, a timeout: our 500, never its trace
    assert crashed.status_code == 500 and json.loads(crashed.body)["error"]["code"] == "internal_error"
    function = FakeLambda()
    through(function, monkeypatch)
    original = app_module.get_status_store().get
    gone = {"status": "DELETED"}
    # The record is deleted between the route's read and the render's.
    monkeypatch.setattr(type(app_module.get_status_store()), "get",
                        lambda self, image_id: gone if function.calls else original(image_id))
    response = _get(client, stage, "w_64")
    assert response.status_code == 404 and json.loads(response.body)["error"]["code"] == "not_found"


def test_the_render_function_checks_its_event(aws, stage):
    handle = app_module.get_renderer().handle
    version = v.source_version(app_module.get_status_store().get(stage)["source"]["etag"])
    for event, code in (
        ({"image_id": stage, "version": version, "options": "w_64"}, "invalid_variant"),  # auto: not concrete
        ({"image_id": stage, "version": version, "options": "f_webp,w_64"}, "invalid_variant"),  # not canonical
        ({"image_id": stage, "options": "w_64,f_webp"}, "invalid_variant"),
        ({"image_id": "nope", "version": version, "options": "w_64,f_webp"}, "bad_request"),
        ({"image_id": stage, "version": "0" * 12, "options": "w_64,f_webp"}, "conflict"),  # re-uploaded since
        ({"image_id": "f" * 32, "version": version, "options": "w_64,f_webp"}, "not_found"),
    ):
        assert handle(event)["error"]["code"] == code, event
    assert handle({"image_id": stage, "version": version, "options": "w_64,f_webp"}) == {"rendered": True}
    assert handle({"image_id": stage, "version": version, "options": "w_64,f_webp"}) == {"rendered": False}


def test_answering_through_the_render_function_loads_no_pillow():
    """The API function's process: the route's whole answer, with the render function invoked."""
    script = """
import io, json, sys
from chalicelib.config import load_settings
from chalicelib.ondemand import VariantService
from chalicelib.render import LambdaRenderer
from chalicelib import variants as v

class Store:
    def get(self, image_id):
        return {"image_id": image_id, "status": "COMPLETE", "source": {"width": 1600, "height": 1200,
                "etag": "e", "key": "k", "bytes": 1}}
class Storage:
    def output_exists(self, key): return False
    def presign_download(self, key, content_type, ttl): return "https://example.com/" + key
class Lambda:
    def invoke(self, **params):
        return {"StatusCode": 200, "Payload": io.BytesIO(b'{"rendered": true}')}

settings = load_settings({"INPUT_BUCKET": "i", "OUTPUT_BUCKET": "o", "STATUS_TABLE": "t"})
service = VariantService(settings, Storage(), Store(), lambda: b"k",
                         render=LambdaRenderer(Lambda(), "f").render)
image = "a" * 32
answer = service.answer(v.sign(b"k", image, "w_64"), image, "w_64", "image/webp")
assert answer.rendered, answer
print(json.dumps(sorted(m for m in sys.modules if m.startswith(("PIL.", "chalicelib.imaging", "chalicelib.pipeline")))))
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ["PIL._version"]  # find_spec("PIL._avif") loads the package, no more


def test_a_source_gone_during_a_render_is_a_conflict_not_a_crash(aws, stage):
    """The record still says COMPLETE but its source is gone (a re-upload or delete under way):
    the render answers `conflict` (409, ask again), not an internal error."""
    import boto3

    handle = app_module.get_renderer().handle
    record = app_module.get_status_store().get(stage)
    version = v.source_version(record["source"]["etag"])
    boto3.client("s3").delete_object(Bucket=app_module.get_settings().input_bucket, Key=record["source"]["key"])
    # 1500 px wide needs the source itself (no rendition has twice that): its read finds nothing.
    answer = handle({"image_id": stage, "version": version, "options": "w_1500,f_webp"})
    assert answer["error"]["code"] == "conflict"


def test_a_throttled_render_is_503_with_a_sentence(client, aws, stage, monkeypatch):
    """The render function's reserved concurrency is small (5 in dev): past it, the caller is told
    to try again (503), not given an internal error."""
    through(FakeLambda(throttled=True), monkeypatch)
    response = _get(client, stage, "w_64")
    assert response.status_code == 503
    error = json.loads(response.body)["error"]
    assert error["code"] == "busy" and "try again" in error["message"]
