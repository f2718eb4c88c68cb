"""On-demand variants end to end in moto: signed URLs from the API, the public /v/ route,
render once from the right base, one stored object for two first requests, delete."""

import json
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import app as app_module
from chalicelib import variants as v
from chalicelib.render import base_rendition
from tests import images
from tests.conftest import TEST_ENV

SECRET_NAME = "imgpipe/test/variants"
OUTPUT = TEST_ENV["OUTPUT_BUCKET"]


@pytest.fixture
def stage(aws, monkeypatch):
    """A stage with a variant secret and one COMPLETE 1600×1200 photo; yields its image id."""
    import boto3

    boto3.client("secretsmanager", region_name="us-east-1").create_secret(
        Name=SECRET_NAME, SecretString="s3cret-for-tests")
    monkeypatch.setenv("VARIANT_SECRET_ARN", SECRET_NAME)
    app_module.get_settings.cache_clear()
    aws.put("photo.jpg", images.jpeg(1600, 1200))
    outcome = app_module.get_pipeline().process_object("photo.jpg")
    assert outcome.result == "COMPLETE"
    return outcome.image_id


def _path(client, image_id: str, body: dict) -> str:
    response = client.http.post(f"/images/{image_id}/variants", body=json.dumps(body),
                                headers={"Content-Type": "application/json"})
    assert response.status_code == 201, response.body
    return urlsplit(json.loads(response.body)["url"]).path


def _get(client, path: str, accept: str = "image/webp,*/*"):
    return client.http.get(path, headers={"Accept": accept})


def _variant_keys(aws) -> list[str]:
    return [k for k in aws.output_keys() if k.startswith("variants/")]


def test_a_signed_url_renders_once_and_redirects_to_the_stored_object(client, aws, stage):
    path = _path(client, stage, {"width": 640, "format": "auto"})
    assert path.startswith("/v/") and path.endswith(f"/{stage}/w_640")
    first = _get(client, path)
    assert first.status_code == 302
    assert first.headers["X-Imgpipe-Variant"] == "rendered" and first.headers["Vary"] == "Accept"
    [key] = _variant_keys(aws)
    assert key.endswith("/w_640,f_webp.webp")
    location = first.headers["Location"]
    assert urlsplit(location).path.endswith("/" + key.replace(",", "%2C")) or key in location
    data, obj = aws.output(key)
    picture = images.decode(data)
    assert picture.size == (640, 480) and picture.format == "WEBP" and obj["ContentType"] == "image/webp"
    again = _get(client, path)
    assert again.status_code == 302 and again.headers["X-Imgpipe-Variant"] == "stored"
    assert app_module.get_variants().renders == 1
    # The explicit format is the same object: no second render.
    explicit = _get(client, _path(client, stage, {"width": 640, "format": "webp"}))
    assert explicit.headers["X-Imgpipe-Variant"] == "stored"
    assert _variant_keys(aws) == [key]


def test_auto_answers_per_accept(client, aws, stage):
    path = _path(client, stage, {"width": 320})
    _get(client, path, "image/webp,*/*")
    _get(client, path, "*/*")
    keys = _variant_keys(aws)
    assert [k.rsplit("/", 1)[1] for k in keys] == ["w_320,f_jpeg.jpg", "w_320,f_webp.webp"]
    assert images.decode(aws.output(keys[0])[0]).format == "JPEG"


def test_forged_truncated_and_replayed_signatures_get_403(client, aws, stage):
    path = _path(client, stage, {"width": 640})
    _, _, signature, image_id, _ = path.split("/")
    for bad in (
        f"/v/{signature}/{image_id}/w_641",  # replayed with other options
        f"/v/{signature[:-2]}/{image_id}/w_640",  # truncated
        f"/v/{'A' * 32}/{image_id}/w_640",  # forged
        f"/v/{v.sign(b'other stage', image_id, 'w_640')}/{image_id}/w_640",
    ):
        response = _get(client, bad)
        assert response.status_code == 403, bad
        assert json.loads(response.body)["error"]["code"] == "forbidden"
    assert _variant_keys(aws) == []


def test_bad_options_get_400_naming_the_canonical_spelling(client, stage):
    secret = b"s3cret-for-tests"
    for options, words in (("w_0640", "'w_640'"), ("f_webp,w_640", "'w_640,f_webp'"), ("w_9000", "8192"),
                           ("w_640,dpr_4", "dpr")):
        response = _get(client, f"/v/{v.sign(secret, stage, options)}/{stage}/{options}")
        assert response.status_code == 400
        assert words in json.loads(response.body)["error"]["message"]
    response = client.http.post(f"/images/{stage}/variants", body=json.dumps({"width": 0}),
                                headers={"Content-Type": "application/json"})
    assert response.status_code == 400


def test_over_the_pixel_limit_is_refused_once_the_free_side_is_known(client, stage, monkeypatch):
    monkeypatch.setenv("VARIANT_MAX_PIXELS", "1000000")
    app_module.get_settings.cache_clear(), app_module.get_variants.cache_clear()
    # 1500 wide → 1125 high on this 4:3 photo: 1.7 MP.
    response = _get(client, f"/v/{v.sign(b's3cret-for-tests', stage, 'w_1500')}/{stage}/w_1500")
    assert response.status_code == 400 and "at most 1000000" in json.loads(response.body)["error"]["message"]


def test_unknown_and_deleted_images_answer_404_on_every_variant_url(client, aws, stage):
    secret = b"s3cret-for-tests"
    unknown = "f" * 32
    assert _get(client, f"/v/{v.sign(secret, unknown, 'w_64')}/{unknown}/w_64").status_code == 404
    paths = [_path(client, stage, {"width": w}) for w in (64, 128)]
    for path in paths:
        assert _get(client, path).status_code == 302
    assert len(_variant_keys(aws)) == 2
    assert client.http.delete(f"/images/{stage}").status_code == 204
    assert _variant_keys(aws) == []
    for path in paths + [f"/v/{v.sign(secret, stage, 'w_32')}/{stage}/w_32"]:
        assert _get(client, path).status_code == 404


def test_two_first_requests_store_one_object(aws, stage):
    """Both requests find no variant (HEAD) before either has stored one: the conditional
    write lets the first store it and the second store nothing."""
    service = app_module.get_variants()
    storage = service.storage
    storage.output_exists = lambda key: False  # both HEADs ran before either PUT
    path = v.variant_path(b"s3cret-for-tests", stage, "w_200,f_png")
    signature = path.split("/")[2]
    first = service.answer(signature, stage, "w_200,f_png", None)
    stored, _ = aws.output(_variant_keys(aws)[0])
    second = service.answer(signature, stage, "w_200,f_png", None)
    assert first.rendered is True and second.rendered is False
    assert len(_variant_keys(aws)) == 1
    assert aws.output(_variant_keys(aws)[0])[0] == stored
    assert first.location.split("?")[0] == second.location.split("?")[0]


def test_renders_from_the_smallest_rendition_large_enough(aws, stage, monkeypatch):
    service = app_module.get_variants()
    record = app_module.get_status_store().get(stage)
    fit_names = app_module.get_renderer().fit_names  # the renderer's (chalicelib/render.py)
    # default is 800 wide, medium 1024; large (1600 = the source's size) is left out.
    assert base_rendition(record, fit_names, v.parse_options("w_320"))["key"] == "processed-photo.jpg"
    assert base_rendition(record, fit_names, v.parse_options("w_400"))["key"] == "processed-photo.jpg"
    assert base_rendition(record, fit_names, v.parse_options("w_450"))["key"].endswith("medium.jpg")
    assert base_rendition(record, fit_names, v.parse_options("w_640")) is None  # 1280 > 1024: the source
    cover = v.parse_options("w_300,h_100,fit_cover")  # scale 300/1600: needs 2 × 0.1875 × 1600 = 600
    assert base_rendition(record, fit_names, cover)["key"].endswith("processed-photo.jpg")
    reads = []
    monkeypatch.setattr(service.storage, "read_source", lambda *a: reads.append(a) or b"")
    redirect = service.answer(v.sign(b"s3cret-for-tests", stage, "w_320"), stage, "w_320", "image/webp")
    assert redirect.rendered and reads == []
    picture = images.decode(aws.output(_variant_keys(aws)[0])[0]).convert("RGB")
    assert picture.size == (320, 240)
    assert images.pixel_close(picture.getpixel((10, 10)), images.RED)


def test_a_cdn_stage_redirects_to_the_cdn(client, stage, monkeypatch):
    monkeypatch.setenv("CDN_DOMAIN", "d111111abcdef8.cloudfront.net")
    app_module.get_settings.cache_clear(), app_module.get_variants.cache_clear()
    path = _path(client, stage, {"width": 100, "format": "jpeg"})
    response = client.http.post(f"/images/{stage}/variants", body=json.dumps({"width": 100}),
                                headers={"Content-Type": "application/json"})
    assert json.loads(response.body)["url"].startswith("https://d111111abcdef8.cloudfront.net/v/")
    location = _get(client, path).headers["Location"]
    assert location.startswith(f"https://d111111abcdef8.cloudfront.net/variants/{stage}/")
    assert "w_100%2Cf_jpeg.jpg?v=" in location


def test_presets_and_the_signing_route(client, stage, monkeypatch):
    monkeypatch.setenv("VARIANT_PRESETS", "card=w_160,h_90,fit_cover")
    monkeypatch.setenv("VARIANT_STRICT", "true")
    app_module.get_settings.cache_clear(), app_module.get_variants.cache_clear()
    path = _path(client, stage, {"preset": "card"})
    assert path.endswith("/card")
    assert _get(client, path).status_code == 302
    for body, status in (({"width": 640}, 400), ({"preset": "nope"}, 400), ({"colour": 1}, 400), ([], 400)):
        response = client.http.post(f"/images/{stage}/variants", body=json.dumps(body),
                                    headers={"Content-Type": "application/json"})
        assert response.status_code == status, body
    assert client.http.post(f"/images/{'e' * 32}/variants", body=json.dumps({"preset": "card"}),
                            headers={"Content-Type": "application/json"}).status_code == 404


def test_a_stage_without_a_secret_has_no_variants(client, stage, monkeypatch):
    monkeypatch.delenv("VARIANT_SECRET_ARN")
    app_module.get_settings.cache_clear(), app_module.get_variants.cache_clear()
    response = _get(client, f"/v/{'A' * 32}/{stage}/w_64")
    assert response.status_code == 404
    assert "not enabled" in json.loads(response.body)["error"]["message"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(segment=st.text(alphabet="wfhqdprgitcovauj_0123456789.,-", min_size=1, max_size=40),
       signed=st.booleans())
def test_any_segment_signed_or_not_is_a_redirect_or_an_error_in_our_shape(client, stage, segment, signed):
    signature = v.sign(b"s3cret-for-tests", stage, segment) if signed else "A" * 32
    response = _get(client, f"/v/{signature}/{stage}/{segment}")
    assert response.status_code in ((302, 400) if signed else (403,)), (segment, response.body)
    if response.status_code != 302:
        assert set(json.loads(response.body)["error"]) == {"code", "message"}
